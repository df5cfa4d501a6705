/* Rapport website chat widget.
 * <script src="https://RAPPORT_HOST/widget.js" data-key="wk_…" async></script>
 * Plain JS, no build step. The UI lives in an open Shadow DOM so the page's CSS does not
 * reach it; every piece of text from the server is set with textContent. */
(() => {
  'use strict';
  if (window.Rapport && window.Rapport.version) return;

  const script = document.currentScript ||
    [...document.querySelectorAll('script[src]')].reverse().find((s) => /\/widget\.js([?#].*)?$/.test(s.src));
  const key = script && script.getAttribute('data-key');
  if (!key) {
    console.error('Rapport: the widget script needs a data-key attribute');
    return;
  }
  const base = new URL('.', script.src).href; // ends with "/"
  const TOKEN = 'rapport:' + key;
  const OUTBOX = TOKEN + ':outbox';

  // localStorage throws in some privacy modes: the widget then works for this page view only.
  const stored = (k) => { try { return localStorage.getItem(k); } catch (e) { return null; } };
  const store = (k, v) => {
    try { v == null ? localStorage.removeItem(k) : localStorage.setItem(k, v); } catch (e) { /* private mode */ }
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // Exponential backoff with jitter, at most 30 s.
  const backoff = (n) => Math.min(30000, 1000 * 2 ** Math.min(n, 5) * (0.75 + Math.random() * 0.5));

  let token = stored(TOKEN);
  let live = false; // a session was answered with this token
  let visitor = {};
  let website = {};
  let operatorsOnline = false;
  let connected = null; // null: connecting
  let seq = 0; // the last stream position seen (session, websocket, poll; never a POST answer)
  let isOpen = false;
  let unread = 0;
  let readDue = false;
  let outbox = [];
  try { outbox = JSON.parse(stored(OUTBOX)) || []; } catch (e) { /* ignore a damaged outbox */ }
  const shown = new Map(); // message id or client_id → its <li>
  let readyResolve;
  const ready = new Promise((r) => { readyResolve = r; });

  // ---- UI -------------------------------------------------------------------------------
  // A custom element, so the page's `div`/`button` rules do not match the host; the inline
  // !important styles beat the page's other rules.
  const host = document.createElement('rapport-chat');
  host.id = 'rapport-chat';
  host.style.cssText = 'all:initial!important;display:block!important;position:fixed!important;right:20px!important;'
    + 'bottom:20px!important;z-index:2147483000!important';
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `<style>
*{box-sizing:border-box}
.panel,.launcher{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;text-align:left}
[hidden]{display:none!important}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button{font:inherit;cursor:pointer}
:focus-visible{outline:3px solid #111827;outline-offset:2px;box-shadow:0 0 0 2px #fff}
.launcher{display:grid;place-items:center;width:56px;height:56px;margin-left:auto;position:relative;border:0;border-radius:50%;background:#1d4ed8;color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.3)}
.launcher:hover{background:#1e40af}
.launcher svg{width:28px;height:28px}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;padding:0 6px;border-radius:10px;background:#b91c1c;color:#fff;font-size:12px;font-weight:700;line-height:20px}
.panel{position:absolute;right:0;bottom:72px;display:flex;flex-direction:column;width:min(360px,calc(100vw - 40px));height:min(540px,calc(100vh - 112px));overflow:hidden;border-radius:12px;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.3)}
header{display:flex;align-items:center;gap:8px;padding:12px 8px 12px 16px;background:#1d4ed8;color:#fff}
header :focus-visible{outline-color:#fff;box-shadow:none}
h2{margin:0;font-size:16px;font-weight:600}
.status{margin:2px 0 0;font-size:13px;color:#e0e7ff}
.close{margin-left:auto;width:36px;height:36px;border:0;border-radius:6px;background:none;color:#fff;font-size:24px;line-height:1}
.close:hover{background:#1e40af}
ol{display:flex;flex:1;flex-direction:column;gap:8px;margin:0;padding:12px;overflow-y:auto;list-style:none}
ol:focus-visible{outline-offset:-3px}
li{display:flex;flex-direction:column;align-items:flex-start;max-width:85%}
li p{margin:0;padding:8px 12px;border-radius:14px;background:#f1f3f5;white-space:pre-wrap;overflow-wrap:anywhere}
.visitor{align-self:flex-end;align-items:flex-end}
.visitor p{background:#1d4ed8;color:#fff}
.visitor .who{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.system{align-self:center;align-items:center;max-width:100%;color:#4b5563;font-size:13px}
.system p{padding:2px;background:none}
.who,.meta{margin:0 4px 2px;color:#4b5563;font-size:12px}
.meta{margin:2px 4px 0}
.failed .meta{color:#b91c1c}
.meta button{margin-left:6px;padding:0 4px;border:1px solid #b91c1c;border-radius:4px;background:#fff;color:#b91c1c;font-size:12px}
.typing{margin:0;padding:0 16px 6px;color:#4b5563;font-size:13px;font-style:italic}
form{margin:0;padding:10px 12px;border-top:1px solid #e5e7eb}
.email{background:#f9fafb;font-size:13px}
.email p{margin:4px 0 0}
.err{color:#b91c1c}
.row{display:flex;gap:8px;margin-top:4px}
input,textarea{flex:1;min-width:0;padding:8px 10px;border:1px solid #6b7280;border-radius:8px;background:#fff;color:#111827;font:inherit}
textarea{max-height:120px;resize:none}
.send,.email button{padding:8px 14px;border:0;border-radius:8px;background:#1d4ed8;color:#fff;font-weight:600}
.send:hover,.email button:hover{background:#1e40af}
.composer .row{align-items:flex-end;margin:0}
</style>
<div class="panel" id="panel" role="dialog" aria-labelledby="title" hidden>
<header><div><h2 id="title">Chat</h2><p class="status" id="status">Connecting…</p></div>
<button type="button" class="close" aria-label="Close chat">×</button></header>
<ol class="messages" aria-label="Messages" aria-live="polite" aria-relevant="additions" tabindex="0"></ol>
<p class="typing" role="status" hidden></p>
<form class="email" hidden novalidate><label for="email">Leave your email and we'll reply there</label>
<div class="row"><input id="email" type="email" autocomplete="email" placeholder="you@example.com" required>
<button type="submit">Save</button></div><p class="err" role="alert" hidden></p></form>
<form class="composer"><label class="vh" for="input">Your message</label>
<div class="row"><textarea id="input" rows="1" placeholder="Write a message…" aria-describedby="hint"></textarea>
<button type="submit" class="send">Send</button></div><span class="vh" id="hint">Enter sends, Shift+Enter starts a new line</span></form>
</div>
<button type="button" class="launcher" aria-label="Open chat" aria-expanded="false" aria-controls="panel">
<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>
<span class="badge" aria-hidden="true" hidden></span></button>`;
  const $ = (s) => root.querySelector(s);
  const panel = $('.panel');
  const title = $('#title');
  const status = $('#status');
  const list = $('ol');
  const typingLine = $('.typing');
  const emailForm = $('.email');
  const emailInput = $('#email');
  const emailError = $('.err');
  const composer = $('.composer');
  const input = $('#input');
  const launcher = $('.launcher');
  const badge = $('.badge');
  const greeting = document.createElement('li');
  greeting.className = 'operator greeting';
  greeting.dataset.seq = '-1';
  greeting.append(document.createElement('span'), document.createElement('p'));
  greeting.firstChild.className = 'who';

  const attach = () => document.body.appendChild(host);
  if (document.body) attach();
  else document.addEventListener('DOMContentLoaded', attach);

  function render() {
    status.textContent = connected === null ? 'Connecting…'
      : !connected ? 'Reconnecting…'
        : operatorsOnline ? "We're online" : "We're away, we'll reply soon";
    emailForm.hidden = !live || operatorsOnline || !!visitor.email;
    badge.hidden = !unread;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    launcher.setAttribute('aria-label', unread ? `Open chat, ${unread} unread` : 'Open chat');
  }
  const setConnected = (on) => { connected = on; render(); };

  function open() {
    if (isOpen) return;
    isOpen = true;
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    unread = 0;
    render();
    list.scrollTop = list.scrollHeight;
    input.focus();
    markRead();
  }
  function close() {
    if (!isOpen) return;
    const hadFocus = root.activeElement && root.activeElement !== launcher;
    isOpen = false;
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    stopTyping();
    if (hadFocus) launcher.focus();
  }
  launcher.addEventListener('click', () => (isOpen ? close() : open()));
  $('.close').addEventListener('click', close);
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); close(); launcher.focus(); }
  });

  // ---- Messages -------------------------------------------------------------------------
  const position = (li) => (li.dataset.seq === undefined ? Infinity : +li.dataset.seq);
  // Keeps the list in stream order; messages not yet stored (no seq) stay last.
  function place(li) {
    const s = position(li);
    const prev = li.previousElementSibling;
    const next = li.nextElementSibling;
    if (li.parentNode === list && (!prev || position(prev) <= s) && (!next || position(next) >= s)) return;
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    list.insertBefore(li, [...list.children].find((el) => el !== li && position(el) > s) || null);
    if (stick || li.classList.contains('visitor')) list.scrollTop = list.scrollHeight;
  }
  function timeOf(date) {
    const d = new Date(date);
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  function setMeta(li, text, retry) {
    const meta = li.querySelector('.meta');
    meta.textContent = text;
    if (retry) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Retry';
      b.addEventListener('click', retry);
      meta.append(b);
    }
  }
  function messageItem(author, body) {
    const li = document.createElement('li');
    li.className = author;
    const who = document.createElement('span');
    who.className = 'who';
    const p = document.createElement('p');
    p.textContent = body;
    const meta = document.createElement('span');
    meta.className = 'meta';
    li.append(who, p, meta);
    return li;
  }
  function showPending(o) {
    let li = shown.get(o.client_id);
    if (!li) {
      li = messageItem('visitor', o.body);
      li.querySelector('.who').textContent = 'You:';
      shown.set(o.client_id, li);
    }
    li.classList.remove('failed');
    setMeta(li, 'Sending…');
    place(li);
  }
  // A message from the server (session, stream or POST answer). `fresh`: it just arrived.
  function addMessage(m, fresh) {
    if (!m || m.id == null) return;
    let li = shown.get(m.id) || (m.client_id && shown.get(m.client_id));
    const isNew = !li || !li.dataset.id;
    if (!li) li = messageItem(m.author || 'visitor', m.body);
    li.dataset.id = m.id;
    // A stored message without a seq (the session's history) sits at the stream position.
    li.dataset.seq = m.seq != null ? m.seq : li.dataset.seq || seq;
    li.classList.remove('failed');
    li.querySelector('.who').textContent = m.author === 'visitor' ? 'You:'
      : m.author === 'system' ? '' : m.operator_name || website.name || 'Support';
    setMeta(li, timeOf(m.date_created));
    shown.set(m.id, li);
    if (m.client_id) {
      shown.set(m.client_id, li);
      acknowledge(m.client_id);
    }
    place(li);
    if (isNew && m.author === 'operator') {
      showTyping(false);
      readDue = true;
      if (fresh && !(isOpen && document.visibilityState === 'visible')) unread++;
      render();
      markRead();
    }
  }
  function showGreeting() {
    greeting.firstChild.textContent = website.name || '';
    greeting.lastChild.textContent = website.greeting || '';
    if (website.greeting && !greeting.parentNode) list.prepend(greeting);
  }
  let typingTimer;
  function showTyping(on, name) {
    clearTimeout(typingTimer);
    typingLine.hidden = !on;
    typingLine.textContent = on ? `${name || 'An operator'} is typing…` : '';
    // A lost "typing: false" must not leave the line up forever.
    if (on) typingTimer = setTimeout(() => showTyping(false), 30000);
  }

  // ---- HTTP -----------------------------------------------------------------------------
  async function api(method, path, body, signal) {
    const headers = { 'X-Widget-Key': key };
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body) headers['Content-Type'] = 'application/json';
    const res = await fetch(base + path, {
      method, headers, signal, body: body ? JSON.stringify(body) : undefined, credentials: 'omit',
    });
    let data = null;
    try { data = res.status === 204 ? null : await res.json(); } catch (e) { /* not JSON */ }
    return { status: res.status, data };
  }
  const retryable = (r) => !r || r.status >= 500 || r.status === 408 || r.status === 429;

  async function startSession() {
    for (let attempt = 0; ; attempt++) {
      let r = null;
      try { r = await api('POST', 'widget/v1/session', {}); } catch (e) { /* network */ }
      if (r && r.status === 401 && token) {
        // A stale token (visitor deleted, key rotated): start as a new visitor.
        token = null;
        store(TOKEN, null);
        continue;
      }
      if (r && r.status < 300 && r.data && r.data.visitor_token) return applySession(r.data);
      if (!retryable(r)) {
        console.error(`Rapport: the chat is unavailable (HTTP ${r.status})`, r.data);
        host.remove();
        return;
      }
      setConnected(false);
      await sleep(backoff(attempt));
    }
  }
  function applySession(d) {
    token = d.visitor_token;
    store(TOKEN, token);
    visitor = d.visitor || {};
    website = d.website || {};
    operatorsOnline = !!website.operators_online;
    title.textContent = website.name || 'Chat';
    showGreeting();
    if (d.seq > seq) seq = d.seq;
    (d.messages || []).forEach((m) => addMessage(m, false));
    outbox.forEach(showPending);
    live = true;
    setConnected(true);
    readyResolve();
    connect();
    flush();
  }
  let restarting = null;
  // The server no longer knows our token: drop it and start over as a new visitor.
  function restart() {
    if (!restarting) {
      token = null;
      live = false;
      store(TOKEN, null);
      stopPolling();
      dropSocket();
      // A new visitor: the old one's messages and stream position go; the outbox stays.
      seq = 0;
      shown.clear();
      list.replaceChildren();
      restarting = startSession().finally(() => { restarting = null; });
    }
    return restarting;
  }

  // ---- Sending: an outbox kept in localStorage, retried with the same client_id ----------
  const saveOutbox = () => store(OUTBOX, outbox.length ? JSON.stringify(outbox) : null);
  function acknowledge(clientId) {
    const n = outbox.length;
    outbox = outbox.filter((o) => o.client_id !== clientId);
    if (outbox.length !== n) saveOutbox();
  }
  function failed(o, error) {
    acknowledge(o.client_id);
    const li = shown.get(o.client_id);
    if (!li) return;
    li.classList.add('failed');
    setMeta(li, 'Not sent' + (error ? `: ${error}` : ''), () => queue(o));
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const h = [...b].map((x) => (x + 256).toString(16).slice(1)).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function queue(o) {
    outbox.push(o);
    saveOutbox();
    showPending(o);
    flush();
  }
  let flushing = false;
  let flushTimer;
  let flushFails = 0;
  async function flush() {
    clearTimeout(flushTimer);
    if (!live || !outbox.length) return;
    if (socketOpen()) {
      for (const o of outbox) {
        if (!ws.sent.has(o.client_id)) {
          ws.sent.add(o.client_id);
          ws.send(JSON.stringify({ type: 'message', client_id: o.client_id, body: o.body }));
        }
      }
      return;
    }
    if (flushing) return;
    flushing = true;
    try {
      while (outbox.length && live && !socketOpen()) {
        const o = outbox[0];
        let r = null;
        try { r = await api('POST', 'widget/v1/message', { client_id: o.client_id, body: o.body }); } catch (e) { /* offline */ }
        if (r && r.status === 401) { await restart(); break; }
        if (retryable(r)) {
          const li = shown.get(o.client_id);
          if (li) setMeta(li, 'Waiting for the connection…');
          flushTimer = setTimeout(flush, backoff(flushFails++));
          break;
        }
        flushFails = 0;
        if (r.status < 300) addMessage(r.data, false);
        else failed(o, r.data && r.data.error);
        acknowledge(o.client_id);
      }
    } finally {
      flushing = false;
    }
    if (outbox.length && socketOpen()) flush();
  }
  function post(path, body) {
    if (live) api('POST', path, body).catch(() => { /* best effort */ });
  }

  // ---- Typing and read receipts ---------------------------------------------------------
  let typingSent = false;
  let typingAt = 0;
  let typingIdle;
  function sendTyping(typing) {
    if (socketOpen()) ws.send(JSON.stringify({ type: 'typing', typing }));
    else post('widget/v1/typing', { typing });
  }
  function onInput() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 120) + 'px';
    if (!input.value.trim()) return stopTyping();
    // At most one "typing: true" every 3 s; "false" after 5 s without a key.
    if (!typingSent || Date.now() - typingAt > 3000) {
      typingSent = true;
      typingAt = Date.now();
      sendTyping(true);
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, 5000);
  }
  function stopTyping() {
    clearTimeout(typingIdle);
    if (!typingSent) return;
    typingSent = false;
    sendTyping(false);
  }
  let readTimer;
  function markRead() {
    if (!readDue || !isOpen || !live || document.visibilityState !== 'visible') return;
    clearTimeout(readTimer);
    readTimer = setTimeout(() => {
      if (!isOpen) return;
      readDue = false;
      if (socketOpen()) ws.send('{"type":"read"}');
      else post('widget/v1/read');
    }, 300);
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && isOpen) { unread = 0; render(); markRead(); }
  });

  input.addEventListener('input', onInput);
  input.addEventListener('blur', stopTyping);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = '';
    onInput();
    stopTyping();
    queue({ client_id: uuid(), body });
  });

  // ---- Identify and the email form ------------------------------------------------------
  async function identify(opts) {
    const o = opts || {};
    await ready;
    const body = { email: o.email };
    if (o.name) body.name = o.name;
    if (o.hash) body.hash = o.hash;
    const r = await api('POST', 'widget/v1/identify', body);
    if (r.status >= 300) throw new Error((r.data && r.data.error) || `identify failed (HTTP ${r.status})`);
    visitor = (r.data && r.data.visitor) || visitor;
    render();
    return visitor;
  }
  emailForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    emailError.hidden = true;
    const email = emailInput.value.trim();
    if (!emailInput.checkValidity() || !email) {
      emailError.textContent = 'Please enter a valid email address.';
      emailError.hidden = false;
      emailInput.focus();
      return;
    }
    try {
      await identify({ email });
      const li = messageItem('system', `Thanks! We'll reply to ${email}.`);
      list.append(li);
      input.focus();
    } catch (err) {
      emailError.textContent = err.message || 'That did not work, please try again.';
      emailError.hidden = false;
    }
  });

  // ---- Live updates: a websocket, or long polling after 2 failed attempts in a row ------
  let ws = null;
  let wsFails = 0;
  let wsTimer;
  const socketOpen = () => ws && ws.readyState === 1;
  function dropSocket() {
    const s = ws;
    if (!s) return;
    ws = null;
    clearInterval(s.pinger);
    s.onclose = s.onmessage = s.onerror = null;
    try { s.close(); } catch (e) { /* already closed */ }
  }
  function connect() {
    clearTimeout(wsTimer);
    if (ws || !live) return;
    const u = new URL('widget/ws', base);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.search = new URLSearchParams({ key, token, after: seq });
    let s;
    try { s = new WebSocket(u.href); } catch (e) { return lost(null, false); }
    ws = s;
    s.sent = new Set();
    let healthy = false;
    let last = Date.now();
    const good = () => { healthy = true; wsFails = 0; };
    s.onopen = () => {
      // The socket replays from `after`, so the long poll can stop now.
      stopPolling();
      setConnected(true);
      setTimeout(() => { if (ws === s) good(); }, 10000);
      s.pinger = setInterval(() => {
        // No frame for a minute (not even a pong): the connection is dead.
        if (Date.now() - last > 60000) lost(s, healthy);
        else s.send('{"type":"ping"}');
      }, 25000);
      flush();
      if (typingSent) sendTyping(true);
      markRead();
    };
    s.onmessage = (e) => {
      last = Date.now();
      let f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      onFrame(f, good);
    };
    s.onclose = () => lost(s, healthy);
  }
  function lost(s, healthy) {
    if (s) {
      if (ws !== s) return;
      dropSocket();
    }
    if (!healthy) wsFails++;
    if (wsFails >= 2) startPolling();
    else setConnected(false);
    wsTimer = setTimeout(connect, healthy ? 500 : backoff(wsFails - 1));
  }
  function onFrame(f, good) {
    const d = f.data || {};
    const at = f.seq != null ? f.seq : d.seq;
    if (f.type === 'message') {
      addMessage(d, true);
      if (at > seq) seq = at;
    } else if (f.type === 'ready') {
      if (at > seq) seq = at;
      good();
      stopPolling();
      setConnected(true);
    } else if (f.type === 'typing') {
      showTyping(!!d.typing, d.operator_name);
    } else if (f.type === 'operators') {
      operatorsOnline = !!d.online;
      render();
    } else if (f.type === 'error') {
      const o = outbox.find((x) => x.client_id === d.client_id);
      if (o) failed(o, d.error);
      else console.warn('Rapport:', d.error);
    }
  }
  let polling = false;
  let pollAbort = null;
  async function startPolling() {
    if (polling) return;
    polling = true;
    flush();
    for (let fails = 0; polling && live;) {
      pollAbort = new AbortController();
      const timer = setTimeout(() => pollAbort.abort(), 40000);
      let r = null;
      try { r = await api('GET', `widget/v1/message?after=${seq}&wait=25`, null, pollAbort.signal); } catch (e) { /* network or abort */ }
      clearTimeout(timer);
      if (!polling) break;
      if (r && r.status === 401) { polling = false; restart(); break; }
      if (r && r.status === 200 && r.data) {
        fails = 0;
        if (!socketOpen()) setConnected(true);
        (r.data.messages || []).forEach((m) => {
          addMessage(m, true);
          if (m.seq > seq) seq = m.seq;
        });
        if (r.data.seq > seq) seq = r.data.seq;
        if (!r.data.operator_typing || typingLine.hidden) showTyping(!!r.data.operator_typing);
        flush();
      } else {
        setConnected(false);
        await sleep(backoff(fails++));
      }
    }
    polling = false;
  }
  function stopPolling() {
    polling = false;
    if (pollAbort) pollAbort.abort();
  }
  window.addEventListener('online', () => {
    if (!live) return;
    if (!ws) connect();
    flush();
  });

  // ---- Public API -----------------------------------------------------------------------
  const api_ = {
    version: 1,
    open,
    close,
    identify: (opts) => identify(opts),
  };
  window.Rapport = api_;
  const call = (c) => {
    const [name, ...args] = Array.isArray(c) ? c : [c];
    if (typeof api_[name] !== 'function' || name === 'version') return console.warn('Rapport: unknown call', name);
    const out = api_[name](...args);
    if (out && out.catch) out.catch((e) => console.warn('Rapport:', name, e.message));
    return out;
  };
  const early = window.RapportQueue;
  window.RapportQueue = { push: (...cs) => cs.forEach(call) };
  render();
  startSession();
  if (Array.isArray(early)) early.forEach(call);
})();
