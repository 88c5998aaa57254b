// The HTTP API (docs/api.md) as the UI uses it. Credentials live in sessionStorage (gone when the tab closes, never
// in a cookie): {kind: 'token'|'key', value, user}. They go in headers, also for the event stream (stream.js).

const STORE = 'squall.credentials';

export function credentials() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE));
  } catch {
    return null;
  }
}

export function forget() {
  sessionStorage.removeItem(STORE);
}

export function authHeaders(c = credentials()) {
  if (!c) return {};
  return c.kind === 'token' ? {'X-Auth-Token': c.value} : {'St2-Api-Key': c.value};
}

/** An API error: `status` and the server's faultstring as the message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Called on a 401: the app goes back to the login form. */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

async function failure(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && typeof body.faultstring === 'string') message = body.faultstring;
  } catch {
    // not JSON: the status line says it
  }
  return new ApiError(res.status, message);
}

/**
 * A request to /api/v1 + path. `query` values that are empty are left out. Answers {data, total} (total from
 * X-Total-Count, for lists); throws ApiError.
 */
export async function api(path, {method = 'GET', query, body, headers} = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const url = `/api/v1${path}${q.toString() ? `?${q}` : ''}`;
  const init = {method, headers: {...authHeaders(), ...headers}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  if (res.status === 401 && !headers) {
    forget();
    onUnauthorized();
  }
  if (!res.ok) throw await failure(res);
  const type = res.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await res.json() : await res.text();
  const total = res.headers.get('X-Total-Count');
  return {data, total: total === null ? undefined : Number(total)};
}

function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** User and password → a token (POST /auth/v1/tokens with HTTP Basic), kept for the session. */
export async function login(user, password) {
  const res = await fetch('/auth/v1/tokens', {
    method: 'POST',
    headers: {'Authorization': `Basic ${base64(`${user}:${password}`)}`, 'Content-Type': 'application/json'},
    body: '{}',
  });
  if (!res.ok) throw await failure(res);
  const body = await res.json();
  sessionStorage.setItem(STORE, JSON.stringify({kind: 'token', value: body.token, user: body.user}));
}

/** An API key alone: checked with GET /user, then kept for the session. */
export async function useApiKey(key) {
  const c = {kind: 'key', value: key};
  const {data} = await api('/user', {headers: authHeaders(c)});
  c.user = data.username;
  sessionStorage.setItem(STORE, JSON.stringify(c));
}

/** Revokes the session's token (an API key stays valid) and forgets the credentials. */
export async function logout() {
  const c = credentials();
  forget();
  if (c && c.kind === 'token') {
    await fetch(`/auth/v1/tokens/${encodeURIComponent(c.value)}`, {method: 'DELETE', headers: authHeaders(c)})
      .catch(() => {});
  }
}
