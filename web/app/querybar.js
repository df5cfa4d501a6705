// The search bar: an <input> over a coloured copy of its text (fields, operators,
// values, dates, keywords), suggestions from `/api/v1/query/complete` at the cursor (an
// ARIA combobox), and a query error underlined at its span with the server's hint.
// The server speaks in UTF-8 byte offsets; the input in UTF-16 indexes.

import { useState, useEffect, useRef, useLayoutEffect } from 'preact/hooks';
import { api, qs } from './api.js';
import { html } from './ui.js';

const encoder = new TextEncoder();

export function indexToByte(s, index) {
  return encoder.encode(s.slice(0, index)).length;
}

export function byteToIndex(s, byte) {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    if (bytes >= byte) return i;
    const c = s.codePointAt(i);
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (c >= 0x10000) i++;
  }
  return s.length;
}

const RELATED = new Set(['contact', 'call', 'email', 'note', 'sms', 'meeting', 'chat', 'opportunity', 'task']);
const DATE_WORD = /^(today|yesterday|never|now)$/i;
const DATE_ISO = /^\d{4}(-\d{2}(-\d{2}([t ][\d:.]+z?)?)?)?$/i;
const DATE_PHRASE = /^"?(\d+\s+(minute|hour|day|week|month|year)s?\s+ago|this (week|month|year)|last (week|month)|today|yesterday)"?$/i;
const NUMBER = /^-?\d+(\.\d+)?$/;

/** Tokens of a query with a class each, covering the whole text. */
export function highlight(s) {
  const tokens = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    let j = i + 1;
    let type;
    if (/\s/.test(c)) {
      while (j < s.length && /\s/.test(s[j])) j++;
      type = 'ws';
    } else if (c === '(' || c === ')') {
      type = 'paren';
    } else if (c === '"') {
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      j = Math.min(j + 1, s.length);
      type = 'string';
    } else if ('<>=!:'.includes(c)) {
      if (s[j] === '=') j++;
      type = 'op';
    } else {
      while (j < s.length && !/[\s()":<>=!]/.test(s[j])) j++;
      type = 'word';
    }
    tokens.push({ start: i, end: j, type, text: s.slice(i, j) });
    i = j;
  }
  // Classify words and strings by their neighbours.
  const solid = tokens.filter((t) => t.type !== 'ws');
  for (let k = 0; k < solid.length; k++) {
    const t = solid[k];
    const next = solid[k + 1];
    const prev = solid[k - 1];
    if (t.type === 'op') {
      t.cls = 'q-op';
    } else if (t.type === 'paren') {
      t.cls = 'q-paren';
    } else if (next && next.type === 'op') {
      t.cls = 'q-field';
    } else if (prev && prev.type === 'op') {
      const v = t.text;
      t.cls = DATE_WORD.test(v) || DATE_ISO.test(v) || DATE_PHRASE.test(v) ? 'q-date' : NUMBER.test(v) ? 'q-number' : 'q-value';
    } else if (t.type === 'word' && /^(and|or|not)$/i.test(t.text)) {
      t.cls = 'q-keyword';
    } else if (t.type === 'word' && next && next.type === 'paren' && next.start === t.end && RELATED.has(t.text.replace(/^-/, '').toLowerCase())) {
      t.cls = 'q-keyword';
    } else {
      t.cls = t.type === 'string' ? 'q-phrase' : 'q-text';
    }
  }
  return tokens;
}

/** Spans for the overlay; the error range gets its own class. */
function overlay(text, tokens, err) {
  const out = [];
  for (const t of tokens) {
    const cuts = [t.start, t.end];
    if (err) for (const x of [err.start, err.end]) if (x > t.start && x < t.end) cuts.push(x);
    cuts.sort((a, b) => a - b);
    for (let k = 0; k + 1 < cuts.length; k++) {
      const a = cuts[k];
      const b = cuts[k + 1];
      if (a === b) continue;
      const inErr = err && a >= err.start && b <= err.end && err.end > err.start;
      let cls = t.cls || '';
      if (inErr) cls += ' q-err';
      const neg = t.type === 'word' && t.cls !== 'q-op' && a === t.start && text[a] === '-' && b - a > 1;
      if (neg) {
        out.push(html`<span class="q-op">-</span>`);
        out.push(html`<span class=${cls}>${text.slice(a + 1, b)}</span>`);
      } else {
        out.push(html`<span class=${cls}>${text.slice(a, b)}</span>`);
      }
    }
  }
  // An error at a point (an unclosed quote at the end): a marker after the text.
  if (err && err.end <= err.start) out.push(html`<span class="q-err q-err-point"> </span>`);
  return out;
}

/**
 * `value`, `onChange(text)`, `onSubmit(text)`; `error`: `{message, hint, span: {start, end}}`
 * in UTF-16 indexes of `value`, or null.
 */
export function QueryBar({ value, onChange, onSubmit, error: latestError, busy }) {
  const inputRef = useRef();
  const hlRef = useRef();
  const [menu, setMenuState] = useState({ open: false, items: [], replace: null, active: -1 });
  // Keys can arrive faster than renders (a fast typist, a slow machine): every key reads and
  // writes the latest menu through this ref, never the one captured by the last render.
  const menuRef = useRef(menu);
  const setMenu = (next) => {
    menuRef.current = typeof next === 'function' ? next(menuRef.current) : next;
    setMenuState(menuRef.current);
  };
  const pendingCursor = useRef(null);
  const completeTimer = useRef(0);
  const completeAbort = useRef(null);
  const lastCompleted = useRef('');

  const tokens = highlight(value);

  // An error shows once typing pauses, not at every keystroke of a half-typed word.
  const [error, setShownError] = useState(latestError);
  useEffect(() => {
    if (!latestError) {
      setShownError(null);
      return;
    }
    const timer = setTimeout(() => setShownError(latestError), 350);
    return () => clearTimeout(timer);
  }, [latestError]);

  const syncScroll = () => {
    if (hlRef.current && inputRef.current) hlRef.current.scrollLeft = inputRef.current.scrollLeft;
  };
  useLayoutEffect(() => {
    if (pendingCursor.current !== null && inputRef.current) {
      inputRef.current.setSelectionRange(pendingCursor.current, pendingCursor.current);
      pendingCursor.current = null;
    }
    syncScroll();
  });

  const complete = (text, cursor, delay = 70) => {
    clearTimeout(completeTimer.current);
    completeTimer.current = setTimeout(async () => {
      const key = `${cursor}:${text}`;
      if (key === lastCompleted.current) return;
      lastCompleted.current = key;
      if (completeAbort.current) completeAbort.current.abort();
      const ctrl = new AbortController();
      completeAbort.current = ctrl;
      try {
        const answer = await api.get(`query/complete?${qs({ query: text, cursor: indexToByte(text, cursor) })}`, { signal: ctrl.signal });
        const input = inputRef.current;
        // An answer for text that has since changed is stale: the next answer replaces it.
        if (ctrl.signal.aborted || document.activeElement !== input || input.value !== text) return;
        const items = answer.suggestions || [];
        const [rs, re] = answer.replace || [cursor, cursor];
        // The same suggestions again (a cursor move) keep the highlighted one.
        const was = menuRef.current;
        const kept = was.open && was.active >= 0 ? items.findIndex((i) => i.text === was.items[was.active].text) : -1;
        setMenu({ open: items.length > 0, items, replace: [byteToIndex(text, rs), byteToIndex(text, re)], active: kept });
      } catch {
        // Suggestions are a help; a failed request leaves the menu closed.
      }
    }, delay);
  };

  const close = () => {
    clearTimeout(completeTimer.current);
    if (completeAbort.current) completeAbort.current.abort();
    lastCompleted.current = '';
    setMenu((m) => (m.open ? { ...m, open: false, active: -1 } : m));
  };

  useEffect(() => () => clearTimeout(completeTimer.current), []);

  const accept = (item) => {
    const [rs, re] = menuRef.current.replace;
    const value = inputRef.current.value;
    let insert = item.text;
    const after = value.slice(re);
    const continues = /[:(]$/.test(insert);
    if (!continues && !/^\s/.test(after)) insert += ' ';
    const next = value.slice(0, rs) + insert + after;
    const cursor = rs + insert.length;
    pendingCursor.current = cursor;
    setMenu({ open: false, items: [], replace: null, active: -1 });
    lastCompleted.current = '';
    onChange(next);
    complete(next, cursor, 0);
  };

  const onInput = (e) => {
    const text = e.target.value;
    onChange(text);
    complete(text, e.target.selectionStart);
    syncScroll();
  };

  const onKeyDown = (e) => {
    const menu = menuRef.current;
    const n = menu.items.length;
    if (e.key === ' ' && e.ctrlKey) {
      e.preventDefault();
      lastCompleted.current = '';
      complete(e.target.value, e.target.selectionStart, 0);
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      if (!menu.open) complete(e.target.value, e.target.selectionStart, 0);
      else setMenu({ ...menu, active: (menu.active + 1) % n });
    } else if (e.key === 'ArrowUp' && menu.open) {
      e.preventDefault();
      setMenu({ ...menu, active: menu.active <= 0 ? n - 1 : menu.active - 1 });
    } else if ((e.key === 'Enter' || e.key === 'Tab') && menu.open && menu.active >= 0) {
      e.preventDefault();
      accept(menu.items[menu.active]);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      close();
      onSubmit(e.target.value);
    } else if (e.key === 'Escape') {
      if (menu.open) {
        e.preventDefault();
        e.stopPropagation();
        close();
      } else {
        e.target.blur();
      }
    }
  };

  const onCursorMove = (e) => {
    syncScroll();
    if (e.type === 'click' || e.key === 'ArrowLeft' || e.key === 'ArrowRight' || e.key === 'Home' || e.key === 'End') {
      complete(e.target.value, e.target.selectionStart);
    }
  };

  const errId = 'query-error';
  const open = menu.open && menu.items.length > 0;
  return html`<div class="querybar" role="search">
    <label for="query-input" class="sr-only">Search leads (query language)</label>
    <div class=${`qb-field${error ? ' invalid' : ''}${busy ? ' busy' : ''}`}>
      <div class="qb-hl" ref=${hlRef} aria-hidden="true">${overlay(value, tokens, error && error.span)}</div>
      <input id="query-input" ref=${inputRef} class="qb-input" type="text" spellcheck="false" autocomplete="off"
        autocapitalize="off" placeholder='Search leads, e.g. status:Qualified called:never email_opened < "3 days ago"'
        role="combobox" aria-autocomplete="list" aria-expanded=${open ? 'true' : 'false'} aria-controls="query-suggestions"
        aria-activedescendant=${open && menu.active >= 0 ? `qs-${menu.active}` : undefined}
        aria-invalid=${error ? 'true' : 'false'} aria-describedby=${`${errId} query-help`}
        value=${value} onInput=${onInput} onKeyDown=${onKeyDown} onKeyUp=${onCursorMove} onClick=${onCursorMove}
        onScroll=${syncScroll} onBlur=${() => setTimeout(close, 120)} />
    </div>
    <ul id="query-suggestions" role="listbox" aria-label="Suggestions" class="qb-menu" hidden=${!open}>
      ${open && menu.items.map((item, k) => html`<li id=${`qs-${k}`} key=${item.text + k} role="option"
        aria-selected=${k === menu.active ? 'true' : 'false'} class=${k === menu.active ? 'active' : ''}
        onMouseDown=${(e) => { e.preventDefault(); accept(item); }}>
        <span class=${`qs-kind qs-${item.kind}`}>${item.kind.replace('_', ' ')}</span>
        <span class="qs-text">${item.text}</span>
        ${item.detail && html`<span class="qs-detail">${item.detail}</span>`}
      </li>`)}
    </ul>
    <p id="query-help" class="sr-only">Type to search; results update as you type. Arrow down shows suggestions.</p>
    <div id=${errId} class="qb-error" aria-live="polite">
      ${error && html`<strong>${error.message}</strong>${error.hint && html` <span class="qb-hint">${error.hint}</span>`}`}
    </div>
  </div>`;
}
