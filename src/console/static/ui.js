// Small shared pieces: routing links, URL filters, formatting, badges, sparklines, the nexusctl hint.
import { html, useEffect, useState } from '/vendor/htm-preact.js';
import { errorText } from './api.js';

const routeListeners = new Set();
export function onRoute(fn) {
  routeListeners.add(fn);
  return () => routeListeners.delete(fn);
}
export function navigate(href, replace = false) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  for (const fn of routeListeners) fn();
}
addEventListener('popstate', () => {
  for (const fn of routeListeners) fn();
});

/** An in-app link (History API; ctrl/middle click still opens a tab). */
export function Link({ href, children, ...rest }) {
  const click = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`;
}

/** The current query string as an object, and a setter that writes it back to the URL (replace). */
export function useQuery() {
  const [, setN] = useState(0);
  useEffect(() => onRoute(() => setN((n) => n + 1)), []);
  const query = Object.fromEntries(new URLSearchParams(location.search));
  const setQuery = (next) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const s = q.toString();
    navigate(location.pathname + (s ? `?${s}` : ''), true);
  };
  return [query, setQuery];
}

/** AGENT_STATE_ONLINE -> online */
export function enumName(v, prefix) {
  if (v === undefined || v === null || v === '') return 'unspecified';
  return String(v).replace(prefix, '').toLowerCase();
}
export const commandState = (s) => enumName(s, 'COMMAND_STATE_');
export const agentState = (s) => enumName(s, 'AGENT_STATE_');

export function fmtTime(ms) {
  if (!ms) return '—';
  const d = new Date(Number(ms));
  const today = new Date();
  const t = d.toLocaleTimeString(undefined, { hour12: false });
  return d.toDateString() === today.toDateString() ? t : `${d.toISOString().slice(0, 10)} ${t}`;
}
export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((now - Number(ms)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
export function fmtBytes(n) {
  if (!n) return '0';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${u[i]}`;
}
export function fmtDuration(ms) {
  if (ms === undefined || ms === null || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`;
}

export function StateBadge({ state, kind = 'command' }) {
  const name = kind === 'agent' ? agentState(state) : commandState(state);
  return html`<span class=${`badge st-${name}`} data-testid="state">${name}</span>`;
}

/** The error of a load, in the page (503 = "replica unavailable, retrying"). */
export function ErrorBox({ error }) {
  if (!error) return null;
  const cls = error.status === 503 || error.status === 0 ? 'notice warn' : 'notice error';
  return html`<div class=${cls} role="alert" data-testid="error">${errorText(error)}</div>`;
}

export function Empty({ children }) {
  return html`<p class="empty" data-testid="empty">${children}</p>`;
}

/** The nexusctl command that does the same as an action of the page. */
export function Cli({ cmd }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(cmd);
      setCopied(true);
      setTimeout(() => setCopied(false), 1200);
    } catch {
      /* clipboard refused: the text is there to select */
    }
  };
  return html`<div class="cli" data-testid="cli" title="the same with nexusctl"><code>${cmd}</code><button type="button" class="link" onClick=${copy}>${copied ? 'copied' : 'copy'}</button></div>`;
}

/** Shell quoting for the nexusctl hints. */
export function sh(s) {
  s = String(s);
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A tiny SVG line of the last values (0..max); data-points carries the values for tests. */
export function Sparkline({ values, max = 100, testid, title }) {
  const w = 120;
  const h = 24;
  const n = values.length;
  const m = Math.max(max, ...values, 1);
  const step = w / (Math.max(n, 2) - 1);
  const pts = values.map((v, i) => `${(w - (n - 1 - i) * step).toFixed(1)},${(h - 1 - (v / m) * (h - 2)).toFixed(1)}`).join(' ');
  const last = n ? values[n - 1] : undefined;
  return html`<span class="spark" data-testid=${testid} data-points=${values.map((v) => v.toFixed(1)).join(',')} title=${title}>
    <svg width=${w} height=${h} viewBox=${`0 0 ${w} ${h}`} aria-hidden="true"><polyline points=${pts} class="spark-line" />${n ? html`<circle cx=${w} cy=${(h - 1 - (last / m) * (h - 2)).toFixed(1)} r="1.8" class="spark-dot" />` : null}</svg>
    <span class="spark-value">${last === undefined ? '—' : `${last.toFixed(0)}%`}</span>
  </span>`;
}

export function Labels({ labels }) {
  const entries = Object.entries(labels || {});
  if (!entries.length) return html`<span class="muted">—</span>`;
  return html`<span class="labels">${entries.map(([k, v]) => html`<span class="label">${k}=${v}</span>`)}</span>`;
}

/** A text input that commits on Enter or blur (so typing does not reload the list on each key). */
export function FilterInput({ label, value, onCommit, placeholder, testid }) {
  const [v, setV] = useState(value || '');
  useEffect(() => setV(value || ''), [value]);
  const commit = () => {
    if ((value || '') !== v.trim()) onCommit(v.trim());
  };
  return html`<label class="field"><span>${label}</span><input type="text" value=${v} placeholder=${placeholder} data-testid=${testid}
    onInput=${(e) => setV(e.target.value)} onBlur=${commit} onKeyDown=${(e) => e.key === 'Enter' && commit()} /></label>`;
}

/** Shown state of an EventSource: live, reconnecting, ended. */
export function LiveDot({ status }) {
  if (status === 'off') return null;
  return html`<span class=${`live live-${status}`} data-testid="live" title=${status}>${status}</span>`;
}
