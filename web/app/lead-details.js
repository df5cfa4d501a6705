// The lead page's details: custom fields by type, addresses and contacts, each edited
// in place (the lead page saves optimistically and rolls back on refusal).

import { useState, useEffect, useRef } from 'preact/hooks';
import { api } from './api.js';
import { html, toast, userName, formatDate, formatDateTime, errorText, allUsers, fullName } from './ui.js';
import { Editable } from './editable.js';


export function CustomField({ field, lead, flash, onSave }) {
  const key = `custom.${field.id}`;
  const raw = lead[key];
  const label = field.name;
  const save = (value) => onSave({ [key]: value }, label);
  const multiple = field.accepts_multiple_values;
  let editor;
  if (multiple) {
    const list = Array.isArray(raw) ? raw : raw == null ? [] : [raw];
    const shown = list.map((v) => (field.type === 'user' ? userName(v, true) : v)).join(', ');
    editor = html`<${Editable} label=${label} value=${list.join(', ')} display=${shown}
      onSave=${(v) => save(v ? v.split(',').map((x) => x.trim()).filter(Boolean).map((x) => (field.type === 'number' ? Number(x) : x)) : null)} />`;
  } else if (field.type === 'choices' || field.type === 'user') {
    const options = [{ value: '', label: '—' }].concat(
      field.type === 'user'
        ? allUsers().map((u) => ({ value: u.id, label: fullName(u) }))
        : (field.choices || []).map((c) => ({ value: c, label: c })),
    );
    editor = html`<${Editable} label=${label} kind="select" options=${options} value=${raw ?? ''}
      display=${field.type === 'user' ? (raw ? userName(raw, true) : '') : raw ?? ''} onSave=${(v) => save(v || null)} />`;
  } else if (field.type === 'number') {
    editor = html`<${Editable} label=${label} kind="number" value=${raw ?? ''} onSave=${(v) => save(v === '' ? null : Number(v))} />`;
  } else if (field.type === 'date') {
    editor = html`<${Editable} label=${label} kind="date" value=${raw ?? ''} display=${formatDate(raw)} onSave=${(v) => save(v || null)} />`;
  } else if (field.type === 'datetime') {
    const local = raw ? toLocalInput(raw) : '';
    editor = html`<${Editable} label=${label} kind="datetime-local" value=${local} display=${formatDateTime(raw)}
      onSave=${(v) => save(v ? new Date(v).toISOString() : null)} />`;
  } else {
    editor = html`<${Editable} label=${label} value=${raw ?? ''} onSave=${(v) => save(v || null)} />`;
  }
  return html`<dt>${label}</dt><dd class=${flash}>${editor}</dd>`;
}

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// --- Addresses

const ADDRESS_PARTS = [
  ['address_1', 'Street'],
  ['address_2', 'Street (line 2)'],
  ['city', 'City'],
  ['state', 'State'],
  ['zipcode', 'Postal code'],
  ['country', 'Country'],
];

function formatAddress(a) {
  return [a.address_1, a.address_2, [a.zipcode, a.city].filter(Boolean).join(' '), a.state, a.country].filter(Boolean).join(', ');
}

export function Addresses({ addresses, onSave }) {
  const [editing, setEditing] = useState(null);
  const formRef = useRef();
  useEffect(() => {
    if (editing && formRef.current) formRef.current.querySelector('input')?.focus();
  }, [!!editing]);
  if (!editing) {
    return html`<div class="addresses">
      ${addresses.length ? html`<ul>${addresses.map((a, i) => html`<li key=${i}>${a.label ? html`<span class="muted">${a.label}: </span>` : ''}${formatAddress(a)}</li>`)}</ul>` : ''}
      <button type="button" class=${addresses.length ? 'link' : 'editable'} onClick=${() => setEditing(addresses.length ? addresses.map((a) => ({ ...a })) : [{}])}>
        ${addresses.length ? 'Edit addresses' : html`<span class="placeholder">Add an address</span>`}
      </button>
    </div>`;
  }
  const set = (i, part, value) => setEditing((list) => list.map((a, j) => (j === i ? { ...a, [part]: value } : a)));
  const submit = (e) => {
    e.preventDefault();
    const clean = editing
      .map((a) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== '' && v != null)))
      .filter((a) => ADDRESS_PARTS.some(([p]) => a[p]));
    setEditing(null);
    onSave(clean);
  };
  return html`<form ref=${formRef} class="address-form" onSubmit=${submit} onKeyDown=${(e) => { if (e.key === 'Escape') { e.stopPropagation(); setEditing(null); } }}>
    ${editing.map((a, i) => html`<fieldset key=${i}>
      <legend>Address ${i + 1}</legend>
      ${ADDRESS_PARTS.map(([part, label]) => html`<label key=${part}>${label}
        <input value=${a[part] || ''} onInput=${(e) => set(i, part, e.target.value)} /></label>`)}
      <button type="button" class="link danger" onClick=${() => setEditing((list) => list.filter((_, j) => j !== i))}>Remove this address</button>
    </fieldset>`)}
    <div class="row">
      <button type="button" class="link" onClick=${() => setEditing((list) => [...list, {}])}>+ Another address</button>
      <span class="spacer"></span>
      <button type="button" onClick=${() => setEditing(null)}>Cancel</button>
      <button type="submit" class="primary">Save</button>
    </div>
  </form>`;
}

// --- Contacts

export function Contacts({ lead, flash, onSaveContact, write, reload }) {
  const [adding, setAdding] = useState(false);
  return html`<section class=${`contacts ${flash}`} aria-labelledby="contacts-title">
    <div class="section-head">
      <h2 id="contacts-title">Contacts <span class="muted">${(lead.contacts || []).length || ''}</span></h2>
      ${!adding && html`<button type="button" class="link" onClick=${() => setAdding(true)}>+ Add contact</button>`}
    </div>
    ${adding && html`<${NewContact} leadId=${lead.id} write=${write} onDone=${(ok) => { setAdding(false); if (ok) reload(); }} />`}
    <ul class="contact-list">
      ${(lead.contacts || []).map((c) => html`<li key=${c.id}><${ContactCard} contact=${c} onSave=${onSaveContact} write=${write} reload=${reload} /></li>`)}
    </ul>
  </section>`;
}

function ContactCard({ contact, onSave, write, reload }) {
  const name = contact.name || contact.display_name || '';
  const saveList = (field, key, index, value) => {
    const list = (contact[field] || []).map((x) => ({ ...x }));
    if (index === list.length) {
      if (value) list.push({ [key]: value, type: 'office' });
    } else if (value) list[index] = { ...list[index], [key]: value };
    else list.splice(index, 1);
    onSave(contact, { [field]: list }, `The ${key} of ${name || 'the contact'}`);
  };
  const remove = async () => {
    if (!confirm(`Delete the contact ${name || '(no name)'}?`)) return;
    try {
      await write(() => api.del(`contact/${contact.id}`));
      reload();
    } catch (e) {
      toast(`Could not delete the contact: ${errorText(e)}`, 'error');
    }
  };
  const list = (field, key, label, kind) => html`<ul class="values" aria-label=${`${label}s of ${name}`}>
    ${(contact[field] || []).map((item, i) => html`<li key=${`${i}:${item[key]}`}>
      <${Editable} label=${`${label} of ${name}`} kind=${kind} value=${item[key] || ''} display=${item[`${key}_formatted`] || item[key]}
        onSave=${(v) => saveList(field, key, i, v)} />
      ${item.type && html`<span class="muted small">${item.type}</span>`}
      <a class="open-link" href=${`${kind === 'email' ? 'mailto' : 'tel'}:${item[key]}`} aria-label=${`${kind === 'email' ? 'Email' : 'Call'} ${item[key]}`}>${kind === 'email' ? '✉' : '☎'}</a>
    </li>`)}
    <li><${Editable} key=${(contact[field] || []).length} label=${`New ${label.toLowerCase()} for ${name}`} kind=${kind} value="" placeholder=${`+ ${label.toLowerCase()}`}
      onSave=${(v) => saveList(field, key, (contact[field] || []).length, v)} /></li>
  </ul>`;
  return html`<div class="contact">
    <div class="contact-head">
      <${Editable} label="Contact name" className="contact-name" value=${name} onSave=${(v) => onSave(contact, { name: v }, 'The contact name')} />
      <button type="button" class="link danger small" onClick=${remove} aria-label=${`Delete contact ${name}`}>Delete</button>
    </div>
    <${Editable} label=${`Title of ${name}`} className="contact-title" value=${contact.title || ''} placeholder="Add title" onSave=${(v) => onSave(contact, { title: v }, 'The title')} />
    ${list('emails', 'email', 'Email', 'email')}
    ${list('phones', 'phone', 'Phone', 'tel')}
  </div>`;
}

function NewContact({ leadId, write, onDone }) {
  const [form, setForm] = useState({ name: '', title: '', email: '', phone: '' });
  const [error, setError] = useState('');
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const body = { lead_id: leadId, name: form.name.trim(), title: form.title.trim() || undefined };
    if (form.email.trim()) body.emails = [{ email: form.email.trim(), type: 'office' }];
    if (form.phone.trim()) body.phones = [{ phone: form.phone.trim(), type: 'office' }];
    try {
      await write(() => api.post('contact/', body));
      onDone(true);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return html`<form class="stack card-inset" onSubmit=${submit} onKeyDown=${(e) => e.key === 'Escape' && onDone(false)}>
    <label>Name <input value=${form.name} onInput=${set('name')} required autofocus /></label>
    <label>Title <input value=${form.title} onInput=${set('title')} /></label>
    <label>Email <input type="email" value=${form.email} onInput=${set('email')} /></label>
    <label>Phone <input type="tel" value=${form.phone} onInput=${set('phone')} /></label>
    <p class="form-error" role="alert">${error}</p>
    <div class="row"><span class="spacer"></span>
      <button type="button" onClick=${() => onDone(false)}>Cancel</button>
      <button type="submit" class="primary">Add contact</button></div>
  </form>`;
}
