// "New lead": a company with its first contact, created through the API, then its page.

import { useState, useEffect, useRef } from 'preact/hooks';
import { api } from './api.js';
import { html, errorText, navigate } from './ui.js';
import { meta } from './meta.js';

/** "New lead": a company with its first contact, then its page. */
export function NewLead() {
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({});
  const [statuses, setStatuses] = useState([]);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const firstRef = useRef();
  useEffect(() => {
    if (!open) return;
    meta('leadStatuses').then(setStatuses, () => {});
    if (firstRef.current) firstRef.current.focus();
  }, [open]);
  if (!open) {
    return html`<button type="button" class="primary" onClick=${() => { setForm({}); setError(''); setOpen(true); }}>New lead</button>`;
  }
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const body = { name: (form.name || '').trim() };
    if (form.status_id) body.status_id = form.status_id;
    if (form.url) body.url = form.url.trim();
    const contact = {};
    if (form.contact) contact.name = form.contact.trim();
    if (form.email) contact.emails = [{ email: form.email.trim(), type: 'office' }];
    if (form.phone) contact.phones = [{ phone: form.phone.trim(), type: 'office' }];
    if (Object.keys(contact).length) body.contacts = [contact];
    setBusy(true);
    try {
      const lead = await api.post('lead/', body);
      setOpen(false);
      navigate(`#/lead/${lead.id}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="new-lead-backdrop" onClick=${(e) => e.target === e.currentTarget && setOpen(false)}>
    <form class="card new-lead" onSubmit=${submit} aria-labelledby="new-lead-title"
      onKeyDown=${(e) => { if (e.key === 'Escape') { e.stopPropagation(); setOpen(false); } }}>
      <h2 id="new-lead-title">New lead</h2>
      <label>Company <input ref=${firstRef} required value=${form.name || ''} onInput=${set('name')} /></label>
      <label>Website <input type="url" placeholder="https://" value=${form.url || ''} onInput=${set('url')} /></label>
      <label>Status <select value=${form.status_id || ''} onChange=${set('status_id')}>
        <option value="">Default</option>
        ${statuses.map((st) => html`<option key=${st.id} value=${st.id}>${st.label}</option>`)}
      </select></label>
      <fieldset><legend>First contact (optional)</legend>
        <label>Name <input value=${form.contact || ''} onInput=${set('contact')} /></label>
        <label>Email <input type="email" value=${form.email || ''} onInput=${set('email')} /></label>
        <label>Phone <input type="tel" value=${form.phone || ''} onInput=${set('phone')} /></label>
      </fieldset>
      <p class="form-error" role="alert">${error}</p>
      <div class="row"><span class="spacer"></span>
        <button type="button" onClick=${() => setOpen(false)}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>Create lead</button></div>
    </form>
  </div>`;
}
