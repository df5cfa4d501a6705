// Small pieces every screen uses: `html`, toasts, user names, relative times, the
// Performance API marks the browser test reads, and shared presence.

import { h } from 'preact';
import { useState, useEffect } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

// --- Toasts: errors in a role=alert region, the rest in a polite status region.

let toasts = [];
let nextToastId = 1;
const toastListeners = new Set();

function publishToasts() {
  for (const fn of toastListeners) fn(toasts);
}

export function dismissToast(id) {
  toasts = toasts.filter((t) => t.id !== id);
  publishToasts();
}

/** Shows `message` for a few seconds; `kind` is 'error' or 'info'. */
export function toast(message, kind = 'info') {
  const id = nextToastId++;
  toasts = [...toasts.slice(-4), { id, message, kind }];
  publishToasts();
  setTimeout(() => dismissToast(id), kind === 'error' ? 9000 : 4000);
}

export function Toasts() {
  const [list, setList] = useState(toasts);
  useEffect(() => {
    toastListeners.add(setList);
    return () => toastListeners.delete(setList);
  }, []);
  const item = (t) => html`<div class=${`toast ${t.kind}`} key=${t.id}>
    <span>${t.message}</span>
    <button type="button" class="link" aria-label="Dismiss" onClick=${() => dismissToast(t.id)}>×</button>
  </div>`;
  return html`<div class="toasts">
    <div role="alert" aria-live="assertive">${list.filter((t) => t.kind === 'error').map(item)}</div>
    <div role="status" aria-live="polite">${list.filter((t) => t.kind !== 'error').map(item)}</div>
  </div>`;
}

// --- Users of the organization, by id.

const usersById = new Map();
let myId = null;

export function setUsers(list, meId) {
  usersById.clear();
  for (const u of list || []) usersById.set(u.id, u);
  if (meId) myId = meId;
  // Screens name the viewers of the presence they hold; names that arrive after the
  // presence must rename them, or they stay "someone" until the presence changes.
  setPresence(presence);
}

export function fullName(user) {
  if (!user) return '';
  return user.display_name || [user.first_name, user.last_name].filter(Boolean).join(' ') || user.email || user.id;
}

/** A user's name; "you" for the signed-in user unless `plain`. */
export function userName(id, plain = false) {
  if (!id) return 'someone';
  if (id === myId && !plain) return 'you';
  const user = usersById.get(id);
  return user ? fullName(user) : 'someone';
}

export function allUsers() {
  return [...usersById.values()];
}

export function isMe(id) {
  return id === myId;
}

// --- Times.

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/** "just now", "5 minutes ago", "yesterday", then a date. */
export function ago(value) {
  if (!value) return '';
  const t = typeof value === 'number' ? value : Date.parse(value);
  if (Number.isNaN(t)) return String(value);
  const seconds = (Date.now() - t) / 1000;
  if (Math.abs(seconds) < 45) return 'just now';
  const minutes = seconds / 60;
  if (Math.abs(minutes) < 60) return relative.format(-Math.round(minutes), 'minute');
  const hours = minutes / 60;
  if (Math.abs(hours) < 24) return relative.format(-Math.round(hours), 'hour');
  const days = hours / 24;
  if (Math.abs(days) < 7) return relative.format(-Math.round(days), 'day');
  return dateOnly.format(t);
}

export function formatDateTime(value) {
  if (!value) return '';
  const t = Date.parse(value);
  return Number.isNaN(t) ? String(value) : dateTime.format(t);
}

export function formatDate(value) {
  if (!value) return '';
  // A date-only value is a calendar day, not midnight UTC.
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const [y, m, d] = value.split('-').map(Number);
    return dateOnly.format(new Date(y, m - 1, d));
  }
  const t = Date.parse(value);
  return Number.isNaN(t) ? String(value) : dateOnly.format(t);
}

/** Re-renders the caller every `ms` so that "2 minutes ago" stays true. */
export function useTick(ms = 30000) {
  const [n, setN] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setN((k) => k + 1), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return n;
}

// --- Performance marks (read by tests/browser/webapp.mjs).

export function mark(name, detail) {
  try {
    performance.mark(name, detail === undefined ? undefined : { detail });
  } catch {
    // Older browsers: no detail.
  }
}

const marked = new Set();
/** A mark made once per page load (first screen ready). */
export function markOnce(name) {
  if (marked.has(name)) return;
  marked.add(name);
  mark(name);
}

// --- Presence: who is online and which lead each one views (from the realtime socket).

let presence = [];
const presenceListeners = new Set();

/** A new list each time, so that screens keyed on it recompute. */
function setPresence(users) {
  presence = Array.isArray(users) ? [...users] : [];
  for (const fn of presenceListeners) fn(presence);
}

export function trackPresence(realtime) {
  realtime.on('hello', (data) => setPresence(data && data.presence && data.presence.users));
  realtime.on('presence', (data) => setPresence(data && data.users));
  realtime.on('disconnected', () => setPresence([]));
}

export function usePresence() {
  const [list, setList] = useState(presence);
  useEffect(() => {
    presenceListeners.add(setList);
    setList(presence);
    return () => presenceListeners.delete(setList);
  }, []);
  return list;
}

/** "Joe", "Joe and Ann", "Joe, Ann and 2 others". */
export function joinNames(names) {
  if (names.length <= 1) return names.join('');
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`;
}

/** The message of a failed request, with its field errors. */
export function errorText(e) {
  if (!e) return '';
  if (e.name === 'AbortError') return '';
  const fields = e.fieldErrors ? Object.entries(e.fieldErrors) : [];
  if (fields.length && !(e.body && e.body.error)) return fields.map(([f, m]) => `${f}: ${m}`).join('; ');
  return e.message || String(e);
}

export function navigate(hash) {
  if (location.hash !== hash) location.hash = hash;
}
