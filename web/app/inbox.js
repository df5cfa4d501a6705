// The chat inbox: conversations by status and assignee on the left, one conversation on
// the right. Everything stays live from the realtime feed; message bodies are plain text
// (htm escapes them), never HTML.

import { h } from 'preact';
import { useState, useEffect, useRef } from 'preact/hooks';
import htm from 'htm';
import { api, qs } from './api.js';
import { Composer } from './inbox-composer.js';

const html = htm.bind(h);

if (!document.querySelector('link[href="/app/inbox.css"]')) {
  document.head.append(Object.assign(document.createElement('link'), { rel: 'stylesheet', href: '/app/inbox.css' }));
}

const STATUSES = [
  ['open', 'Open'],
  ['pending', 'Pending'],
  ['resolved', 'Resolved'],
];
const CONVERSATION_EVENTS = ['conversation.created', 'conversation.updated', 'conversation.deleted'];

function remember(key, fallback) {
  try {
    return localStorage.getItem(`rapport.inbox.${key}`) || fallback;
  } catch {
    return fallback;
  }
}
function keep(key, value) {
  try {
    localStorage.setItem(`rapport.inbox.${key}`, value);
  } catch {
    /* private mode: the choice lasts for the page only */
  }
}

export function userLabel(users, id) {
  const user = users.find((u) => u.id === id);
  if (!user) return 'a former user';
  return user.display_name || [user.first_name, user.last_name].filter(Boolean).join(' ') || user.email;
}

function visitorLabel(c) {
  return c.visitor_name || c.visitor_email || `Visitor ${String(c.visitor_id || '').slice(-5)}`;
}

function when(value) {
  if (!value) return '';
  const date = new Date(value);
  const seconds = (Date.now() - date) / 1000;
  if (seconds < 60) return 'now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (date.toDateString() === new Date().toDateString()) {
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  return date.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

const newestFirst = (a, b) => String(b.last_message_at || b.date_created).localeCompare(String(a.last_message_at || a.date_created));

/** Whether conversation `c` shows under the assignee filter `who`. */
function matches(c, who, me) {
  if (who === 'all') return true;
  if (who === 'mine') return c.assigned_to === me.id;
  if (who === 'unassigned') return !c.assigned_to;
  return c.assigned_to === who;
}

export default function Inbox({ route, me, realtime, users = [] }) {
  const id = decodeURIComponent((route || '').replace(/^\/+/, '').split('/')[0]) || null;
  const [status, setStatus] = useState(() => remember('status', 'open'));
  const [who, setWho] = useState(() => remember('who', 'all'));
  const [site, setSite] = useState('');
  const [list, setList] = useState(null);
  const [hasMore, setHasMore] = useState(false);
  const [error, setError] = useState('');
  const [counts, setCounts] = useState({});
  const [websites, setWebsites] = useState([]);
  const [previews, setPreviews] = useState({});
  const [, tick] = useState(0);
  const statusRef = useRef(status);
  statusRef.current = status;

  useEffect(() => {
    api.get('website/?_fields=id,name').then((r) => setWebsites(r.data), () => {});
    const timer = setInterval(() => tick((n) => n + 1), 30000);
    return () => clearInterval(timer);
  }, []);

  // Unread conversations per status tab, refreshed (at most every 1.5 s) on changes.
  useEffect(() => {
    let timer = null;
    let live = true;
    const load = () => {
      timer = null;
      Promise.all(
        STATUSES.map(([s]) => api.get(`conversation/?${qs({ status: s, unread__gt: 0, _limit: 1, _fields: 'id' })}`)),
      ).then(
        (answers) => live && setCounts(Object.fromEntries(answers.map((a, i) => [STATUSES[i][0], a.total_results]))),
        () => {},
      );
    };
    const soon = () => timer || (timer = setTimeout(load, 1500));
    load();
    const offs = [...CONVERSATION_EVENTS, 'resync'].map((t) => realtime.on(t, soon));
    return () => {
      live = false;
      clearTimeout(timer);
      offs.forEach((off) => off());
    };
  }, [realtime]);

  // The conversations of the status tab, kept current from the feed.
  useEffect(() => {
    let live = true;
    setList(null);
    setError('');
    const load = () =>
      api.get(`conversation/?${qs({ status, _order_by: '-last_message_at', _limit: 200 })}`).then(
        (r) => {
          if (!live) return;
          setList(r.data);
          setHasMore(r.has_more);
        },
        (e) => live && setError(e.message),
      );
    load();
    const change = (event) => {
      if (!event || !event.object_id) return;
      const c = event.data;
      setList((old) => {
        if (!old) return old;
        const rest = old.filter((x) => x.id !== event.object_id);
        if (event.action !== 'deleted' && c && c.status === statusRef.current) rest.push(c);
        return rest.sort(newestFirst);
      });
    };
    const message = (event) => {
      const m = event && event.data;
      if (m && !m.private) setPreviews((p) => ({ ...p, [m.conversation_id]: m }));
    };
    const offs = CONVERSATION_EVENTS.map((t) => realtime.on(t, change));
    offs.push(realtime.on('message.created', message), realtime.on('resync', load));
    return () => {
      live = false;
      offs.forEach((off) => off());
    };
  }, [status, realtime]);

  const choose = (setter, key) => (value) => {
    setter(value);
    keep(key, value);
  };
  const pickStatus = choose(setStatus, 'status');
  const pickWho = choose(setWho, 'who');

  const inSite = (list || []).filter((c) => !site || c.website_id === site);
  const shown = inSite.filter((c) => matches(c, who, me));
  const unreadIn = (w) => inSite.filter((c) => c.unread > 0 && matches(c, w, me)).length;
  const siteName = (wid) => (websites.length > 1 ? (websites.find((w) => w.id === wid) || {}).name : '');
  const teammates = users.filter((u) => u.id !== me.id);

  const whoButton = (value, label) => {
    const n = unreadIn(value);
    return html`<button type="button" class="chip" aria-pressed=${who === value} onClick=${() => pickWho(value)}>
      ${label}${n ? html` <span class="badge" aria-label=${`${n} unread`}>${n}</span>` : ''}
    </button>`;
  };

  return html`<div class=${`inbox${id ? ' has-conversation' : ''}`}>
    <section class="inbox-list" aria-labelledby="inbox-title">
      <h1 id="inbox-title">Inbox</h1>
      <div class="tabs" role="group" aria-label="Status">
        ${STATUSES.map(
          ([value, label]) => html`<button type="button" key=${value} class="tab" aria-pressed=${status === value}
            onClick=${() => pickStatus(value)}>
            ${label}${counts[value] ? html` <span class="badge" aria-label=${`${counts[value]} unread`}>${counts[value]}</span>` : ''}
          </button>`,
        )}
      </div>
      <div class="filters" role="group" aria-label="Assignee">
        ${whoButton('mine', 'Mine')} ${whoButton('unassigned', 'Unassigned')} ${whoButton('all', 'All')}
        ${teammates.length > 0 &&
        html`<label class="sr-only" for="inbox-teammate">Teammate</label>
          <select id="inbox-teammate" value=${teammates.some((u) => u.id === who) ? who : ''}
            onChange=${(e) => pickWho(e.target.value || 'all')}>
            <option value="">Teammate…</option>
            ${teammates.map((u) => html`<option key=${u.id} value=${u.id}>${userLabel(users, u.id)}</option>`)}
          </select>`}
        ${websites.length > 1 &&
        html`<label class="sr-only" for="inbox-site">Website</label>
          <select id="inbox-site" value=${site} onChange=${(e) => setSite(e.target.value)}>
            <option value="">All websites</option>
            ${websites.map((w) => html`<option key=${w.id} value=${w.id}>${w.name}</option>`)}
          </select>`}
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${list === null && !error && html`<p class="muted" role="status">Loading conversations…</p>`}
      ${list !== null && shown.length === 0 && html`<p class="muted empty">No ${status} conversations here.</p>`}
      <ul class="conversations" aria-label="Conversations">
        ${shown.map((c) => {
          const preview =
            previews[c.id] || (c.last_message_preview && { author: c.last_message_author, body: c.last_message_preview });
          return html`<li key=${c.id}>
            <a href=${`#/inbox/${c.id}`} data-nav class=${`conv${c.unread ? ' unread' : ''}`}
              aria-current=${c.id === id ? 'page' : undefined}>
              <span class="who">${visitorLabel(c)}</span>
              <time datetime=${c.last_message_at}>${when(c.last_message_at)}</time>
              ${preview && html`<span class="preview">${preview.author === 'operator' ? 'You: ' : ''}${preview.body}</span>`}
              <span class="meta">
                ${siteName(c.website_id)}
                ${c.assigned_to ? ` · ${c.assigned_to === me.id ? 'you' : c.assigned_to_name || userLabel(users, c.assigned_to)}` : ' · unassigned'}
              </span>
              ${c.unread > 0 && html`<span class="badge" aria-label=${`${c.unread} unread`}>${c.unread}</span>`}
            </a>
          </li>`;
        })}
      </ul>
      ${hasMore && html`<p class="muted">Showing the 200 most recent.</p>`}
    </section>
    ${id
      ? html`<${Conversation} key=${id} id=${id} me=${me} users=${users} realtime=${realtime} websites=${websites} />`
      : html`<section class="inbox-empty"><p class="muted">Choose a conversation. <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> opens.</p></section>`}
  </div>`;
}

/** Adds or replaces message `m` (matched by id, or by client_id while it is being sent). */
function merge(list, m) {
  if (!list) return list;
  const i = list.findIndex((x) => (m.id && x.id === m.id) || (m.client_id && !x.id && x.client_id === m.client_id));
  const next = i === -1 ? [...list, m] : list.map((x, j) => (j === i ? m : x));
  if (i !== -1 && next.some((x, j) => j !== i && x.id && x.id === m.id)) return list;
  return next;
}

function Conversation({ id, me, users, realtime, websites }) {
  const [conv, setConv] = useState(null);
  const [messages, setMessages] = useState(null);
  const [error, setError] = useState('');
  const [typing, setTyping] = useState(null);
  const [announce, setAnnounce] = useState('');
  const [busy, setBusy] = useState(false);
  const logRef = useRef();
  const convRef = useRef(null);
  convRef.current = conv;

  useEffect(() => {
    let live = true;
    let readTimer = null;
    let typingTimer = null;
    const markRead = () => {
      clearTimeout(readTimer);
      readTimer = setTimeout(() => {
        if (document.visibilityState === 'visible') api.post(`conversation/${id}/read/`).then((c) => live && setConv(c), () => {});
      }, 300);
    };
    const load = () =>
      Promise.all([api.get(`conversation/${id}`), api.get(`conversation/${id}/message/`)]).then(
        ([c, m]) => {
          if (!live) return;
          setConv(c);
          // Messages still being sent stay (a reload after a resync must not drop them).
          setMessages((old) => [...m.data, ...(old || []).filter((x) => !x.id && !m.data.some((y) => y.client_id === x.client_id))]);
          if (c.unread > 0) markRead();
        },
        (e) => live && setError(e.status === 404 ? 'This conversation does not exist (any more).' : e.message),
      );
    load();
    const offs = [
      realtime.on('resync', load),
      realtime.on('message.created', (event) => {
        const m = event && event.data;
        if (!m || m.conversation_id !== id) return;
        setMessages((list) => merge(list, m));
        if (m.author === 'visitor') {
          const c = convRef.current;
          setAnnounce(`New message from ${c ? visitorLabel(c) : 'the visitor'}: ${m.body}`);
          setTyping(null);
          markRead();
        }
      }),
      realtime.on('conversation.updated', (event) => event.object_id === id && event.data && setConv(event.data)),
      realtime.on('conversation.deleted', (event) => event.object_id === id && setError('This conversation was deleted.')),
      realtime.on('typing', (t) => {
        if (!t || t.conversation_id !== id || (t.author === 'operator' && t.user_id === me.id)) return;
        clearTimeout(typingTimer);
        setTyping(t.typing ? t : null);
        // A lost "typing: false" must not leave the line up.
        if (t.typing) typingTimer = setTimeout(() => live && setTyping(null), 8000);
      }),
    ];
    const onVisible = () => document.visibilityState === 'visible' && convRef.current?.unread > 0 && markRead();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      live = false;
      clearTimeout(readTimer);
      clearTimeout(typingTimer);
      document.removeEventListener('visibilitychange', onVisible);
      offs.forEach((off) => off());
    };
  }, [id, realtime]);

  // Stay at the bottom when a message arrives, unless the reader scrolled up.
  const count = messages ? messages.length : 0;
  useEffect(() => {
    const log = logRef.current;
    if (!log) return;
    const last = messages && messages[messages.length - 1];
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 160;
    if (nearBottom || (last && last.author === 'operator') || log.dataset.seen !== '1') {
      log.scrollTop = log.scrollHeight;
      log.dataset.seen = '1';
    }
  }, [count, typing]);

  const update = async (change, request = () => api.put(`conversation/${id}`, change)) => {
    setBusy(true);
    setError('');
    try {
      setConv(await request());
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };

  const send = async (message) => {
    setMessages((list) => merge(list || [], { ...message, id: null, author: 'operator', user_id: me.id, date_created: new Date().toISOString(), state: 'sending' }));
    try {
      const stored = await api.post(`conversation/${id}/message/`, message);
      setMessages((list) => merge(list, stored));
      return true;
    } catch (e) {
      setMessages((list) => list.map((x) => (!x.id && x.client_id === message.client_id ? { ...x, state: 'failed', error: e.message } : x)));
      return false;
    }
  };
  const retry = (m) => send({ body: m.body, private: !!m.private, client_id: m.client_id });

  if (!conv) {
    return html`<section class="conversation">
      ${error ? html`<p class="error" role="alert">${error}</p>` : html`<p class="muted" role="status">Loading…</p>`}
    </section>`;
  }
  const website = websites.find((w) => w.id === conv.website_id);
  const resolved = conv.status === 'resolved';
  return html`<section class="conversation" aria-labelledby="conv-title">
    <header class="conv-head">
      <a class="back" href="#/inbox">← Inbox</a>
      <div class="conv-who">
        <h2 id="conv-title">${visitorLabel(conv)}</h2>
        <p class="muted">
          ${conv.visitor_email && conv.visitor_name ? `${conv.visitor_email} · ` : ''}
          ${conv.visitor_email && !conv.email_verified ? 'email not verified · ' : ''}
          ${website ? website.name : ''} · <span class=${`status status-${conv.status}`}>${conv.status}</span>
          ${conv.lead_id && html` · <a href=${`#/lead/${conv.lead_id}`}>Open lead</a>`}
          ${!conv.lead_id && conv.suggested_contact_id && html` · an existing contact has this email.
            <button type="button" disabled=${busy} onClick=${() => update(null, () => api.post(`conversation/${id}/link/`, {}))}>
              It is them: link the chat to their lead</button>`}
        </p>
      </div>
      <div class="conv-actions">
        <label for="conv-assignee">Assignee</label>
        <select id="conv-assignee" disabled=${busy} value=${conv.assigned_to || ''}
          onChange=${(e) => update({ assigned_to: e.target.value || null })}>
          <option value="">Unassigned</option>
          ${conv.assigned_to && !users.some((u) => u.id === conv.assigned_to) &&
          html`<option value=${conv.assigned_to}>${conv.assigned_to_name || 'Another user'}</option>`}
          ${users.map((u) => html`<option key=${u.id} value=${u.id}>${u.id === me.id ? `Me (${userLabel(users, u.id)})` : userLabel(users, u.id)}</option>`)}
        </select>
        ${conv.assigned_to !== me.id && html`<button type="button" disabled=${busy} onClick=${() => update({ assigned_to: me.id })}>Assign to me</button>`}
        ${conv.status === 'open' && html`<button type="button" disabled=${busy} onClick=${() => update({ status: 'pending' })}>Mark pending</button>`}
        ${resolved
          ? html`<button type="button" disabled=${busy} onClick=${() => update({ status: 'open' })}>Reopen</button>`
          : html`<button type="button" class="primary" disabled=${busy} onClick=${() => update({ status: 'resolved' })}>Resolve</button>`}
      </div>
    </header>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="messages" ref=${logRef} tabindex="0" aria-label="Messages">
      ${messages === null && html`<p class="muted">Loading messages…</p>`}
      <ol>
        ${(messages || []).map((m) => html`<${Message} key=${m.id || m.client_id} m=${m} users=${users} me=${me} conv=${conv} retry=${retry} />`)}
      </ol>
    </div>
    <p class="typing" aria-hidden=${typing ? undefined : 'true'}>
      ${typing ? `${typing.author === 'visitor' ? conv.visitor_name || 'Visitor' : typing.name || 'A teammate'} is typing…` : ''}
    </p>
    <div class="sr-only" role="status" aria-live="polite">${announce}</div>
    <${Composer} id=${id} realtime=${realtime} send=${send} disabled=${!messages} />
  </section>`;
}

function Message({ m, users, me, conv, retry }) {
  const kind = m.author === 'visitor' ? 'visitor' : m.author === 'system' ? 'system' : m.private ? 'note' : 'operator';
  const author =
    kind === 'visitor' ? visitorLabel(conv)
    : kind === 'system' ? 'Rapport'
    : m.user_id === me.id ? 'You'
    : m.user_name || userLabel(users, m.user_id);
  const date = new Date(m.date_created);
  return html`<li class=${`msg ${kind}${m.state ? ` ${m.state}` : ''}`}>
    <div class="msg-meta">
      <strong>${author}</strong>${kind === 'note' ? html` <span class="tag">private note</span>` : ''}
      <time datetime=${m.date_created} title=${date.toLocaleString()}>${date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</time>
    </div>
    <p class="body">${m.body}</p>
    ${m.state === 'sending' && html`<span class="muted small">Sending…</span>`}
    ${m.state === 'failed' &&
    html`<span class="error small" role="alert">Not sent: ${m.error}
      <button type="button" class="link" onClick=${() => retry(m)}>Retry</button></span>`}
  </li>`;
}
