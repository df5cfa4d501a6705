// The reply box of a conversation: Enter sends, Shift+Enter makes a new line; the text is
// autosaved as the draft `reply:<conversation id>`; typing frames tell the visitor (not
// while writing a private note).

import { h } from 'preact';
import { useState, useEffect, useRef } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

const html = htm.bind(h);
const DRAFT_DELAY = 700;
const TYPING_IDLE = 4000;

export function Composer({ id, realtime, send, disabled }) {
  const [text, setText] = useState('');
  const [note, setNote] = useState(false);
  const [saved, setSaved] = useState('');
  const box = useRef();
  const draft = useRef({ timer: null, pending: null, chain: Promise.resolve() });
  const typing = useRef({ on: false, at: 0, timer: null });
  const key = `draft/reply:${id}`;

  const saveDraft = (body) => {
    clearTimeout(draft.current.timer);
    draft.current.pending = null;
    const done = () => setSaved(body ? 'Draft saved' : '');
    // One request at a time, so a slow save never lands after the delete that follows it.
    draft.current.chain = draft.current.chain
      .then(() => (body ? api.put(key, { body }) : api.del(key)))
      .then(done, () => setSaved(''));
  };
  const scheduleDraft = (body) => {
    clearTimeout(draft.current.timer);
    draft.current.pending = body;
    draft.current.timer = setTimeout(() => saveDraft(body), DRAFT_DELAY);
  };

  const setTyping = (on) => {
    const t = typing.current;
    clearTimeout(t.timer);
    if (on) t.timer = setTimeout(() => setTyping(false), TYPING_IDLE);
    // "true" again every 3 s keeps the visitor's indicator up; "false" once.
    if (on === t.on && (!on || Date.now() - t.at < 3000)) return;
    t.on = on;
    t.at = Date.now();
    realtime.send({ type: 'typing', conversation_id: id, typing: on });
  };

  useEffect(() => {
    let live = true;
    api.get(key).then((d) => live && d && d.body && setText((t) => t || d.body), () => {});
    box.current && box.current.focus({ preventScroll: true });
    return () => {
      live = false;
      // Leaving the conversation: the last keystrokes are saved, the visitor stops seeing "typing".
      if (draft.current.pending !== null) saveDraft(draft.current.pending);
      setTyping(false);
    };
  }, [id]);

  const submit = async (e) => {
    if (e) e.preventDefault();
    const body = text.trim();
    if (!body || disabled) return;
    const client_id = `op-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    setText('');
    setTyping(false);
    saveDraft('');
    const ok = await send({ body, private: note, client_id });
    if (ok && note) setNote(false);
  };

  const onKeyDown = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape') {
      // Back to the list, on this conversation's entry.
      const link = document.querySelector(`.conversations a[href="#/inbox/${id}"]`);
      if (link) link.focus();
    }
  };

  const onInput = (e) => {
    setText(e.target.value);
    scheduleDraft(e.target.value);
    if (!note) setTyping(e.target.value.length > 0);
  };

  return html`<form class=${`composer${note ? ' note' : ''}`} onSubmit=${submit}>
    <label for="reply-box" class="sr-only">${note ? 'Private note (only your team sees it)' : 'Reply'}</label>
    <textarea id="reply-box" ref=${box} rows="3" value=${text} onInput=${onInput} onKeyDown=${onKeyDown}
      placeholder=${note ? 'Private note: only your team sees it' : 'Reply… (Enter sends, Shift+Enter new line)'}
      aria-describedby="reply-hint"></textarea>
    <div class="composer-bar">
      <label class="toggle">
        <input type="checkbox" checked=${note} onChange=${(e) => {
          setNote(e.target.checked);
          if (e.target.checked) setTyping(false);
          box.current.focus();
        }} /> Private note
      </label>
      <span id="reply-hint" class="muted small">${saved || 'Enter sends · Shift+Enter new line · Esc back to the list'}</span>
      <button type="submit" class="primary" disabled=${disabled || !text.trim()}>${note ? 'Add note' : 'Send'}</button>
    </div>
  </form>`;
}
