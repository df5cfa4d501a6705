// Smart Views: the sidebar list (mine, then shared with me) and the active view's
// actions (save changes, share, rename, save as new, delete with the server's refusal).

import { useState, useEffect, useRef } from 'preact/hooks';
import { html, userName } from './ui.js';
import { qs } from './api.js';

/** The hash of the leads screen showing a view and/or a query. */
export function leadsHash(viewId, query, page = 0) {
  const params = qs({ view: viewId || undefined, query: query || undefined, page: page > 0 ? page + 1 : undefined });
  return `#/leads${params ? `?${params}` : ''}`;
}

export function ViewsSidebar({ views, activeId, me }) {
  const mine = (views || []).filter((v) => v.user_id === me.id);
  const shared = (views || []).filter((v) => v.user_id !== me.id);
  const item = (v) => html`<li key=${v.id}>
    <a href=${leadsHash(v.id, '')} aria-current=${v.id === activeId ? 'page' : undefined} title=${v.query}>
      <span class="view-name">${v.name}</span>
      ${v.is_shared && html`<span class="badge" title="Shared with the organization">shared</span>`}
    </a>
  </li>`;
  return html`<aside class="views" aria-label="Smart Views">
    <h2>Smart Views</h2>
    <ul>
      <li><a href="#/leads" aria-current=${!activeId ? 'page' : undefined}>All leads</a></li>
      ${mine.map(item)}
    </ul>
    ${shared.length > 0 && html`<h3>Shared with me</h3><ul>${shared.map(item)}</ul>`}
    ${views === null && html`<p class="muted">Loading…</p>`}
  </aside>`;
}

export function ViewActions({ view, me, dirty, query, shown, onUpdate, onCreate, onDelete }) {
  const [mode, setMode] = useState(null); // 'save' | 'rename'
  const [name, setName] = useState('');
  const [shareNew, setShareNew] = useState(false);
  const inputRef = useRef();
  useEffect(() => {
    setMode(null);
  }, [view && view.id]);
  useEffect(() => {
    if (mode && inputRef.current) inputRef.current.focus();
  }, [mode]);

  if (mode) {
    const submit = async (e) => {
      e.preventDefault();
      const text = name.trim();
      if (!text) return;
      const ok = mode === 'rename' ? await onUpdate(view, { name: text }, 'Renamed.') : await onCreate(text, shareNew);
      if (ok) setMode(null);
    };
    return html`<form class="view-form" onSubmit=${submit} onKeyDown=${(e) => e.key === 'Escape' && setMode(null)}>
      <label for="view-name">${mode === 'rename' ? 'New name' : 'Smart View name'}</label>
      <input id="view-name" ref=${inputRef} value=${name} onInput=${(e) => setName(e.target.value)} required maxlength="500" />
      ${mode === 'save' && html`<label class="check"><input type="checkbox" checked=${shareNew} onChange=${(e) => setShareNew(e.target.checked)} /> Share with the organization</label>`}
      <button class="primary" type="submit">${mode === 'rename' ? 'Rename' : 'Save'}</button>
      <button type="button" onClick=${() => setMode(null)}>Cancel</button>
    </form>`;
  }
  const saveNew = html`<button type="button" onClick=${() => { setName(''); setShareNew(false); setMode('save'); }}>
    ${view ? 'Save as new view' : 'Save as Smart View'}</button>`;
  if (!view) return html`<div class="view-actions">${saveNew}</div>`;
  const own = view.user_id === me.id;
  if (!own) {
    return html`<div class="view-actions"><span class="muted">Shared by ${userName(view.user_id)}</span>${saveNew}</div>`;
  }
  return html`<div class="view-actions">
    ${dirty && html`<button type="button" class="primary" onClick=${() => onUpdate(view, { query, selected_fields: shown }, 'Smart View saved.')}>Save changes</button>`}
    <label class="check"><input type="checkbox" checked=${!!view.is_shared}
      onChange=${(e) => onUpdate(view, { is_shared: e.target.checked }, e.target.checked ? 'Shared with the organization.' : 'Now private.')} /> Shared</label>
    <button type="button" onClick=${() => { setName(view.name); setMode('rename'); }}>Rename</button>
    ${saveNew}
    <button type="button" class="danger" onClick=${() => onDelete(view)}>Delete</button>
  </div>`;
}
