// The lead page: its fields, addresses, custom fields and contacts edited in place
// (optimistically, rolled back with a message when the API refuses), the activity
// timeline with the note / call / email composer (drafts autosaved), opportunities and
// tasks. Other users' changes arrive through the realtime socket and are marked with
// their name; who else views the lead shows at the top.

import { useState, useEffect, useRef, useMemo } from 'preact/hooks';
import { api, qs, ApiError } from './api.js';
import { html, toast, userName, ago, formatDate, formatDateTime, usePresence, isMe, useTick, joinNames, errorText } from './ui.js';
import { useKeys } from './keyboard.js';
import { Editable } from './editable.js';
import { Composer } from './composer.js';
import { meta } from './meta.js';
import { CustomField, Contacts, Addresses } from './lead-details.js';
import { Timeline, ACTIVITY_PATHS } from './timeline.js';
import { Opportunities, Tasks } from './deals.js';

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

  const markChange = (userId, fieldsChanged) => {
    const derived = new Set(['display_name', 'status_label', 'date_updated', 'updated_by']);
    const changed = fieldsChanged.filter((f) => !derived.has(f));
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

  const editActivity = async (item, patch) => {
    setActivities((list) => list.map((a) => (a.id === item.id ? { ...a, ...patch } : a)));
    try {
      const saved = await write(() => api.put(`activity/${ACTIVITY_PATHS[item._type]}/${item.id}`, patch));
      setActivities((list) => list.map((a) => (a.id === item.id ? { ...a, ...saved } : a)));
    } catch (e) {
      setActivities((list) => list.map((a) => (a.id === item.id ? item : a)));
      toast(`The ${item._type.toLowerCase()} was not saved: ${errorText(e)}`, 'error');
    }
  };
  const deleteActivity = async (item) => {
    if (!confirm(`Delete this ${item._type.toLowerCase()}?`)) return;
    setActivities((list) => list.filter((a) => a.id !== item.id));
    try {
      await write(() => api.del(`activity/${ACTIVITY_PATHS[item._type]}/${item.id}`));
    } catch (e) {
      loadActivities();
      toast(`The ${item._type.toLowerCase()} was not deleted: ${errorText(e)}`, 'error');
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
        <${Timeline} items=${activities} fresh=${fresh} more=${activitiesMore} onEdit=${editActivity} onDelete=${deleteActivity}
          onMore=${() => loadActivities((activities || []).length + TIMELINE_PAGE)} />
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
