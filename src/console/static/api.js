// JSON API helpers: errors as ApiError (status + message), the replica that answered, CSRF on POSTs.
import { useEffect, useRef, useState } from '/vendor/htm-preact.js';

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const listeners = new Set();
let answeredBy = '';
/** Called with the replica id each time a response names the replica that answered. */
export function onAnsweredBy(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function noteReplica(body) {
  if (body && typeof body.answeredBy === 'string' && body.answeredBy && body.answeredBy !== answeredBy) {
    answeredBy = body.answeredBy;
    for (const fn of listeners) fn(answeredBy);
  }
}

const unauthorized = new Set();
/** Called when a request answers 401 (the session expired or the token was revoked). */
export function onUnauthorized(fn) {
  unauthorized.add(fn);
  return () => unauthorized.delete(fn);
}

let csrfToken = '';
export function setCsrf(token) {
  csrfToken = token || '';
}
function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)nexus_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : csrfToken;
}

async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.headers['x-csrf-token'] = csrf();
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'the console server cannot be reached', 'UNAVAILABLE');
  }
  let json = {};
  const text = await res.text();
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = { error: text.slice(0, 200) };
    }
  }
  if (res.status === 401 && !path.startsWith('/api/login')) for (const fn of unauthorized) fn();
  if (!res.ok) throw new ApiError(res.status, json.error || res.statusText || `HTTP ${res.status}`, json.code);
  noteReplica(json);
  return json;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body ?? {});

/** A query string from an object, skipping empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** How an error reads in the page (503: the replica is unavailable and the page retries). */
export function errorText(err) {
  if (!err) return '';
  if (err.status === 503 || err.status === 0) return `replica unavailable, retrying (${err.message})`;
  if (err.status === 401) return 'not logged in';
  if (err.status === 403) return `denied: ${err.message}`;
  if (err.status === 404) return `not found: ${err.message}`;
  return err.message || String(err);
}

/**
 * Polls `load()` every `ms` (and when `deps` change): { data, error, loading, reload }.
 * An error keeps the last data and the polling goes on (that is the retry).
 */
export function usePoll(load, ms, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const tick = useRef(0);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer;
    const my = ++tick.current;
    setState((s) => ({ ...s, loading: true }));
    const run = async () => {
      try {
        const data = await load();
        if (!stopped && my === tick.current) setState({ data, error: null, loading: false });
      } catch (error) {
        if (!stopped && my === tick.current) setState((s) => ({ data: s.data, error, loading: false }));
      }
      if (!stopped && ms > 0) timer = setTimeout(run, document.hidden ? ms * 3 : ms);
    };
    run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [...deps, nonce]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}
