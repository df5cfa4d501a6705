// The lead page: its fields, addresses, custom fields and contacts edited in place
// (optimistically, rolled back with a message when the API refuses), the activity
// timeline with the note / call / email composer (drafts autosaved), opportunities and
// tasks. Other users' changes arrive through the realtime socket and are marked with
// their name; who else views the lead shows at the top.

import { useState, useEffect, useRef, useMemo } from 'preact/hooks';
import { api, qs, ApiError } from './api.js';
import { html, toast, userName, ago, formatDate, formatDateTime, usePresence, isMe, useTick, joinNames, errorText, allUsers, fullName } from './ui.js';
import { useKeys } from './keyboard.js';
import { Editable } from './editable.js';
import { Composer } from './composer.js';
import { meta } from './meta.js';

const TIMELINE_PAGE = 50;

export default function Lead({ id, me, realtime }) {
  const [lead, setLead] = useState(null);
  const [missing, setMissing] = useState(null); // why the lead cannot be shown
  const [activities, setActivities] = useState(null);
  const [activitiesMore, setActivitiesMore] = useState(false);
  const [opps, setOpps] = useState([]);
  const [tasks, setTasks] = useState([]);
  const [statuses, setStatuses] = useState([]);
  const [oppStatuses, setOppStatuses] = useState([]);
  const [fields, setFields] = useState([]);
  const [lastChange, setLastChange] = useState(null); // {user_id, at, fields}
  const [flash, setFlash] = useState([]);
  const [fresh, setFresh] = useState({}); // activity id -> user id of who added it
  const [tab, setTab] = useState('note');
  const pending = useRef(0);
  const composerRef = useRef();
  useTick(20000);

  const loadLead = () =>
    api.get(`lead/${id}`).then(setLead, (e) => {
      if (e instanceof ApiError && e.status === 404) setMissing('This lead does not exist, or it was deleted.');
      else setMissing(errorText(e));
    });
  const loadActivities = (limit = Math.max(TIMELINE_PAGE, activities ? activities.length : 0)) =>
    api.get(`activity/?${qs({ lead_id: id, _limit: Math.min(limit, 200) })}`).then(
      (answer) => {
        setActivities(answer.data || []);
        setActivitiesMore(!!answer.has_more);
        return answer.data || [];
      },
      (e) => toast(`The timeline could not be loaded: ${errorText(e)}`, 'error'),
    );
  const loadOpps = () => api.get(`opportunity/?${qs({ lead_id: id, _limit: 100 })}`).then((a) => setOpps(a.data || []), () => {});
  const loadTasks = () => api.get(`task/?${qs({ lead_id: id, _limit: 100 })}`).then((a) => setTasks(a.data || []), () => {});

  useEffect(() => {
    loadLead();
    loadActivities(TIMELINE_PAGE);
    loadOpps();
    loadTasks();
    meta('leadStatuses').then(setStatuses, () => {});
    meta('opportunityStatuses').then(setOppStatuses, () => {});
    meta('leadFields').then(setFields, () => {});
    realtime.view(id);
    return () => realtime.view(null);
  }, [id]);

  useEffect(() => {
    if (lead) document.title = `${lead.display_name || lead.name} · Rapport`;
    return () => {
      document.title = 'Rapport';
    };
  }, [lead && lead.display_name]);

  // Real time: changes to this lead and what hangs on it.
  const activitiesRef = useRef(activities);
  activitiesRef.current = activities;
  useEffect(() => {
    const timers = {};
    const later = (key, fn, ms = 60) => {
      clearTimeout(timers[key]);
      timers[key] = setTimeout(fn, ms);
    };
    const offEvent = realtime.on('event', (ev) => {
      if (!ev) return;
      const type = ev.object_type || '';
      const onThisLead = type === 'lead' ? ev.object_id === id : ev.lead_id === id;
      if (!onThisLead) return;
      const other = !isMe(ev.user_id);
      // Our own write is applied from its answer; its echo only matters from another tab.
      if (!other && pending.current > 0) return;
      if (type === 'lead') {
        if (ev.action === 'deleted') {
          setMissing(`This lead was deleted by ${userName(ev.user_id)}.`);
          return;
        }
        later('lead', loadLead);
        if (other) markChange(ev.user_id, ev.changed_fields || []);
      } else if (type === 'contact') {
        later('lead', loadLead);
        if (other) markChange(ev.user_id, ['contacts']);
      } else if (type.startsWith('activity.') || type === 'conversation') {
        later('activities', () => loadActivities());
        if (other && ev.action === 'created') setFresh((f) => ({ ...f, [ev.object_id]: ev.user_id }));
      } else if (type === 'opportunity') {
        later('opps', loadOpps);
        if (other) markChange(ev.user_id, ['opportunities']);
      } else if (type.startsWith('task')) {
        later('tasks', loadTasks);
        if (other) markChange(ev.user_id, ['tasks']);
      }
    });
    const offResync = realtime.on('resync', () => {
      loadLead();
      loadActivities();
      loadOpps();
      loadTasks();
    });
    return () => {
      offEvent();
      offResync();
      Object.values(timers).forEach(clearTimeout);
    };
  }, [id]);

  const markChange = (userId, changed) => {
    setLastChange({ user_id: userId, at: Date.now(), fields: changed });
    setFlash(changed);
    setTimeout(() => setFlash([]), 4000);
  };

  /** Writes `patch` to the lead: shown at once, rolled back if the API refuses it. */
  const saveLead = async (patch, what, optimistic = patch) => {
    const keys = Object.keys(optimistic);
    let before = null;
    setLead((l) => {
      before = {};
      for (const k of keys) before[k] = l[k];
      return { ...l, ...optimistic };
    });
    pending.current++;
    try {
      const saved = await api.put(`lead/${id}`, patch);
      setLead((l) => ({ ...saved, contacts: saved.contacts || l.contacts }));
    } catch (e) {
      setLead((l) => ({ ...l, ...before }));
      toast(`${what} was not saved: ${errorText(e)}`, 'error');
    } finally {
      pending.current--;
    }
  };

  const saveContact = async (contact, patch, what) => {
    setLead((l) => ({ ...l, contacts: l.contacts.map((c) => (c.id === contact.id ? { ...c, ...patch } : c)) }));
    pending.current++;
    try {
      const saved = await api.put(`contact/${contact.id}`, patch);
      setLead((l) => ({ ...l, contacts: l.contacts.map((c) => (c.id === contact.id ? saved : c)) }));
    } catch (e) {
      setLead((l) => ({ ...l, contacts: l.contacts.map((c) => (c.id === contact.id ? contact : c)) }));
      toast(`${what} was not saved: ${errorText(e)}`, 'error');
    } finally {
      pending.current--;
    }
  };

  const deleteLead = async () => {
    if (!confirm(`Delete ${lead.display_name || lead.name} with its contacts and activities?`)) return;
    try {
      await write(() => api.del(`lead/${id}`));
      toast(`Deleted ${lead.display_name || lead.name}.`);
      location.hash = sessionStorage.getItem('rapport.leadsHash') || '#/leads';
    } catch (e) {
      toast(`The lead was not deleted: ${errorText(e)}`, 'error');
    }
  };

  const write = async (fn) => {
    pending.current++;
    try {
      return await fn();
    } finally {
      pending.current--;
    }
  };

  useKeys({
    n: () => composerRef.current && composerRef.current.focus('note'),
    c: () => composerRef.current && composerRef.current.focus('call'),
    e: () => document.querySelector('.lead-name .editable')?.click(),
  });

  const presence = usePresence();
  const viewers = useMemo(() => {
    const names = new Set();
    for (const p of presence) if (p.viewing === id && !isMe(p.user_id)) names.add(userName(p.user_id));
    return [...names];
  }, [presence, id]);

  if (missing) {
    return html`<div class="screen-error" role="alert"><h1>Lead unavailable</h1><p>${missing}</p><p><a href="#/leads">Back to leads</a></p></div>`;
  }
  if (!lead) return html`<p class="loading" role="status">Loading the lead…</p>`;

  const fl = (name) => (flash.includes(name) ? 'flash' : '');
  const statusOptions = statuses.map((s) => ({ value: s.id, label: s.label }));

  return html`<article class="lead-page" aria-labelledby="lead-title">
    <header class="lead-header">
      <p class="crumbs"><a href=${sessionStorage.getItem('rapport.leadsHash') || '#/leads'}>← Leads</a></p>
      <h1 id="lead-title" class=${`lead-name ${fl('name')}`}>
        <${Editable} label="Lead name" value=${lead.name || ''} onSave=${(v) => saveLead({ name: v }, 'The name')} />
      </h1>
      <div class="lead-meta">
        <label class="status-select">
          <span class="sr-only">Status</span>
          <select class=${fl('status_id')} value=${lead.status_id || ''} aria-label="Lead status"
            onChange=${(e) => {
              const s = statuses.find((x) => x.id === e.target.value);
              saveLead({ status_id: e.target.value }, 'The status', { status_id: e.target.value, status_label: s ? s.label : '' });
            }}>
            ${!lead.status_id && html`<option value="">No status</option>`}
            ${statusOptions.length ? statusOptions.map((o) => html`<option key=${o.value} value=${o.value}>${o.label}</option>`) : html`<option value=${lead.status_id}>${lead.status_label}</option>`}
          </select>
        </label>
        <span class="muted" title=${formatDateTime(lead.date_updated)}>Updated ${ago(lead.date_updated)}${lead.updated_by ? ` by ${userName(lead.updated_by)}` : ''}</span>
        <span class="muted" title=${formatDateTime(lead.date_created)}>· Created ${formatDate(lead.date_created)}${lead.created_by ? ` by ${userName(lead.created_by)}` : ''}</span>
        <span class="spacer"></span>
        <button type="button" class="link danger small" onClick=${deleteLead}>Delete lead</button>
      </div>
      <div class="live-lines">
        <p class="presence" role="status" aria-live="polite">${viewers.length ? `${joinNames(viewers)} ${viewers.length === 1 ? 'is' : 'are'} viewing` : ''}</p>
        <p class="last-change" role="status" aria-live="polite">${lastChange ? `Updated by ${userName(lastChange.user_id)} ${ago(lastChange.at)}${lastChange.fields.length ? ` · ${lastChange.fields.map(fieldLabel(fields)).join(', ')}` : ''}` : ''}</p>
      </div>
    </header>

    <div class="lead-columns">
      <section class="lead-details" aria-label="Details">
        <h2>Details</h2>
        <dl class="fields">
          <dt>Website</dt>
          <dd class=${fl('url')}>
            <${Editable} label="Website" kind="url" value=${lead.url || ''} onSave=${(v) => saveLead({ url: v || null }, 'The website')} />
            ${lead.url && html`<a class="open-link" href=${lead.url} target="_blank" rel="noopener noreferrer" aria-label="Open the website in a new tab">↗</a>`}
          </dd>
          <dt>Description</dt>
          <dd class=${fl('description')}>
            <${Editable} label="Description" kind="textarea" className="multiline" value=${lead.description || ''} onSave=${(v) => saveLead({ description: v }, 'The description')} />
          </dd>
          <dt>Addresses</dt>
          <dd class=${fl('addresses')}><${Addresses} addresses=${lead.addresses || []} onSave=${(list) => saveLead({ addresses: list }, 'The addresses')} /></dd>
          ${fields.map((f) => html`<${CustomField} key=${f.id} field=${f} lead=${lead} flash=${fl(`custom.${f.id}`)} onSave=${saveLead} />`)}
        </dl>
        <${Contacts} lead=${lead} flash=${fl('contacts')} onSaveContact=${saveContact} write=${write} reload=${loadLead} />
      </section>

      <section class="lead-activity" aria-label="Activity">
        <${Composer} controlRef=${composerRef} leadId=${id} me=${me} tab=${tab} setTab=${setTab} activities=${activities || []} write=${write}
          onPosted=${(item, replaces) => setActivities((list) => [item, ...(list || []).filter((a) => a.id !== item.id && a.id !== replaces)])}
          onFailed=${(tempId) => setActivities((list) => (list || []).filter((a) => a.id !== tempId))} />
        <${Timeline} items=${activities} fresh=${fresh} more=${activitiesMore} onMore=${() => loadActivities((activities || []).length + TIMELINE_PAGE)} />
      </section>

      <aside class="lead-side" aria-label="Opportunities and tasks">
        <${Opportunities} leadId=${id} opps=${opps} setOpps=${setOpps} statuses=${oppStatuses} write=${write} flash=${fl('opportunities')} />
        <${Tasks} leadId=${id} tasks=${tasks} setTasks=${setTasks} write=${write} flash=${fl('tasks')} />
      </aside>
    </div>
  </article>`;
}

const FIELD_LABELS = { name: 'name', status_id: 'status', url: 'website', description: 'description', addresses: 'addresses', contacts: 'contacts' };
function fieldLabel(fields) {
  return (f) => {
    if (FIELD_LABELS[f]) return FIELD_LABELS[f];
    if (f.startsWith('custom.')) {
      const def = fields.find((x) => `custom.${x.id}` === f);
      return def ? def.name : f;
    }
    return f.replace(/_/g, ' ');
  };
}

// --- Custom fields

function CustomField({ field, lead, flash, onSave }) {
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

function Addresses({ addresses, onSave }) {
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

function Contacts({ lead, flash, onSaveContact, write, reload }) {
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

// --- Timeline

const TYPE_LABELS = { Note: 'Note', Call: 'Call', Email: 'Email', SMS: 'SMS', Sms: 'SMS', Meeting: 'Meeting', LeadStatusChange: 'Status', Chat: 'Chat' };
const FILTERS = [
  ['', 'Everything'],
  ['Note', 'Notes'],
  ['Call', 'Calls'],
  ['Email', 'Emails'],
  ['SMS', 'SMS'],
  ['Meeting', 'Meetings'],
  ['Chat', 'Chats'],
  ['LeadStatusChange', 'Status changes'],
];

function Timeline({ items, fresh, more, onMore }) {
  const [filter, setFilter] = useState('');
  if (items === null) return html`<p class="loading" role="status">Loading the timeline…</p>`;
  const shown = filter ? items.filter((a) => (a._type === 'Sms' ? 'SMS' : a._type) === filter) : items;
  return html`<section class="timeline" aria-labelledby="timeline-title">
    <div class="section-head">
      <h2 id="timeline-title">Timeline</h2>
      <label class="inline">Show
        <select value=${filter} onChange=${(e) => setFilter(e.target.value)}>
          ${FILTERS.map(([v, l]) => html`<option key=${v} value=${v}>${l}</option>`)}
        </select>
      </label>
    </div>
    ${!shown.length && html`<p class="empty">Nothing here yet.</p>`}
    <ol class="timeline-list">
      ${shown.map((a) => html`<${TimelineItem} key=${a.id} item=${a} freshBy=${fresh[a.id]} />`)}
    </ol>
    ${more && !filter && html`<button type="button" class="link" onClick=${onMore}>Show older activity</button>`}
  </section>`;
}

function duration(seconds) {
  if (!seconds) return '';
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m ? `${m} min${s ? ` ${s} s` : ''}` : `${s} s`;
}

function TimelineItem({ item, freshBy }) {
  const type = item._type === 'Sms' ? 'SMS' : item._type;
  const when = item.activity_at || item.date_created;
  const who = item.user_id ? userName(item.user_id) : item.visitor_name || '';
  let title = TYPE_LABELS[type] || type;
  let body = null;
  if (type === 'Note') {
    body = item.note;
  } else if (type === 'Call') {
    title = `${item.direction === 'inbound' ? 'Inbound' : 'Outbound'} call`;
    const bits = [duration(item.duration), item.status, item.phone].filter(Boolean).join(' · ');
    body = html`${bits && html`<p class="muted">${bits}</p>`}${item.note && html`<p>${item.note}</p>`}`;
  } else if (type === 'Email') {
    title = `${item.direction === 'incoming' ? 'Email received' : 'Email sent'}${item.status === 'draft' ? ' (draft)' : ''}`;
    const opens = (item.opens || []).length;
    body = html`<p class="subject">${item.subject || '(no subject)'}</p>
      ${(item.to || []).length > 0 && html`<p class="muted small">To ${item.to.join(', ')}</p>`}
      ${item.body_text && html`<p class="email-body">${item.body_text}</p>`}
      ${opens > 0 && html`<p class="muted small">Opened ${opens} time${opens === 1 ? '' : 's'}</p>`}`;
  } else if (type === 'SMS') {
    title = item.direction === 'inbound' ? 'SMS received' : 'SMS sent';
    body = item.text;
  } else if (type === 'Meeting') {
    title = 'Meeting';
    body = html`<p class="subject">${item.title || ''}</p>
      <p class="muted small">${formatDateTime(item.starts_at)}${item.ends_at ? ` – ${formatDateTime(item.ends_at)}` : ''}${item.location ? ` · ${item.location}` : ''}</p>
      ${item.note && html`<p>${item.note}</p>`}`;
  } else if (type === 'LeadStatusChange') {
    title = 'Status changed';
    body = html`<p>${item.old_status_label || 'none'} → <strong>${item.new_status_label || 'none'}</strong></p>`;
  } else if (type === 'Chat') {
    title = 'Chat';
    body = html`<p>${item.visitor_name ? `With ${item.visitor_name}` : 'Website chat'}${item.status ? ` · ${item.status}` : ''}
      ${item.id ? html` · <a href=${`#/inbox/${item.id}`}>Open in the inbox</a>` : ''}</p>`;
  }
  const label = `${title}${who ? ` by ${who}` : ''}, ${ago(when)}`;
  return html`<li class=${`tl-item tl-${type}${freshBy ? ' fresh' : ''}${item.pending ? ' pending' : ''}`}>
    <article data-nav tabindex="-1" aria-label=${label}>
      <header>
        <span class=${`tl-type t-${type}`}>${title}</span>
        ${who && html`<span class="tl-who">${who}</span>`}
        <time datetime=${when} title=${formatDateTime(when)}>${ago(when)}</time>
        ${item.pending && html`<span class="muted small">saving…</span>`}
        ${freshBy && html`<span class="fresh-by">new · by ${userName(freshBy)}</span>`}
      </header>
      ${typeof body === 'string' ? html`<p class="tl-body">${body}</p>` : body}
    </article>
  </li>`;
}

// --- Opportunities

function money(cents, currency) {
  if (cents === null || cents === undefined) return '';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'USD', maximumFractionDigits: 0 }).format(cents / 100);
  } catch {
    return (cents / 100).toFixed(2);
  }
}

const PERIODS = { one_time: '', monthly: ' / month', annual: ' / year' };

function Opportunities({ leadId, opps, setOpps, statuses, write, flash }) {
  const [adding, setAdding] = useState(false);
  const update = async (o, patch, optimistic = patch) => {
    setOpps((list) => list.map((x) => (x.id === o.id ? { ...x, ...optimistic } : x)));
    try {
      const saved = await write(() => api.put(`opportunity/${o.id}`, patch));
      setOpps((list) => list.map((x) => (x.id === o.id ? saved : x)));
    } catch (e) {
      setOpps((list) => list.map((x) => (x.id === o.id ? o : x)));
      toast(`The opportunity was not saved: ${errorText(e)}`, 'error');
    }
  };
  return html`<section class=${`opps ${flash}`} aria-labelledby="opps-title">
    <div class="section-head">
      <h2 id="opps-title">Opportunities</h2>
      ${!adding && html`<button type="button" class="link" onClick=${() => setAdding(true)}>+ Add</button>`}
    </div>
    ${adding && html`<${NewOpportunity} leadId=${leadId} statuses=${statuses} write=${write}
      onDone=${(saved) => { setAdding(false); if (saved) setOpps((list) => [saved, ...list.filter((x) => x.id !== saved.id)]); }} />`}
    ${!opps.length && !adding && html`<p class="empty">No opportunities.</p>`}
    <ul class="opp-list">
      ${opps.map((o) => html`<li key=${o.id} class=${`opp st-${o.status_type}`}>
        <div class="row">
          <${Editable} label="Value" kind="number" className="opp-value" value=${o.value == null ? '' : String(o.value / 100)}
            display=${o.value == null ? '' : `${money(o.value, o.value_currency)}${PERIODS[o.value_period] || ''}`}
            onSave=${(v) => update(o, { value: v === '' ? null : Math.round(Number(v) * 100) })} />
          <select aria-label="Opportunity status" value=${o.status_id}
            onChange=${(e) => {
              const s = statuses.find((x) => x.id === e.target.value);
              update(o, { status_id: e.target.value }, { status_id: e.target.value, status_label: s && s.label, status_type: s && s.status_type });
            }}>
            ${(statuses.length ? statuses : [{ id: o.status_id, label: o.status_label }]).map((s) => html`<option key=${s.id} value=${s.id}>${s.label}</option>`)}
          </select>
        </div>
        <p class="muted small">${o.confidence != null ? `${o.confidence}% · ` : ''}${o.close_date ? `closes ${formatDate(o.close_date)} · ` : ''}${userName(o.user_id)}</p>
        ${o.note && html`<p class="small">${o.note}</p>`}
      </li>`)}
    </ul>
  </section>`;
}

function NewOpportunity({ leadId, statuses, write, onDone }) {
  const active = statuses.find((s) => s.status_type === 'active') || statuses[0];
  const [form, setForm] = useState({ status_id: active ? active.id : '', value: '', value_period: 'one_time', confidence: '', close_date: '', note: '' });
  const [error, setError] = useState('');
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const body = { lead_id: leadId, status_id: form.status_id || undefined, value_period: form.value_period };
    if (form.value !== '') body.value = Math.round(Number(form.value) * 100);
    if (form.confidence !== '') body.confidence = Number(form.confidence);
    if (form.close_date) body.close_date = form.close_date;
    if (form.note.trim()) body.note = form.note.trim();
    try {
      onDone(await write(() => api.post('opportunity/', body)));
    } catch (err) {
      setError(errorText(err));
    }
  };
  return html`<form class="stack card-inset" onSubmit=${submit} onKeyDown=${(e) => e.key === 'Escape' && onDone(null)}>
    <label>Status <select value=${form.status_id} onChange=${set('status_id')}>
      ${statuses.map((s) => html`<option key=${s.id} value=${s.id}>${s.label}</option>`)}</select></label>
    <div class="row">
      <label>Value <input type="number" min="0" step="0.01" value=${form.value} onInput=${set('value')} autofocus /></label>
      <label>Period <select value=${form.value_period} onChange=${set('value_period')}>
        <option value="one_time">One time</option><option value="monthly">Monthly</option><option value="annual">Annual</option></select></label>
    </div>
    <div class="row">
      <label>Confidence % <input type="number" min="0" max="100" value=${form.confidence} onInput=${set('confidence')} /></label>
      <label>Close date <input type="date" value=${form.close_date} onInput=${set('close_date')} /></label>
    </div>
    <label>Note <input value=${form.note} onInput=${set('note')} /></label>
    <p class="form-error" role="alert">${error}</p>
    <div class="row"><span class="spacer"></span>
      <button type="button" onClick=${() => onDone(null)}>Cancel</button>
      <button type="submit" class="primary">Add opportunity</button></div>
  </form>`;
}

// --- Tasks

function Tasks({ leadId, tasks, setTasks, write, flash }) {
  const [text, setText] = useState('');
  const [due, setDue] = useState('');
  const [showDone, setShowDone] = useState(false);
  const [justDone, setJustDone] = useState(() => new Set()); // stay in place until the page reloads
  const toggle = async (t, done) => {
    if (done) setJustDone((s) => new Set(s).add(t.id));
    setTasks((list) => list.map((x) => (x.id === t.id ? { ...x, is_complete: done } : x)));
    try {
      const saved = await write(() => api.put(`task/${t.id}`, { is_complete: done }));
      setTasks((list) => list.map((x) => (x.id === t.id ? saved : x)));
    } catch (e) {
      setTasks((list) => list.map((x) => (x.id === t.id ? t : x)));
      toast(`The task was not updated: ${errorText(e)}`, 'error');
    }
  };
  const add = async (e) => {
    e.preventDefault();
    const body = { lead_id: leadId, text: text.trim() };
    if (!body.text) return;
    if (due) body.date = due;
    const temp = { id: `tmp-${Date.now()}`, ...body, is_complete: false, pending: true };
    setTasks((list) => [temp, ...list]);
    setText('');
    setDue('');
    try {
      const saved = await write(() => api.post('task/', body));
      setTasks((list) => [saved, ...list.filter((x) => x.id !== temp.id && x.id !== saved.id)]);
    } catch (err) {
      setTasks((list) => list.filter((x) => x.id !== temp.id));
      setText(body.text);
      toast(`The task was not added: ${errorText(err)}`, 'error');
    }
  };
  const open = tasks.filter((t) => !t.is_complete || justDone.has(t.id));
  const done = tasks.filter((t) => t.is_complete && !justDone.has(t.id));
  const item = (t) => html`<li key=${t.id} class=${`task${t.is_complete ? ' done' : ''}${t.pending ? ' pending' : ''}`}>
    <label>
      <input type="checkbox" checked=${!!t.is_complete} disabled=${t.pending} onChange=${(e) => toggle(t, e.target.checked)} />
      <span>${t.text}</span>
    </label>
    <span class="muted small">${t.date ? `due ${formatDate(t.date)}` : ''}${t.assigned_to && !isMe(t.assigned_to) ? ` · ${userName(t.assigned_to)}` : ''}</span>
  </li>`;
  return html`<section class=${`tasks ${flash}`} aria-labelledby="tasks-title">
    <h2 id="tasks-title">Tasks <span class="muted">${tasks.filter((t) => !t.is_complete).length || ''}</span></h2>
    <form class="task-form" onSubmit=${add}>
      <label class="sr-only" for="task-text">New task</label>
      <input id="task-text" placeholder="New task…" value=${text} onInput=${(e) => setText(e.target.value)} />
      <label class="sr-only" for="task-due">Due date</label>
      <input id="task-due" type="date" value=${due} onInput=${(e) => setDue(e.target.value)} />
      <button type="submit" class="primary" disabled=${!text.trim()}>Add</button>
    </form>
    ${!tasks.length && html`<p class="empty">No tasks.</p>`}
    <ul class="task-list">${open.map(item)}</ul>
    ${done.length > 0 && html`<button type="button" class="link small" aria-expanded=${showDone ? 'true' : 'false'} onClick=${() => setShowDone(!showDone)}>
      ${showDone ? 'Hide' : 'Show'} ${done.length} done</button>`}
    ${showDone && html`<ul class="task-list">${done.map(item)}</ul>`}
  </section>`;
}
