// A value edited in place: a button showing the value; click or Enter edits it, Enter
// (Ctrl+Enter in a text area) or leaving the field saves, Esc cancels. The caller saves
// optimistically and rolls back on refusal.

import { useState, useRef, useLayoutEffect } from 'preact/hooks';
import { html } from './ui.js';

let nextId = 1;

/**
 * `label`, `value` (a string as the input holds it), `display` (optional, what the button
 * shows), `kind`: text | url | email | tel | textarea | number | date | datetime-local |
 * select (with `options: [{value, label}]`), `onSave(text)`.
 */
export function Editable({ label, value, display, kind = 'text', options, onSave, placeholder, className, startEditing, onCancel }) {
  const [editing, setEditing] = useState(!!startEditing);
  const [draft, setDraft] = useState(value ?? '');
  const draftRef = useRef(value ?? '');
  const done = useRef(false);
  const refocus = useRef(false);
  const buttonRef = useRef();
  const inputRef = useRef();
  const idRef = useRef(`ed-${nextId++}`);

  useLayoutEffect(() => {
    if (editing && inputRef.current) {
      inputRef.current.focus();
      if (inputRef.current.select && kind !== 'select') inputRef.current.select();
    } else if (!editing && refocus.current && buttonRef.current) {
      refocus.current = false;
      buttonRef.current.focus();
    }
  }, [editing]);

  const start = () => {
    draftRef.current = value ?? '';
    setDraft(value ?? '');
    done.current = false;
    setEditing(true);
  };
  const finish = (save, byKeyboard) => {
    if (done.current) return;
    done.current = true;
    refocus.current = byKeyboard;
    setEditing(false);
    const text = kind === 'textarea' ? draftRef.current : String(draftRef.current).trim();
    if (save && text !== String(value ?? '')) onSave(text);
    else if (!save && onCancel) onCancel();
  };
  const set = (v) => {
    draftRef.current = v;
    setDraft(v);
  };

  if (!editing) {
    const shown = display ?? value;
    const empty = shown === '' || shown === null || shown === undefined;
    return html`<button type="button" ref=${buttonRef} class=${`editable ${className || ''}`} onClick=${start}
      aria-label=${`Edit ${label}: ${empty ? 'empty' : typeof shown === 'string' ? shown : value}`}>
      ${empty ? html`<span class="placeholder">${placeholder || `Add ${label.toLowerCase()}`}</span>` : shown}
    </button>`;
  }

  const onKeyDown = (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      finish(false, true);
    } else if (e.key === 'Enter' && (kind !== 'textarea' || e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      finish(true, true);
    }
  };
  const common = {
    id: idRef.current,
    ref: inputRef,
    class: `edit-input ${className || ''}`,
    'aria-label': label,
    onKeyDown,
    onBlur: () => finish(true, false),
  };
  if (kind === 'select') {
    return html`<select ...${common} value=${draft} onChange=${(e) => { set(e.target.value); finish(true, true); }}>
      ${options.map((o) => html`<option key=${o.value} value=${o.value}>${o.label}</option>`)}
    </select>`;
  }
  if (kind === 'textarea') {
    return html`<textarea ...${common} rows="4" value=${draft} onInput=${(e) => set(e.target.value)} />`;
  }
  return html`<input ...${common} type=${kind} value=${draft} onInput=${(e) => set(e.target.value)} />`;
}
