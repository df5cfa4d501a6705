// Building blocks of the settings screens: a list loaded from the API, a form that shows
// the server's field errors next to its fields, a copy button, and whether the signed-in
// user may change what a screen shows (an admin) or only read it (a member).

import { h, createContext } from 'preact';
import { useState, useEffect, useCallback, useContext } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

export const html = htm.bind(h);

/** The caller's role in the organization they are signed in to, from `GET /me/`. */
export function roleOf(me) {
  const org = me && (me.organizations || []).find((o) => o.id === me.organization_id);
  return (org && org.role) || (me && me.role) || 'member';
}
export const isAdmin = (me) => roleOf(me) === 'admin';

/** True where the screen's controls may change things (an admin's settings). */
export const CanManage = createContext(true);
export const useCanManage = () => useContext(CanManage);

/** `GET path` → `data`, with `reload`. */
export function useList(path) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  const reload = useCallback(
    () =>
      api.get(path).then(
        (r) => {
          setItems(r.data);
          setError('');
        },
        (e) => setError(e.message),
      ),
    [path],
  );
  useEffect(() => {
    setItems(null);
    reload();
  }, [reload]);
  return { items, error, reload, setItems };
}

/**
 * A form's state around one API call: `run(fn)` shows the server's field errors next to
 * the fields (`err(name)`) and any other failure in `alert()`, placed after the fields;
 * it answers what `fn` answered (true for nothing), or false when it failed.
 */
export function useForm() {
  const [state, setState] = useState({ busy: false, message: '', fields: {} });
  const shown = new Set();
  const run = async (fn) => {
    setState({ busy: true, message: '', fields: {} });
    try {
      const out = await fn();
      setState({ busy: false, message: '', fields: {} });
      // A 204 (a delete, a password set) answers no body: null, and still a success.
      return out === undefined || out === null ? true : out;
    } catch (e) {
      setState({ busy: false, message: e.message, fields: e.fieldErrors || {} });
      return false;
    }
  };
  const err = (name) => {
    const keys = Object.keys(state.fields).filter((k) => k === name || k.startsWith(`${name}.`) || k.startsWith(`${name}[`));
    keys.forEach((k) => shown.add(k));
    return keys.map((k) => state.fields[k]).join('; ');
  };
  const alert = () => {
    const rest = Object.entries(state.fields).filter(([k]) => !shown.has(k));
    const text = rest.length ? rest.map(([k, m]) => (k ? `${k}: ${m}` : m)).join('; ') : shown.size ? '' : state.message;
    return html`<p class="form-error" role="alert">${text}</p>`;
  };
  return { busy: state.busy, run, err, alert };
}

/** A labelled control with its error; `as` is input (default), textarea or select. */
export function Field({ id, label, error, hint, as = 'input', hideLabel, children, ...props }) {
  const described = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;
  const Tag = as;
  return html`<div class=${`field${error ? ' invalid' : ''}`}>
    <label for=${id} class=${hideLabel ? 'sr-only' : undefined}>${label}</label>
    <${Tag} id=${id} aria-invalid=${error ? 'true' : undefined} aria-describedby=${described} ...${props}>${children}<//>
    ${hint && html`<small id=${`${id}-hint`} class="hint">${hint}</small>`}
    ${error && html`<small id=${`${id}-error`} class="field-error">${error}</small>`}
  </div>`;
}

export function CopyButton({ text, label = 'Copy' }) {
  const [done, setDone] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Plain-HTTP pages have no clipboard API: the old way.
      const area = Object.assign(document.createElement('textarea'), { value: text });
      document.body.append(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    setDone('Copied');
    setTimeout(() => setDone(''), 2000);
  };
  return html`<button type="button" onClick=${copy}>${done || label}</button><span class="sr-only" role="status">${done}</span>`;
}

export const lines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);
export const userName = (u) => u.display_name || [u.first_name, u.last_name].filter(Boolean).join(' ') || u.email;

/** One row that renames an object (`label` or `name`) in place and deletes it. */
export function RenameRow({ path, item, field = 'label', what, onChange, children }) {
  const can = useCanManage();
  const [value, setValue] = useState(item[field]);
  const form = useForm();
  useEffect(() => setValue(item[field]), [item[field]]);
  if (!can) return html`<li class="row"><span>${item[field]}</span>${children}</li>`;
  const save = (e) => {
    e.preventDefault();
    form.run(() => api.put(`${path}${item.id}`, { [field]: value.trim() })).then((ok) => ok && onChange());
  };
  const remove = () => {
    if (!confirm(`Delete the ${what} "${item[field]}"?`)) return;
    form.run(() => api.del(`${path}${item.id}`)).then((ok) => ok && onChange());
  };
  const id = `rename-${item.id}`;
  return html`<li class="row">
    <form class="inline" onSubmit=${save}>
      <${Field} id=${id} label=${`Name of ${what} ${item[field]}`} value=${value} onInput=${(e) => setValue(e.target.value)}
        error=${form.err(field)} hideLabel />
      ${children}
      <button type="submit" disabled=${form.busy || value.trim() === item[field]}>Rename</button>
      <button type="button" class="danger" disabled=${form.busy} onClick=${remove}>Delete</button>
    </form>
    ${form.alert()}
  </li>`;
}

/** A one-field form that adds an object (none where the user may not change things). */
export function AddForm({ path, field = 'label', label, button, extra = {}, onAdded, children }) {
  const can = useCanManage();
  const [value, setValue] = useState('');
  const form = useForm();
  if (!can) return null;
  const id = `add-${path.replace(/\W/g, '-')}`;
  const add = (e) => {
    e.preventDefault();
    form.run(() => api.post(path, { [field]: value.trim(), ...extra })).then((ok) => {
      if (!ok) return;
      setValue('');
      onAdded();
    });
  };
  return html`<form class="inline add" onSubmit=${add}>
    <${Field} id=${id} label=${label} value=${value} onInput=${(e) => setValue(e.target.value)} error=${form.err(field)} />
    ${children}
    <button type="submit" class="primary" disabled=${form.busy || !value.trim()}>${button}</button>
    ${form.alert()}
  </form>`;
}

/** A screen's body once its lists are loaded; `data-ready` tells tests (and nothing else). */
export function Loaded({ screen, lists, children }) {
  const failed = lists.find((l) => l.error);
  if (failed) return html`<p class="form-error" role="alert">${failed.error}</p>`;
  if (lists.some((l) => l.items === null)) return html`<p class="muted" role="status">Loading…</p>`;
  return html`<div data-screen=${screen} data-ready>${children}</div>`;
}
