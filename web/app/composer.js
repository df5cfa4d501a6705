// The lead page's composer: a note, a call or an email. What is typed is saved as a
// draft (`/api/v1/draft/{note|call|email}:<lead id>`, ~600 ms after the last key), so it
// survives a reload and follows the user to their other devices; posting deletes it.

import { useState, useEffect, useRef } from 'preact/hooks';
import { api, ApiError } from './api.js';
import { html, toast, userName, ago, isMe, errorText } from './ui.js';

const SAVE_AFTER_MS = 600;
const RECENT_CALL_MS = 10 * 60 * 1000;

/** A draft kept on the server: `{ text, update(text), clear(), state }`. */
export function useDraft(key) {
  const [text, setText] = useState('');
  const [state, setState] = useState(''); // '' | 'saving' | 'saved' | 'error'
  const timer = useRef(0);
  const dirty = useRef(false); // typed since the last save
  const latest = useRef('');
  const path = `draft/${encodeURIComponent(key)}`;

  const save = async (value) => {
    clearTimeout(timer.current);
    timer.current = 0;
    setState('saving');
    try {
      if (value.trim()) await api.put(path, { body: value });
      else await api.del(path).catch((e) => { if (!(e instanceof ApiError && e.status === 404)) throw e; });
      if (latest.current === value) dirty.current = false;
      setState(value.trim() ? 'saved' : '');
    } catch {
      setState('error');
    }
  };

  const load = () =>
    api.get(path).then(
      (draft) => {
        if (dirty.current) return;
        latest.current = draft.body || '';
        setText(draft.body || '');
        setState(draft.body ? 'restored' : '');
      },
      () => {},
    );

  useEffect(() => {
    load();
    // Another device may have written the draft meanwhile.
    const onFocus = () => !dirty.current && document.visibilityState === 'visible' && load();
    addEventListener('focus', onFocus);
    document.addEventListener('visibilitychange', onFocus);
    return () => {
      removeEventListener('focus', onFocus);
      document.removeEventListener('visibilitychange', onFocus);
      if (timer.current) save(latest.current); // leaving the page: keep what was typed
    };
  }, [key]);

  const update = (value) => {
    dirty.current = true;
    latest.current = value;
    setText(value);
    setState('');
    clearTimeout(timer.current);
    timer.current = setTimeout(() => save(value), SAVE_AFTER_MS);
  };
  const clear = () => {
    clearTimeout(timer.current);
    timer.current = 0;
    dirty.current = false;
    latest.current = '';
    setText('');
    setState('');
    api.del(path).catch(() => {});
  };
  return { text, update, clear, state, restore: (value) => update(value) };
}

function DraftState({ state }) {
  const words = { saving: 'Saving draft…', saved: 'Draft saved', restored: 'Draft restored', error: 'Draft not saved (offline?)' };
  return html`<span class=${`draft-state ${state}`}>${words[state] || ''}</span>`;
}

function encodeEmail(subject, body) {
  return subject || body ? JSON.stringify({ subject, body }) : '';
}
function decodeEmail(text) {
  if (!text) return { subject: '', body: '' };
  try {
    const v = JSON.parse(text);
    return { subject: v.subject || '', body: v.body || '' };
  } catch {
    return { subject: '', body: text };
  }
}

/** The newest call on the lead logged by someone else in the last ten minutes. */
function recentCallByOther(list) {
  const now = Date.now();
  return list.find((a) => (a._type === 'Call' || !a._type) && a.user_id && !isMe(a.user_id) &&
    now - Date.parse(a.date_created || a.activity_at) < RECENT_CALL_MS);
}

export function Composer({ controlRef, me, leadId, tab, setTab, activities, write, onPosted, onFailed }) {
  const note = useDraft(`note:${leadId}`);
  const call = useDraft(`call:${leadId}`);
  const email = useDraft(`email:${leadId}`);
  const [callForm, setCallForm] = useState({ direction: 'outbound', status: 'completed', minutes: '' });
  const [emailDirection, setEmailDirection] = useState('outgoing');
  const [warning, setWarning] = useState(null); // a recent call by someone else, awaiting a choice
  const noteRef = useRef();
  const callRef = useRef();
  const emailRef = useRef();
  const warnRef = useRef();

  if (controlRef) {
    controlRef.current = {
      focus(which) {
        setTab(which);
        setTimeout(() => ({ note: noteRef, call: callRef, email: emailRef })[which].current?.focus(), 0);
      },
    };
  }

  useEffect(() => {
    if (warning && warnRef.current) warnRef.current.focus();
  }, [warning]);

  /** Shows `item` at once, then the stored activity; gives the text back on failure. */
  const post = async (path, body, item, draft, restoreText) => {
    const temp = { id: `tmp-${Date.now()}`, ...item, lead_id: leadId, user_id: me.id, pending: true, activity_at: new Date().toISOString() };
    onPosted(temp);
    draft.clear();
    try {
      const saved = await write(() => api.post(path, { lead_id: leadId, ...body }));
      onPosted(saved, temp.id);
      return true;
    } catch (e) {
      onFailed(temp.id);
      draft.restore(restoreText);
      toast(`Not saved: ${errorText(e)}`, 'error');
      return false;
    }
  };

  const submitNote = (e) => {
    e && e.preventDefault();
    const text = note.text.trim();
    if (!text) return;
    post('activity/note/', { note: text }, { _type: 'Note', note: text }, note, note.text);
  };

  const logCall = () => {
    setWarning(null);
    const minutes = Number(callForm.minutes || 0);
    const body = { direction: callForm.direction, status: callForm.status, duration: Math.round(minutes * 60), note: call.text.trim() };
    post('activity/call/', body, { _type: 'Call', ...body }, call, call.text);
    setCallForm({ ...callForm, minutes: '' });
  };

  const submitCall = async (e) => {
    e && e.preventDefault();
    // Someone else may have just called them: ask before logging a second call.
    let recent = recentCallByOther(activities);
    if (!recent) {
      try {
        const answer = await api.get(`activity/call/?lead_id=${encodeURIComponent(leadId)}&_limit=10`);
        recent = recentCallByOther(answer.data || []);
      } catch {
        // cannot check: log it
      }
    }
    if (recent) setWarning(recent);
    else logCall();
  };

  const { subject, body: emailBody } = decodeEmail(email.text);
  const submitEmail = (e) => {
    e && e.preventDefault();
    if (!subject.trim() && !emailBody.trim()) return;
    const body = {
      direction: emailDirection,
      subject: subject.trim(),
      body_text: emailBody,
      status: emailDirection === 'outgoing' ? 'sent' : 'inbox',
    };
    post('activity/email/', body, { _type: 'Email', ...body }, email, email.text);
  };

  const ctrlEnter = (submit) => (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      submit();
    }
  };

  const recent = tab === 'call' ? recentCallByOther(activities) : null;
  const tabs = [
    ['note', 'Note'],
    ['call', 'Log call'],
    ['email', 'Log email'],
  ];
  const onTabKey = (e) => {
    const i = tabs.findIndex(([k]) => k === tab);
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    e.preventDefault();
    const next = tabs[(i + step + tabs.length) % tabs.length][0];
    setTab(next);
    setTimeout(() => document.getElementById(`tab-${next}`)?.focus(), 0);
  };

  return html`<section class="composer card" aria-label="Add to the timeline">
    <div role="tablist" aria-label="What to add" onKeyDown=${onTabKey}>
      ${tabs.map(([k, label]) => html`<button type="button" role="tab" id=${`tab-${k}`} key=${k}
        aria-selected=${tab === k ? 'true' : 'false'} aria-controls=${`panel-${k}`} tabindex=${tab === k ? 0 : -1}
        onClick=${() => setTab(k)}>${label}${(k === 'note' ? note : k === 'call' ? call : email).text ? ' •' : ''}</button>`)}
    </div>

    <form id="panel-note" role="tabpanel" aria-labelledby="tab-note" hidden=${tab !== 'note'} onSubmit=${submitNote}>
      <label for="note-text" class="sr-only">Note</label>
      <textarea id="note-text" ref=${noteRef} rows="3" placeholder="Write a note… (Ctrl+Enter to add)" value=${note.text}
        onInput=${(e) => note.update(e.target.value)} onKeyDown=${ctrlEnter(submitNote)} />
      <div class="row"><${DraftState} state=${note.state} /><span class="spacer"></span>
        <button type="submit" class="primary" disabled=${!note.text.trim()}>Add note</button></div>
    </form>

    <form id="panel-call" role="tabpanel" aria-labelledby="tab-call" hidden=${tab !== 'call'} onSubmit=${submitCall}>
      ${recent && !warning && html`<p class="notice">${userName(recent.user_id)} logged a call on this lead ${ago(recent.date_created || recent.activity_at)}.</p>`}
      <div class="row">
        <label>Direction <select value=${callForm.direction} onChange=${(e) => setCallForm({ ...callForm, direction: e.target.value })}>
          <option value="outbound">Outbound</option><option value="inbound">Inbound</option></select></label>
        <label>Outcome <select value=${callForm.status} onChange=${(e) => setCallForm({ ...callForm, status: e.target.value })}>
          <option value="completed">Completed</option><option value="no-answer">No answer</option>
          <option value="busy">Busy</option><option value="voicemail">Voicemail</option></select></label>
        <label>Minutes <input type="number" min="0" step="0.5" class="narrow" value=${callForm.minutes}
          onInput=${(e) => setCallForm({ ...callForm, minutes: e.target.value })} /></label>
      </div>
      <label for="call-text" class="sr-only">Call notes</label>
      <textarea id="call-text" ref=${callRef} rows="3" placeholder="Call notes… (Ctrl+Enter to log)" value=${call.text}
        onInput=${(e) => call.update(e.target.value)} onKeyDown=${ctrlEnter(submitCall)} />
      ${warning && html`<div class="warning" role="alert">
        <p><strong>${userName(warning.user_id)}</strong> logged a call on this lead ${ago(warning.date_created || warning.activity_at)}. Log yours as well?</p>
        <button type="button" class="primary" ref=${warnRef} onClick=${logCall}>Log my call anyway</button>
        <button type="button" onClick=${() => setWarning(null)}>Cancel</button>
      </div>`}
      <div class="row"><${DraftState} state=${call.state} /><span class="spacer"></span>
        <button type="submit" class="primary" disabled=${!!warning}>Log call</button></div>
    </form>

    <form id="panel-email" role="tabpanel" aria-labelledby="tab-email" hidden=${tab !== 'email'} onSubmit=${submitEmail}>
      <div class="row">
        <label>Direction <select value=${emailDirection} onChange=${(e) => setEmailDirection(e.target.value)}>
          <option value="outgoing">Sent</option><option value="incoming">Received</option></select></label>
        <label class="grow">Subject <input ref=${emailRef} value=${subject}
          onInput=${(e) => email.update(encodeEmail(e.target.value, emailBody))} /></label>
      </div>
      <label for="email-text" class="sr-only">Email body</label>
      <textarea id="email-text" rows="5" placeholder="Email text… (Ctrl+Enter to log)" value=${emailBody}
        onInput=${(e) => email.update(encodeEmail(subject, e.target.value))} onKeyDown=${ctrlEnter(submitEmail)} />
      <div class="row"><${DraftState} state=${email.state} /><span class="spacer"></span>
        <button type="submit" class="primary" disabled=${!subject.trim() && !emailBody.trim()}>Log email</button></div>
    </form>
  </section>`;
}
