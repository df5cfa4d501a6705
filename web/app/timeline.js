// The lead's timeline: notes, calls, emails, SMS, meetings, chats and status changes,
// newest first, filterable by kind; items added by others are marked with their name.

import { useState } from 'preact/hooks';
import { html, userName, ago, formatDateTime } from './ui.js';
import { Editable } from './editable.js';

/** The API path of an activity kind that can be changed (status changes and chats cannot). */
export const ACTIVITY_PATHS = { Note: 'note', Call: 'call', Email: 'email', SMS: 'sms', Sms: 'sms', Meeting: 'meeting' };

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

export function Timeline({ items, fresh, more, onMore, onEdit, onDelete }) {
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
      ${shown.map((a) => html`<${TimelineItem} key=${a.id} item=${a} freshBy=${fresh[a.id]} onEdit=${onEdit} onDelete=${onDelete} />`)}
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

function TimelineItem({ item, freshBy, onEdit, onDelete }) {
  const type = item._type === 'Sms' ? 'SMS' : item._type;
  const when = item.activity_at || item.date_created;
  const who = item.user_id ? userName(item.user_id) : item.visitor_name || '';
  let title = TYPE_LABELS[type] || type;
  let body = null;
  if (type === 'Note') {
    body = item.pending
      ? item.note
      : html`<${Editable} label="Note" kind="textarea" className="tl-body multiline" value=${item.note || ''} onSave=${(v) => v.trim() && onEdit(item, { note: v })} />`;
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
        ${ACTIVITY_PATHS[item._type] && !item.pending && html`<button type="button" class="link danger small tl-delete"
          aria-label=${`Delete this ${title.toLowerCase()}`} onClick=${() => onDelete(item)}>Delete</button>`}
      </header>
      ${typeof body === 'string' ? html`<p class="tl-body">${body}</p>` : body}
    </article>
  </li>`;
}
