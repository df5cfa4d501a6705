// The leads table's columns: the built-in ones and one per lead custom field, each with
// the fields it needs from the API, how a cell reads and the query field it sorts by.

import { html, userName, ago, formatDate, formatDateTime } from './ui.js';

export const DEFAULT_COLUMNS = ['display_name', 'status_label', 'contacts', 'date_updated'];
export const COLUMNS_KEY = 'rapport.columns';

const firstContact = (lead, pick) => {
  for (const c of lead.contacts || []) {
    const v = pick(c);
    if (v) return v;
  }
  return '';
};

/** The built-in columns: label, fields to ask for, and how a cell reads. */
const BUILT_IN = {
  display_name: { label: 'Name', fields: ['display_name'], sort: 'name' },
  status_label: { label: 'Status', fields: ['status_label'], sort: 'status', cell: (l) => l.status_label || '' },
  contacts: {
    label: 'Contacts',
    fields: ['contacts'],
    sort: 'contacts',
    cell: (l) => {
      const names = (l.contacts || []).map((c) => c.name || c.display_name).filter(Boolean);
      return names.length > 2 ? `${names.slice(0, 2).join(', ')} +${names.length - 2}` : names.join(', ');
    },
  },
  email: { label: 'Email', fields: ['contacts'], cell: (l) => firstContact(l, (c) => c.emails && c.emails[0] && c.emails[0].email) },
  phone: { label: 'Phone', fields: ['contacts'], cell: (l) => firstContact(l, (c) => c.phones && c.phones[0] && (c.phones[0].phone_formatted || c.phones[0].phone)) },
  url: { label: 'Website', fields: ['url'], sort: 'url', cell: (l) => (l.url || '').replace(/^https?:\/\//, '') },
  description: { label: 'Description', fields: ['description'], sort: 'description', cell: (l) => l.description || '' },
  city: {
    label: 'City',
    fields: ['addresses'],
    cell: (l) => ((l.addresses || [])[0] || {}).city || '',
  },
  date_created: { label: 'Created', fields: ['date_created'], sort: 'created', cell: (l) => formatDate(l.date_created), title: (l) => formatDateTime(l.date_created) },
  date_updated: { label: 'Updated', fields: ['date_updated'], sort: 'updated', cell: (l) => ago(l.date_updated), title: (l) => formatDateTime(l.date_updated) },
};

function customCell(id, type) {
  return (l) => {
    const v = l[`custom.${id}`];
    if (v === null || v === undefined) return '';
    if (Array.isArray(v)) return v.map((x) => (type === 'user' ? userName(x, true) : x)).join(', ');
    if (type === 'user') return userName(v, true);
    if (type === 'date') return formatDate(v);
    if (type === 'datetime') return formatDateTime(v);
    return String(v);
  };
}

export function columnDefs(leadFields) {
  const defs = { ...BUILT_IN };
  for (const f of leadFields) {
    const sort = f.accepts_multiple_values ? undefined : `custom.${f.id}`;
    defs[`custom.${f.id}`] = { label: f.name, fields: [`custom.${f.id}`], sort, cell: customCell(f.id, f.type) };
  }
  return defs;
}

export function savedColumns() {
  try {
    const list = JSON.parse(localStorage.getItem(COLUMNS_KEY));
    return Array.isArray(list) && list.length ? list : DEFAULT_COLUMNS;
  } catch {
    return DEFAULT_COLUMNS;
  }
}


export function ColumnPicker({ defs, shown, onChange }) {
  const toggle = (key, on) => {
    const next = on ? [...shown, key] : shown.filter((c) => c !== key);
    onChange(next);
  };
  return html`<details class="columns">
    <summary>Columns</summary>
    <fieldset>
      <legend class="sr-only">Columns to show</legend>
      ${Object.entries(defs).map(([key, def]) => html`<label key=${key}>
        <input type="checkbox" checked=${shown.includes(key)} disabled=${key === 'display_name'}
          onChange=${(e) => toggle(key, e.target.checked)} /> ${def.label}
      </label>`)}
    </fieldset>
  </details>`;
}
