// Commands: ListCommands filters in the URL; rows update live from the events stream; send (operators).
import { html, useEffect, useRef, useState } from '/vendor/htm-preact.js';
import { get, post, qs, usePoll } from './api.js';
import { useEventSource } from './sse.js';
import { Cli, Empty, ErrorBox, FilterInput, Link, LiveDot, StateBadge, fmtTime, sh, useQuery } from './ui.js';

const STATES = ['queued', 'delivered', 'retrying', 'succeeded', 'failed', 'dead', 'cancelled'];
const EVENT_STATE = {
  command_queued: 'COMMAND_STATE_QUEUED',
  command_delivered: 'COMMAND_STATE_DELIVERED',
  command_succeeded: 'COMMAND_STATE_SUCCEEDED',
  command_failed: 'COMMAND_STATE_FAILED',
  command_retrying: 'COMMAND_STATE_RETRYING',
  command_dead: 'COMMAND_STATE_DEAD',
  command_cancelled: 'COMMAND_STATE_CANCELLED',
};
const SINCE = { '': 'any time', '5m': 'last 5 min', '1h': 'last hour', '1d': 'last day' };
const SINCE_MS = { '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 };

function SendForm({ onSent }) {
  const [open, setOpen] = useState(false);
  const [f, setF] = useState({ target: '', selector: '', type: '', payload: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [sent, setSent] = useState('');
  const upd = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const cli = ['nexusctl commands send', f.selector ? `-l ${sh(f.selector)}` : `--target ${sh(f.target || '<agent>')}`, `--type ${sh(f.type || '<type>')}`, f.payload && `--payload ${sh(f.payload)}`].filter(Boolean).join(' ');
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { commandType: f.type.trim(), payload: f.payload };
      if (f.selector.trim()) body.selector = f.selector.trim();
      else body.target = f.target.trim();
      const r = await post('/api/commands', body);
      setSent(r.commandId);
      onSent();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (!open) return html`<button type="button" onClick=${() => setOpen(true)} data-testid="send-open">Send a command…</button>`;
  return html`<form class="card send" onSubmit=${submit} data-testid="send-form">
    <h2>Send a command</h2>
    <div class="filters">
      <label class="field"><span>Target agent</span><input type="text" value=${f.target} onInput=${upd('target')} disabled=${!!f.selector} data-testid="send-target" /></label>
      <label class="field"><span>or selector (fan-out)</span><input type="text" value=${f.selector} onInput=${upd('selector')} placeholder="env=prod or *" data-testid="send-selector" /></label>
      <label class="field"><span>Type</span><input type="text" value=${f.type} onInput=${upd('type')} data-testid="send-type" /></label>
      <label class="field wide"><span>Payload</span><input type="text" value=${f.payload} onInput=${upd('payload')} data-testid="send-payload" /></label>
    </div>
    <${Cli} cmd=${cli} />
    <div class="actions">
      <button type="submit" class="primary" disabled=${busy || !f.type.trim() || !(f.target.trim() || f.selector.trim())} data-testid="send-submit">Send</button>
      <button type="button" onClick=${() => setOpen(false)}>Close</button>
      ${sent && html`<span data-testid="send-result">sent <${Link} href=${`/commands/${encodeURIComponent(sent)}`}><code>${sent}</code></${Link}></span>`}
    </div>
    <${ErrorBox} error=${error} />
  </form>`;
}

export function Commands({ session }) {
  const [q, setQ] = useQuery();
  const states = (q.states || '').split(',').filter(Boolean);
  const sinceKey = q.since || '';
  const filter = { states: states.join(','), target: q.target || '', type: q.type || '', correlation: q.correlation || '', parent: q.parent || '' };
  const key = JSON.stringify([filter, sinceKey]);
  const res = usePoll(() => get(`/api/commands${qs({ ...filter, after: SINCE_MS[sinceKey] ? Date.now() - SINCE_MS[sinceKey] : '', page_size: 100 })}`), 15000, [key]);
  // Live: state changes from the events stream, applied to the rows at once; a command not in the
  // list (or one that left the filter) brings a reload of the list, at most every 500 ms.
  const [live, setLive] = useState({});
  const reloadTimer = useRef(0);
  useEffect(() => setLive({}), [res.data]);
  const rows = ((res.data && res.data.commands) || []).map((c) => (live[c.commandId] ? { ...c, ...live[c.commandId] } : c));
  const known = new Set(rows.map((c) => c.commandId));
  const scheduleReload = () => {
    if (reloadTimer.current) return;
    reloadTimer.current = setTimeout(() => {
      reloadTimer.current = 0;
      res.reload();
    }, 500);
  };
  useEffect(() => () => clearTimeout(reloadTimer.current), []);
  const status = useEventSource(`/api/events/stream${qs({ types: Object.keys(EVENT_STATE).join(','), agent: filter.target })}`, {
    lifecycle: (ev) => {
      if (!ev || !ev.commandId || !EVENT_STATE[ev.type]) return;
      const st = EVENT_STATE[ev.type];
      if (known.has(ev.commandId)) {
        setLive((l) => ({ ...l, [ev.commandId]: { state: st, finishedAtUnixMs: /succeeded|dead|cancelled/.test(ev.type) ? ev.atUnixMs : undefined } }));
        if (states.length) scheduleReload();
      } else {
        scheduleReload();
      }
    },
  });
  const toggleState = (st) => {
    const next = states.includes(st) ? states.filter((s) => s !== st) : [...states, st];
    setQ({ ...q, states: next.join(',') });
  };
  const set = (k) => (v) => setQ({ ...q, [k]: v });
  const cli = ['nexusctl commands list', states.length && `--state ${states.join(',')}`, filter.target && `--target ${sh(filter.target)}`, filter.type && `--type ${sh(filter.type)}`, filter.correlation && `--correlation ${sh(filter.correlation)}`, filter.parent && `--parent ${sh(filter.parent)}`, sinceKey && `--since ${sinceKey}`].filter(Boolean).join(' ');
  const operator = session && session.role === 'operator';
  return html`<section data-testid="page-commands">
    <h1>Commands <${LiveDot} status=${status} /></h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <fieldset class="field states"><span>State</span>
        <div>${STATES.map((st) => html`<label class="check"><input type="checkbox" checked=${states.includes(st)} onChange=${() => toggleState(st)} data-testid=${`filter-state-${st}`} /> ${st}</label>`)}</div>
      </fieldset>
      <${FilterInput} label="Target" value=${filter.target} onCommit=${set('target')} testid="filter-target" />
      <${FilterInput} label="Type" value=${filter.type} onCommit=${set('type')} testid="filter-type" />
      <${FilterInput} label="Correlation" value=${filter.correlation} onCommit=${set('correlation')} testid="filter-correlation" />
      <${FilterInput} label="Parent" value=${filter.parent} onCommit=${set('parent')} testid="filter-parent" />
      <label class="field"><span>Created</span><select value=${sinceKey} onChange=${(e) => set('since')(e.target.value)} data-testid="filter-since">
        ${Object.entries(SINCE).map(([k, v]) => html`<option value=${k}>${v}</option>`)}
      </select></label>
    </form>
    <${Cli} cmd=${cli} />
    ${operator && html`<${SendForm} onSent=${scheduleReload} />`}
    <${ErrorBox} error=${res.error} />
    ${res.data && !rows.length && html`<${Empty}>No commands match.</${Empty}>`}
    ${rows.length > 0 && html`<table data-testid="commands-table">
      <thead><tr><th>Command</th><th>State</th><th>Type</th><th>Target</th><th class="num">Attempts</th><th>Progress</th><th>Created</th><th>Finished</th><th>Note</th></tr></thead>
      <tbody>${rows.map((c) => html`<tr data-testid="command-row" data-command=${c.commandId}>
        <td><${Link} href=${`/commands/${encodeURIComponent(c.commandId)}`}><code>${c.commandId}</code></${Link}>${c.parentId ? html`<div class="muted small">child of <${Link} href=${`/commands/${encodeURIComponent(c.parentId)}`}>${c.parentId}</${Link}></div>` : ''}</td>
        <td><${StateBadge} state=${c.state} /></td>
        <td>${c.commandType}</td>
        <td>${c.target ? html`<${Link} href=${`/agents/${encodeURIComponent(c.target)}`}><code>${c.target}</code></${Link}>` : html`<span class="muted">fan-out</span>`}</td>
        <td class="num">${c.attempts ?? 0}</td>
        <td>${c.progress ? html`<progress max="100" value=${c.progress.percent ?? 0}></progress> <span class="small">${c.progress.percent ?? 0}%</span>` : ''}</td>
        <td>${fmtTime(c.createdAtUnixMs)}</td>
        <td>${fmtTime(c.finishedAtUnixMs)}</td>
        <td class="note">${c.deadReason ? html`<span class="badge st-dead">${c.deadReason}</span> ` : ''}${c.error || ''}</td>
      </tr>`)}</tbody>
    </table>`}
    ${res.data && res.data.nextPageToken && html`<p class="muted small">Showing the newest 100; narrow the filters to see older ones.</p>`}
  </section>`;
}
