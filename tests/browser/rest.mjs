// What the browser scripts share: the REST API with an API key (HTTP Basic), and named
// steps whose failure says which step it was.

/** `rest(method, path, body)` against `${base}/api/v1/`; throws with the status and body. */
export function restClient(base, apiKey, timeout) {
  const auth = 'Basic ' + Buffer.from(`${apiKey}:`).toString('base64');
  return async function rest(method, path, body) {
    const res = await fetch(`${base}/api/v1/${path}`, {
      method,
      headers: { Authorization: auth, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeout),
    });
    const text = await res.text();
    let data;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (!res.ok) {
      const e = new Error(`${method} /api/v1/${path} answered ${res.status}: ${text}`);
      e.status = res.status;
      throw e;
    }
    return data;
  };
}

/** Runs `fn`, logging `step ok: name (ms)`; a failure names the step it happened in. */
export async function step(name, fn) {
  const started = Date.now();
  try {
    const out = await fn();
    console.log(`step ok: ${name} (${Date.now() - started} ms)`);
    return out;
  } catch (e) {
    throw new Error(`${name}: ${String(e.message).split('\n')[0]}`);
  }
}
