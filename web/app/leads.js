// Leads: the query bar, results as you type (100 a page), the chosen columns, and Smart
// Views in a sidebar (save, share, rename, delete). Rows are plain and cheap: one <tr>
// of text cells each, keyed by id, so a page renders in a few milliseconds.

import { Component } from 'preact';
import { useState, useEffect, useRef, useLayoutEffect, useMemo } from 'preact/hooks';
import { api, qs, ApiError } from './api.js';
import { html, toast, mark, markOnce, userName, ago, usePresence, isMe, useTick, joinNames, errorText, navigate } from './ui.js';
import { QueryBar, byteToIndex } from './querybar.js';
import { meta } from './meta.js';
import { NewLead } from './new-lead.js';
import { ViewsSidebar, ViewActions, leadsHash } from './views.js';
import { COLUMNS_KEY, columnDefs, savedColumns, ColumnPicker } from './columns.js';

const PAGE = 100;
/** Remembered so that the lead page's "← Leads" returns to this search. */
function rememberHash(hash) {
  try {
    sessionStorage.setItem('rapport.leadsHash', hash);
  } catch {
    // storage disabled: the link goes to all leads
  }
}

/** The query error in UTF-16 indexes of `query` (the server counts bytes). */
function queryError(e, query) {
  let span = e.span;
  if (Array.isArray(span)) span = { start: span[0], end: span[1] };
  if (!span) return { message: e.message, hint: e.hint, span: null };
  return { message: e.message, hint: e.hint, span: { start: byteToIndex(query, span.start), end: byteToIndex(query, span.end) } };
}

export default function Leads({ route, me, realtime }) {
  const params = route.params;
  const viewId = params.get('view');
  const [views, setViews] = useState(null);
  const [leadFields, setLeadFields] = useState([]);
  const [query, setQuery] = useState(params.get('query') || '');
  const [columns, setColumns] = useState(savedColumns);
  const [page, setPage] = useState(0);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [refresh, setRefresh] = useState(0);
  const [changes, setChanges] = useState({}); // lead id -> {user_id, at}
  const [notice, setNotice] = useState('');
  const immediate = useRef(true);
  const silent = useRef(false);
  const tableRef = useRef();
  const patches = useRef(new Map()); // lead id -> newer row seen through real time
  const tick = useTick(30000);

  const defs = useMemo(() => columnDefs(leadFields), [leadFields]);
  const shown = useMemo(() => {
    const list = columns.filter((c) => defs[c]);
    if (!list.includes('display_name')) list.unshift('display_name');
    return list;
  }, [columns.join(','), defs]);
  const fieldList = useMemo(() => {
    const set = new Set(['id', 'display_name', 'date_updated']);
    for (const c of shown) for (const f of defs[c].fields) set.add(f);
    return [...set].join(',');
  }, [shown.join(','), defs]);

  const loadViews = () =>
    api.get('saved_search/?_limit=200').then(
      (answer) => setViews(answer.data || []),
      (e) => {
        setViews((v) => v || []);
        toast(`Smart Views could not be loaded: ${errorText(e)}`, 'error');
      },
    );

  useEffect(() => {
    loadViews();
    meta('leadFields').then(setLeadFields, () => {});
  }, []);


  const view = viewId && views ? views.find((v) => v.id === viewId) : null;
  const ready = !viewId || views !== null;

  useEffect(() => {
    document.title = `${view ? view.name : 'Leads'} · Rapport`;
  }, [view && view.name]);

  // The route chose a view or a query: show it from the first page.
  useEffect(() => {
    rememberHash(location.hash || '#/leads');
    if (!ready) return;
    const q = params.get('query');
    if (viewId) {
      if (!view) {
        toast('That Smart View no longer exists.', 'error');
        navigate(leadsHash(null, q || ''));
        return;
      }
      setQuery(q !== null ? q : view.query);
      setColumns(view.selected_fields && view.selected_fields.length ? view.selected_fields : savedColumns());
    } else {
      setQuery(q || '');
      setColumns(savedColumns());
    }
    immediate.current = true;
    setPage(Math.max(0, (parseInt(params.get('page'), 10) || 1) - 1));
  }, [route.seq, ready]);

  // Search as you type: stale requests aborted.
  useEffect(() => {
    if (!ready) return;
    // Short: a search takes milliseconds, and a superseded request is aborted; the delay
    // only merges keys pressed in one burst.
    const delay = immediate.current ? 0 : 40;
    immediate.current = false;
    const quiet = silent.current;
    silent.current = false;
    const ctrl = new AbortController();
    const timer = setTimeout(async () => {
      if (!quiet) setBusy(true);
      try {
        const path = `lead/?${qs({ query, _limit: PAGE, _skip: page * PAGE, _fields: fieldList })}`;
        const answer = await api.get(path, { signal: ctrl.signal });
        if (ctrl.signal.aborted) return;
        const rows = (answer.data || []).map((row) => {
          const patch = patches.current.get(row.id);
          return patch && patch.date_updated > row.date_updated ? { ...row, ...patch } : row;
        });
        mark('rapport:table-render-start');
        setResult({ rows, total: answer.total_results, hasMore: answer.has_more, query, page });
        setError(null);
      } catch (e) {
        if (ctrl.signal.aborted || e.name === 'AbortError') return;
        if (e instanceof ApiError && e.status === 400 && (e.span || e.hint)) setError(queryError(e, query));
        else setError({ message: errorText(e), hint: null, span: null });
      } finally {
        if (!ctrl.signal.aborted) setBusy(false);
      }
    }, delay);
    return () => {
      clearTimeout(timer);
      ctrl.abort();
    };
  }, [query, page, fieldList, ready, refresh]);

  // The marks the browser test reads: a page of rows on screen, and for which query.
  useLayoutEffect(() => {
    if (!result) return;
    if (tableRef.current) void tableRef.current.offsetHeight; // include layout in the measure
    mark('rapport:table-rendered', { rows: result.rows.length });
    try {
      performance.measure('rapport:table-render', 'rapport:table-render-start', 'rapport:table-rendered');
    } catch {
      // no start mark (a re-render without a new result)
    }
    mark('rapport:results', { query: result.query, rows: result.rows.length });
    markOnce('rapport:leads-ready');
  }, [result]);

  // Real time: a lead on this page changed → patch its row; any lead change → refresh the
  // page quietly (a new lead may now match, another may not). Events are applied in
  // batches, at most every 250 ms, so a bulk import elsewhere costs a few renders.
  useEffect(() => {
    let viewsTimer = 0;
    let flushTimer = 0;
    let noticeTimer = 0;
    let rows = new Map(); // lead id -> newest lead data
    let marks = {}; // lead id -> {user_id, at, action}
    let note = '';
    const flush = () => {
      flushTimer = 0;
      const patched = rows;
      const changed = marks;
      rows = new Map();
      marks = {};
      if (patched.size) {
        setResult((r) => {
          if (!r || !r.rows.some((row) => patched.has(row.id))) return r;
          return { ...r, rows: r.rows.map((row) => (patched.has(row.id) ? { ...row, ...pick(patched.get(row.id), row) } : row)) };
        });
      }
      if (Object.keys(changed).length) setChanges((c) => ({ ...c, ...changed }));
      if (note) {
        setNotice(note);
        note = '';
        clearTimeout(noticeTimer);
        noticeTimer = setTimeout(() => setNotice(''), 15000);
      }
      silent.current = true;
      setRefresh((n) => n + 1);
    };
    const off = realtime.on('event', (event) => {
      if (!event) return;
      if (event.object_type === 'saved_search') {
        clearTimeout(viewsTimer);
        viewsTimer = setTimeout(loadViews, 200);
        return;
      }
      const leadId = event.object_type === 'lead' ? event.object_id : event.lead_id;
      if (!leadId) return;
      if (event.object_type === 'lead' && event.action === 'updated' && event.data) {
        patches.current.set(leadId, event.data);
        rows.set(leadId, event.data);
      }
      if (!isMe(event.user_id)) {
        marks[leadId] = { user_id: event.user_id, at: Date.now(), action: event.action };
        if (event.object_type === 'lead') {
          const name = (event.data && (event.data.display_name || event.data.name)) || 'A lead';
          note = `${name} ${event.action} by ${userName(event.user_id)}`;
        }
      }
      if (!flushTimer) flushTimer = setTimeout(flush, 250);
    });
    return () => {
      off();
      clearTimeout(viewsTimer);
      clearTimeout(flushTimer);
      clearTimeout(noticeTimer);
    };
  }, []);

  const onChange = (text) => {
    setQuery(text);
    setPage(0);
    const hash = leadsHash(viewId, text);
    history.replaceState(null, '', hash);
    rememberHash(hash);
  };
  const onSubmit = () => {
    immediate.current = true;
    setRefresh((n) => n + 1);
  };
  const goPage = (p) => {
    immediate.current = true;
    setPage(p);
    const hash = leadsHash(viewId, query, p);
    history.replaceState(null, '', hash);
    rememberHash(hash);
    if (tableRef.current) tableRef.current.closest('.results-wrap').scrollTop = 0;
  };

  const chooseColumns = (next) => {
    setColumns(next);
    if (view && view.user_id === me.id) {
      updateView(view, { selected_fields: next }, 'Columns saved to the Smart View.');
    } else {
      localStorage.setItem(COLUMNS_KEY, JSON.stringify(next));
    }
  };

  const updateView = async (v, patch, success) => {
    setViews((list) => list.map((x) => (x.id === v.id ? { ...x, ...patch } : x)));
    try {
      const saved = await api.put(`saved_search/${v.id}`, patch);
      setViews((list) => list.map((x) => (x.id === v.id ? saved : x)));
      if (success) toast(success);
      return true;
    } catch (e) {
      setViews((list) => list.map((x) => (x.id === v.id ? v : x)));
      toast(`Could not update “${v.name}”: ${errorText(e)}`, 'error');
      return false;
    }
  };

  const createView = async (name, isShared) => {
    try {
      const saved = await api.post('saved_search/', { name, query, is_shared: isShared, selected_fields: shown });
      setViews((list) => [...(list || []).filter((x) => x.id !== saved.id), saved]);
      toast(`Saved “${saved.name}”.`);
      navigate(leadsHash(saved.id, ''));
      return true;
    } catch (e) {
      toast(`Could not save the Smart View: ${errorText(e)}`, 'error');
      return false;
    }
  };

  const deleteView = async (v) => {
    if (!confirm(`Delete the Smart View “${v.name}”?`)) return;
    try {
      await api.del(`saved_search/${v.id}`);
      setViews((list) => list.filter((x) => x.id !== v.id));
      toast(`Deleted “${v.name}”.`);
      navigate(leadsHash(null, query));
    } catch (e) {
      toast(`Could not delete “${v.name}”: ${errorText(e)}`, 'error');
    }
  };

  const presence = usePresence();
  const viewers = useMemo(() => {
    const map = new Map();
    for (const p of presence) {
      if (!p.viewing || isMe(p.user_id)) continue;
      const names = map.get(p.viewing) || new Set();
      names.add(userName(p.user_id));
      map.set(p.viewing, names);
    }
    return map;
  }, [presence]);

  const dirty = view && (view.query !== query || (view.selected_fields || []).join(',') !== shown.join(','));
  return html`<div class="leads">
    <${ViewsSidebar} views=${views} activeId=${viewId} me=${me} />
    <section class="leads-main" aria-labelledby="leads-title">
      <div class="leads-head">
        <h1 id="leads-title">${view ? view.name : 'Leads'}</h1>
        <${NewLead} />
        <${ViewActions} view=${view} me=${me} dirty=${dirty} query=${query} shown=${shown}
          onUpdate=${updateView} onCreate=${createView} onDelete=${deleteView} />
      </div>
      <${QueryBar} value=${query} onChange=${onChange} onSubmit=${onSubmit} error=${error} busy=${busy} />
      <div class="results-bar">
        <p class="count" role="status" aria-live="polite">
          ${result ? countText(result) : busy ? 'Searching…' : ''}
        </p>
        <p class="live-note" role="status" aria-live="polite">${notice}</p>
        <${ColumnPicker} defs=${defs} shown=${shown} onChange=${chooseColumns} />
      </div>
      <div class=${`results-wrap${busy ? ' busy' : ''}`} aria-busy=${busy ? 'true' : 'false'}>
        ${result && html`<${ResultsTable} tableRef=${tableRef} rows=${result.rows} shown=${shown} defs=${defs} changes=${changes} viewers=${viewers} tick=${tick}
          query=${query} onSort=${(field) => { immediate.current = true; onChange(withSort(query, field)); }} />`}
        ${result && !result.rows.length && html`<p class="empty">No lead matches this query.</p>`}
      </div>
      ${result && (result.page > 0 || result.hasMore) && html`<nav class="pager" aria-label="Pages of results">
        <button type="button" disabled=${result.page === 0} onClick=${() => goPage(result.page - 1)}>← Previous</button>
        <span>Page ${result.page + 1} of ${Math.max(1, Math.ceil((result.total || 0) / PAGE))}</span>
        <button type="button" disabled=${!result.hasMore} onClick=${() => goPage(result.page + 1)}>Next →</button>
      </nav>`}
    </section>
  </div>`;
}

/** The fields of `data` that a row shows (an event carries the whole lead). */
function pick(data, row) {
  const out = {};
  for (const k of Object.keys(row)) if (k in data) out[k] = data[k];
  return out;
}

function countText(r) {
  const total = r.total ?? r.rows.length;
  const n = total.toLocaleString();
  if (!total) return 'No leads';
  const from = r.page * PAGE + 1;
  const to = r.page * PAGE + r.rows.length;
  return total > r.rows.length ? `${n} leads · ${from.toLocaleString()}–${to.toLocaleString()}` : `${n} ${total === 1 ? 'lead' : 'leads'}`;
}

/** The query's top-level `sort:` clauses, e.g. `[{field: 'name', desc: false}]`. */
const SORT_CLAUSE = /(^|\s)sort\s*:\s*(-?)("[^"]*"|[^\s()]+)/gi;
export function sortsOf(query) {
  return [...query.matchAll(SORT_CLAUSE)].map((m) => ({ field: m[3].replace(/"/g, '').toLowerCase(), desc: m[2] === '-' }));
}
/** The query ordered by `field` alone: ascending first, then descending. */
export function withSort(query, field) {
  const current = sortsOf(query)[0];
  const desc = current && current.field === field.toLowerCase() ? !current.desc : false;
  const rest = query.replace(SORT_CLAUSE, '$1').replace(/\s+/g, ' ').trim();
  return `${rest ? `${rest} ` : ''}sort:${desc ? '-' : ''}${field}`;
}

function ResultsTable({ tableRef, rows, shown, defs, changes, viewers, query, onSort, tick }) {
  const sort = sortsOf(query)[0];
  const header = (c) => {
    const def = defs[c];
    if (!def.sort) return html`<th scope="col" key=${c}>${def.label}</th>`;
    const active = sort && sort.field === def.sort.toLowerCase();
    const dir = active ? (sort.desc ? 'descending' : 'ascending') : undefined;
    return html`<th scope="col" key=${c} aria-sort=${dir}>
      <button type="button" class="sort" onClick=${() => onSort(def.sort)} title=${`Sort by ${def.label}`}>
        ${def.label}${active ? (sort.desc ? ' ↓' : ' ↑') : ''}</button>
    </th>`;
  };
  return html`<table class="results" ref=${tableRef} aria-label="Leads">
    <thead><tr>${shown.map(header)}</tr></thead>
    <tbody>
      ${rows.map((lead) => html`<${Row} key=${lead.id} lead=${lead} shown=${shown} defs=${defs} change=${changes[lead.id]} viewers=${viewers.get(lead.id)} tick=${tick} />`)}
    </tbody>
  </table>`;
}

/** A row re-renders only when its lead, the columns or its markers change. */
class Row extends Component {
  shouldComponentUpdate(next) {
    const p = this.props;
    return next.lead !== p.lead || next.shown !== p.shown || next.defs !== p.defs || next.change !== p.change ||
      next.viewers !== p.viewers || next.tick !== p.tick;
  }

  render(props) {
    return rowContent(props);
  }
}

function rowContent({ lead, shown, defs, change, viewers }) {
  const fresh = change && Date.now() - change.at < 60000;
  return html`<tr class=${fresh ? 'changed' : ''}>
    ${shown.map((c) => {
      if (c === 'display_name') {
        return html`<td key=${c} class="name-cell">
          <a data-nav href=${`#/lead/${lead.id}`}>${lead.display_name || lead.name || '(no name)'}</a>
          ${viewers && html` <span class="viewing-dot" title=${`${joinNames([...viewers])} viewing`}>${joinNames([...viewers])} viewing</span>`}
          ${fresh && html` <span class="changed-by">${change.action} by ${userName(change.user_id)} ${ago(change.at)}</span>`}
        </td>`;
      }
      const def = defs[c];
      return html`<td key=${c} title=${def.title ? def.title(lead) : undefined}>${def.cell(lead)}</td>`;
    })}
  </tr>`;
}

