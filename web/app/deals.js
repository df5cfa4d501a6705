// The lead page's side column: opportunities (value, status, confidence, close date) and
// tasks (add, mark done), each change shown at once and rolled back if refused.

import { useState } from 'preact/hooks';
import { api } from './api.js';
import { html, toast, userName, formatDate, isMe, errorText } from './ui.js';
import { Editable } from './editable.js';


function money(cents, currency) {
  if (cents === null || cents === undefined) return '';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'USD', maximumFractionDigits: 0 }).format(cents / 100);
  } catch {
    return (cents / 100).toFixed(2);
  }
}

const PERIODS = { one_time: '', monthly: ' / month', annual: ' / year' };

export function Opportunities({ leadId, opps, setOpps, statuses, write, flash }) {
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
        <div class="row small opp-meta">
          <${Editable} label="Confidence" kind="number" value=${o.confidence == null ? '' : String(o.confidence)}
            display=${o.confidence == null ? '' : `${o.confidence}%`} placeholder="confidence"
            onSave=${(v) => update(o, { confidence: v === '' ? null : Number(v) })} />
          <${Editable} label="Close date" kind="date" value=${o.close_date || ''} display=${o.close_date ? `closes ${formatDate(o.close_date)}` : ''}
            placeholder="close date" onSave=${(v) => update(o, { close_date: v || null })} />
          <span class="muted">${userName(o.user_id)}</span>
        </div>
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

export function Tasks({ leadId, tasks, setTasks, write, flash }) {
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
