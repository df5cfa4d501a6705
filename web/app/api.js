// The public REST API as the app calls it: the session cookie authenticates, and every
// write carries the session's CSRF token (the server refuses a cookie-authenticated write
// without it). Errors become ApiError with the server's message, field errors and, for
// query errors, the span.

let csrfToken = null;

/** Set from the login answer or `GET /api/v1/me/` (`csrf_token`). */
export function setCsrfToken(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, body) {
    const fields = body && body['field-errors'] ? body['field-errors'] : {};
    const message =
      (body && (body.error || (body.errors && body.errors[0]))) ||
      Object.entries(fields).map(([f, m]) => `${f}: ${m}`).join('; ') ||
      `request failed (HTTP ${status})`;
    super(message);
    this.status = status;
    this.body = body || {};
    this.fieldErrors = fields;
    // Query errors (400): {error, span: {start, end}, hint}.
    this.span = body && body.span ? body.span : null;
    this.hint = body && body.hint ? body.hint : null;
  }
}

/** Called when a request answers 401 (the session expired): the app shows the login. */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export async function request(method, path, body, { signal, headers = {}, retried = false } = {}) {
  const init = { method, credentials: 'same-origin', signal, headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) init.headers['X-CSRF-Token'] = csrfToken;
  // Relative dates in queries resolve in the user's time zone.
  init.headers['X-Requested-With'] = 'rapport-web';
  init.headers['X-TZ-Offset'] = String(-new Date().getTimezoneOffset() / 60);
  const response = await fetch(path.startsWith('/') ? path : `/api/v1/${path}`, init);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text };
    }
  }
  if (!response.ok) {
    // Rate limited: a read waits as told (at most 5 s) and tries once more.
    if (response.status === 429 && method === 'GET' && !retried) {
      const wait = Math.min(5, Number(response.headers.get('Retry-After')) || 1) * 1000;
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (!(signal && signal.aborted)) return request(method, path, body, { signal, headers, retried: true });
    }
    if (response.status === 401 && !path.includes('auth/login')) onUnauthorized();
    throw new ApiError(response.status, data);
  }
  return data;
}

export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body, opts) => request('POST', path, body ?? {}, opts),
  put: (path, body, opts) => request('PUT', path, body ?? {}, opts),
  del: (path, opts) => request('DELETE', path, undefined, opts),
};

/** `a=1&b=2` from an object, skipping undefined and null. */
export function qs(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) search.set(k, v);
  return search.toString();
}
