// The app shell: session (login, logout), hash router, navigation, global shortcuts and
// the `?` help; the signed-out screens (forgot password, the emailed reset link). Screens load as modules of their own: the leads screen starts loading at
// once, in parallel with `GET /me`, so the first screen waits for one request; the lead
// page's modules load when the browser is idle after that.

import { render } from 'preact';
import { useState, useEffect, useRef, useLayoutEffect } from 'preact/hooks';
import { api, setCsrfToken, setUnauthorizedHandler, ApiError } from './api.js';
import { Realtime } from './realtime.js';
import { html, Toasts, toast, setUsers, markOnce, trackPresence, fullName, errorText, navigate } from './ui.js';
import { useKeys, HelpDialog } from './keyboard.js';
import { watchMeta, clearMeta } from './meta.js';

const modules = {
  leads: () => import('./leads.js'),
  lead: () => import('./lead.js'),
  inbox: () => import('./inbox.js'),
  settings: () => import('./settings.js'),
};
const loaded = new Map(); // name -> promise of the module
const ready = new Map(); // name -> the module, once loaded
function load(name) {
  if (!loaded.has(name)) {
    const p = modules[name]();
    p.then((mod) => ready.set(name, mod), () => loaded.delete(name));
    loaded.set(name, p);
  }
  return loaded.get(name);
}

const firstMe = api.get('me/').then(
  (me) => ({ me }),
  (error) => ({ error }),
);
load('leads');

const realtime = new Realtime();
trackPresence(realtime);
watchMeta(realtime);

let routeSeq = 0;
/** The hash as `{path, params, raw, seq}`; `seq` tells two visits of one hash apart. */
export function parseRoute() {
  routeSeq++;
  const raw = location.hash.replace(/^#/, '') || '/leads';
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  return { path: path.replace(/\/+$/, '') || '/leads', params, raw, seq: routeSeq };
}

/** A message for the login screen: `{text, kind}`, kind `error` (an alert) or `info`. */
function Notice({ notice }) {
  const info = notice && notice.kind === 'info' ? notice.text : '';
  return html`<p class="form-notice" role="status">${info}</p>`;
}

function Login({ onLogin, notice }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(notice && notice.kind !== 'info' ? notice.text : '');
  const [info, setInfo] = useState(notice && notice.kind === 'info' ? notice : null);
  const [busy, setBusy] = useState(false);
  const emailRef = useRef();
  useEffect(() => {
    emailRef.current && emailRef.current.focus();
    markOnce('rapport:login-ready');
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    setInfo(null);
    try {
      const answer = await api.post('auth/login/', { email: email.trim(), password });
      onLogin(answer.user, answer.csrf_token);
    } catch (err) {
      setBusy(false);
      setError(err instanceof ApiError && err.status === 401 ? 'Wrong email or password.' : errorText(err));
    }
  };
  return html`<main id="main" class="login">
    <form class="card login-form" onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title"><span class="logo" aria-hidden="true">R</span> Sign in to Rapport</h1>
      <${Notice} notice=${info} />
      <label for="login-email">Email</label>
      <input id="login-email" ref=${emailRef} type="email" autocomplete="username" required
        value=${email} onInput=${(e) => setEmail(e.target.value)} />
      <label for="login-password">Password</label>
      <input id="login-password" type="password" autocomplete="current-password" required
        value=${password} onInput=${(e) => setPassword(e.target.value)} />
      <p class="form-error" role="alert">${error}</p>
      <button class="primary" type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      <p class="login-links"><a href="#/forgot-password">Forgot password?</a></p>
    </form>
  </main>`;
}

/** A labelled input of the signed-out screens, with its error below it. */
function LoginField({ id, label, error, inputRef, ...props }) {
  return html`
    <label for=${id}>${label}</label>
    <input id=${id} ref=${inputRef} aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? `${id}-error` : undefined} ...${props} />
    ${error && html`<small id=${`${id}-error`} class="field-error">${error}</small>`}`;
}

/** "Forgot password?": asks the server to email a link; says the same whatever the email. */
function ForgotPassword() {
  const [email, setEmail] = useState('');
  const [state, setState] = useState({ busy: false, sent: false, error: '', field: '' });
  const emailRef = useRef();
  useEffect(() => emailRef.current && emailRef.current.focus(), []);
  const submit = async (e) => {
    e.preventDefault();
    setState({ busy: true, sent: false, error: '', field: '' });
    try {
      await api.post('auth/password_reset/', { email: email.trim() });
      setState({ busy: false, sent: true, error: '', field: '' });
    } catch (err) {
      const field = (err.fieldErrors && err.fieldErrors.email) || '';
      // 503: the server sends no email, and says what to do instead.
      setState({ busy: false, sent: false, error: field ? '' : errorText(err), field });
    }
  };
  return html`<main id="main" class="login">
    <form class="card login-form" onSubmit=${submit} aria-labelledby="forgot-title">
      <h1 id="forgot-title"><span class="logo" aria-hidden="true">R</span> Forgot your password?</h1>
      <p class="muted">Give your account's email: Rapport emails you a link to choose a new password.</p>
      <${LoginField} id="forgot-email" label="Email" inputRef=${emailRef} type="email" autocomplete="username" required
        value=${email} onInput=${(e) => setEmail(e.target.value)} error=${state.field} />
      <p class="form-notice" role="status">${state.sent
        ? 'If an account has this email, a link is on its way. It works once, within an hour.'
        : ''}</p>
      <p class="form-error" role="alert">${state.error}</p>
      <button class="primary" type="submit" disabled=${state.busy}>${state.busy ? 'Sending…' : state.sent ? 'Send again' : 'Email me a link'}</button>
      <p class="login-links"><a href="#/leads">Back to sign in</a></p>
    </form>
  </main>`;
}

/** `#/reset-password/<token>`, the emailed link: a new password, with no session. */
function ResetPassword({ token, onDone }) {
  const [v, setV] = useState({ password: '', confirm: '' });
  const [state, setState] = useState({ busy: false, error: '', token: '', password: '', confirm: '' });
  const passwordRef = useRef();
  useEffect(() => passwordRef.current && passwordRef.current.focus(), []);
  const set = (k) => (e) => setV({ ...v, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    if (v.password !== v.confirm) {
      setState({ busy: false, error: '', token: '', password: '', confirm: 'does not match the new password' });
      document.getElementById('reset-confirm').focus();
      return;
    }
    setState({ busy: true, error: '', token: '', password: '', confirm: '' });
    try {
      await api.post('auth/password_reset/confirm/', { token, password: v.password });
      onDone();
    } catch (err) {
      const fields = err.fieldErrors || {};
      const known = fields.token || fields.password;
      setState({ busy: false, error: known ? '' : errorText(err), token: fields.token || '', password: fields.password || '', confirm: '' });
    }
  };
  return html`<main id="main" class="login">
    <form class="card login-form" onSubmit=${submit} aria-labelledby="reset-title">
      <h1 id="reset-title"><span class="logo" aria-hidden="true">R</span> Choose a new password</h1>
      <${LoginField} id="reset-password" label="New password" inputRef=${passwordRef} type="password" autocomplete="new-password" required
        value=${v.password} onInput=${set('password')} error=${state.password} />
      <${LoginField} id="reset-confirm" label="Confirm the new password" type="password" autocomplete="new-password" required
        value=${v.confirm} onInput=${set('confirm')} error=${state.confirm} />
      <p class="form-error" role="alert">${state.token
        ? html`${state.token[0].toUpperCase() + state.token.slice(1)}. <a href="#/forgot-password">Email me a new link</a>`
        : state.error}</p>
      <button class="primary" type="submit" disabled=${state.busy}>${state.busy ? 'Saving…' : 'Set password'}</button>
      <p class="login-links"><a href="#/leads">Back to sign in</a></p>
    </form>
  </main>`;
}

/** A screen from a module loaded on demand; says so clearly when it cannot be loaded. */
function Lazy({ name, label, props }) {
  const [, setVersion] = useState(0);
  const [failure, setFailure] = useState(null);
  const mod = ready.get(name);
  useEffect(() => {
    if (mod || (failure && failure.name === name)) return;
    let live = true;
    load(name).then(
      () => live && setVersion((n) => n + 1),
      (error) => live && setFailure({ name, error }),
    );
    return () => {
      live = false;
    };
  }, [name, mod, failure]);
  if (failure && failure.name === name) {
    return html`<div class="screen-error" role="alert">
      <h1>${label} could not be loaded</h1>
      <p>${failure.error.message || String(failure.error)}</p>
      <button type="button" onClick=${() => setFailure(null)}>Try again</button>
    </div>`;
  }
  if (!mod) return html`<p class="loading" role="status">Loading ${label.toLowerCase()}…</p>`;
  const Screen = mod.default;
  return html`<${Screen} ...${props} />`;
}

/** "Reconnecting…" while the realtime socket is down (others' changes are delayed). */
function Connection() {
  const [state, setState] = useState('connecting');
  useEffect(() => {
    const offs = [
      realtime.on('hello', () => setState('live')),
      realtime.on('disconnected', () => setState('down')),
    ];
    return () => offs.forEach((off) => off());
  }, []);
  if (state === 'live') return null;
  return html`<span class="connection" role="status" title="Changes by others show once the connection is back">
    ${state === 'down' ? 'Reconnecting…' : 'Connecting…'}</span>`;
}

function NavLink({ href, current, children }) {
  return html`<a href=${href} aria-current=${current ? 'page' : undefined}>${children}</a>`;
}

function Shell({ me, users, route, onLogout, onMe, onUsersChanged, onSignedOut }) {
  const helpRef = useRef();
  const mainRef = useRef();
  const path = route.path;
  const section = path.startsWith('/inbox') ? 'inbox' : path.startsWith('/settings') ? 'settings' : 'leads';

  useKeys({
    '?': () => helpRef.current && helpRef.current.showModal(),
    '/': () => {
      const input = document.getElementById('query-input');
      if (input) input.focus();
      else {
        navigate('#/leads');
        setTimeout(() => document.getElementById('query-input')?.focus(), 60);
      }
    },
    'g l': () => navigate('#/leads'),
    'g i': () => navigate('#/inbox'),
    'g s': () => navigate('#/settings'),
  });

  // The lead page's modules load once the first screen is up, before the first click.
  useEffect(() => {
    const idle = window.requestIdleCallback || ((fn) => setTimeout(fn, 1200));
    idle(() => load('lead'));
  }, []);

  // A new screen: move focus to the main area so screen readers start there.
  const first = useRef(true);
  useLayoutEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (mainRef.current && !mainRef.current.contains(document.activeElement)) mainRef.current.focus({ preventScroll: true });
  }, [path]);

  let screen;
  const common = { me, users, realtime };
  if (path === '/leads') {
    screen = html`<${Lazy} name="leads" label="Leads" props=${{ ...common, route }} />`;
  } else if (path.startsWith('/lead/')) {
    const id = decodeURIComponent(path.slice('/lead/'.length));
    screen = html`<${Lazy} name="lead" label="The lead" props=${{ ...common, id, key: id }} />`;
  } else if (path.startsWith('/inbox')) {
    screen = html`<${Lazy} name="inbox" label="Inbox" props=${{ ...common, route: path.slice('/inbox'.length) }} />`;
  } else if (path.startsWith('/settings')) {
    const props = { me, users, route: path.slice('/settings'.length), onMe, onUsersChanged, onSignedOut };
    screen = html`<${Lazy} name="settings" label="Settings" props=${props} />`;
  } else if (path === '/forgot-password') {
    screen = html`<div class="screen-error"><h1>You are signed in</h1>
      <p>Change your password in <a href="#/settings/account">Settings → My account</a>.</p></div>`;
  } else {
    screen = html`<div class="screen-error"><h1>Page not found</h1><p><a href="#/leads">Go to leads</a></p></div>`;
  }

  return html`<div class="shell">
    <header class="topbar">
      <button type="button" class="skip" onClick=${() => mainRef.current.focus()}>Skip to content</button>
      <a class="brand" href="#/leads"><span class="logo" aria-hidden="true">R</span> Rapport</a>
      <nav aria-label="Main">
        <${NavLink} href="#/leads" current=${section === 'leads'}>Leads<//>
        <${NavLink} href="#/inbox" current=${section === 'inbox'}>Inbox<//>
        <${NavLink} href="#/settings" current=${section === 'settings'}>Settings<//>
      </nav>
      <div class="topbar-end">
        <${Connection} />
        <button type="button" class="ghost" onClick=${() => helpRef.current.showModal()} aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)">?</button>
        <span class="whoami" title=${me.email}>${fullName(me)}</span>
        <button type="button" class="ghost" onClick=${onLogout}>Log out</button>
      </div>
    </header>
    <main id="main" ref=${mainRef} tabindex="-1">${screen}</main>
    <${HelpDialog} dialogRef=${helpRef} />
  </div>`;
}

function App() {
  const [session, setSession] = useState(undefined); // undefined: checking; null: signed out
  const [users, setUsersList] = useState([]);
  const [route, setRoute] = useState(parseRoute);
  const [notice, setNotice] = useState(null); // for the login screen: {text, kind}
  const [bootError, setBootError] = useState(null);
  const signedIn = useRef(false);
  signedIn.current = !!session;

  // A login message belongs to the login it was for, not to a later visit from these.
  useEffect(() => {
    if (route.path === '/forgot-password' || route.path.startsWith('/reset-password/')) setNotice(null);
  }, [route.path]);

  useEffect(() => {
    const onHash = () => setRoute(parseRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const loadUsers = (meId) =>
    api.get('user/').then(
      (answer) => {
        setUsers(answer.data, meId);
        setUsersList(answer.data);
      },
      () => {},
    );

  const start = (me, csrf) => {
    setCsrfToken(csrf || me.csrf_token);
    setUsers([me], me.id);
    setSession({ me });
    loadUsers(me.id);
    realtime.start();
  };

  /** After one's name or role changed: `GET /me` again (the top bar, what settings allow). */
  const reloadMe = () => api.get('me/').then((me) => signedIn.current && setSession({ me }), () => {});

  const signedOut = (message, kind = 'error') => {
    signedIn.current = false; // later 401s of this session's requests say nothing more
    realtime.stop();
    clearMeta();
    setCsrfToken(null);
    setNotice(message ? { text: message, kind } : null);
    setSession(null);
  };

  /** The emailed link set a new password: every session of the account has ended. */
  const passwordSet = async () => {
    history.replaceState(null, '', '#/leads');
    setRoute(parseRoute());
    if (signedIn.current) await api.post('auth/logout/').catch(() => {});
    signedOut('Password set; log in.', 'info');
  };

  useEffect(() => {
    // Only a session that was open can end (the first `GET /me` answers 401 when there is none).
    setUnauthorizedHandler(() => signedIn.current && signedOut('Your session has ended. Please sign in again.'));
    // The server closed the socket for an ended session (removed from the team, password
    // changed elsewhere): a request confirms it, and its 401 shows the login.
    realtime.on('unauthorized', () => signedIn.current && api.get('me/').catch(() => {}));
    firstMe.then(({ me, error }) => {
      if (me) start(me);
      else if (error instanceof ApiError && error.status === 401) setSession(null);
      else setBootError(error);
    });
  }, []);

  const logout = async () => {
    try {
      await api.post('auth/logout/');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        toast(`Could not log out: ${errorText(e)}`, 'error');
        return;
      }
    }
    signedOut('');
  };

  let body;
  if (bootError) {
    body = html`<main id="main" class="screen-error" role="alert">
      <h1>Rapport cannot be reached</h1><p>${errorText(bootError)}</p>
      <button type="button" onClick=${() => location.reload()}>Reload</button></main>`;
  } else if (route.path.startsWith('/reset-password/')) {
    const token = decodeURIComponent(route.path.slice('/reset-password/'.length));
    body = html`<${ResetPassword} key=${token} token=${token} onDone=${passwordSet} />`;
  } else if (session === undefined) {
    body = html`<p class="boot" role="status">Loading Rapport…</p>`;
  } else if (session === null && route.path === '/forgot-password') {
    body = html`<${ForgotPassword} />`;
  } else if (session === null) {
    body = html`<${Login} key=${notice ? notice.text : ''} notice=${notice} onLogin=${(me, csrf) => start(me, csrf)} />`;
  } else {
    body = html`<${Shell} me=${session.me} users=${users} route=${route} onLogout=${logout}
      onMe=${reloadMe} onUsersChanged=${() => loadUsers()} onSignedOut=${(message) => signedOut(message, 'info')} />`;
  }
  return html`${body}<${Toasts} />`;
}

render(html`<${App} />`, document.getElementById('app'));
