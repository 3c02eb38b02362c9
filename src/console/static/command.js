// Command detail: timeline, progress, live log tail, attempts, output or error, DLQ reason, fan-out children (command SSE).
import { html, useEffect, useState } from '/vendor/htm-preact.js';
import { get, post, qs, usePoll } from './api.js';
import { useEventSource } from './sse.js';
import { Cli, Empty, ErrorBox, Link, LiveDot, StateBadge, commandState, fmtDuration, fmtTime, sh } from './ui.js';

const LOG_LINES = 500;
const TERMINAL = new Set(['succeeded', 'dead', 'cancelled']);

export function CommandDetail({ id, session }) {
  const [cmd, setCmd] = useState(null);
  const [timeline, setTimeline] = useState([]);
  const [progress, setProgress] = useState(null);
  const [logs, setLogs] = useState([]);
  const [children, setChildren] = useState({});
  const [error, setError] = useState(null);
  const [cancel, setCancel] = useState(null);
  const [stop, setStop] = useState(false);
  const status = useEventSource(stop ? null : `/api/commands/${encodeURIComponent(id)}/stream`, {
    snapshot: (s) => {
      setCmd(s);
      setTimeline(s.timeline || []);
      setProgress(s.progress || null);
      setError(null);
    },
    step: (e) => {
      setTimeline((t) => (t.some((x) => x.event === e.event && x.atUnixMs === e.atUnixMs && x.attempt === e.attempt) ? t : [...t, e]));
      const st = { queued: 'QUEUED', delivered: 'DELIVERED', succeeded: 'SUCCEEDED', failed: 'FAILED', retrying: 'RETRYING', dead: 'DEAD', cancelled: 'CANCELLED' }[e.event];
      if (st) setCmd((c) => c && { ...c, state: `COMMAND_STATE_${st}`, attempts: Math.max(c.attempts || 0, e.attempt || 0), finishedAtUnixMs: /SUCCEEDED|DEAD|CANCELLED/.test(st) ? e.atUnixMs : c.finishedAtUnixMs });
    },
    progress: (p) => setProgress(p),
    log: (l) => setLogs((ls) => (ls.length >= LOG_LINES ? [...ls.slice(ls.length - LOG_LINES + 1), l] : [...ls, l])),
    child: (c) => setChildren((m) => ({ ...m, [c.commandId]: c })),
    end: (e) => {
      if (e && e.state) setCmd((c) => c && { ...c, ...e });
    },
    error: (e) => {
      // A server-sent `event: error` (e.g. not found) carries {error, code}; the browser's own errors have no data.
      if (e && e.error) setError({ status: e.code === 'NOT_FOUND' ? 404 : 503, message: e.error });
    },
  });
  // The stream was refused: ask once why (404 stops it; 503 and the like are retried by the stream).
  useEffect(() => {
    if (status !== 'closed' || cmd) return;
    get(`/api/commands/${encodeURIComponent(id)}`).then(
      (s) => setError(null) || setCmd((c) => c || s),
      (err) => {
        setError(err);
        if (err.status === 404 || err.status === 401 || err.status === 403 || err.status === 400) setStop(true);
      },
    );
  }, [status]);
  const operator = session && session.role === 'operator';
  const state = cmd ? commandState(cmd.state) : '';
  const doCancel = async () => {
    setCancel({ busy: true });
    try {
      const r = await post('/api/commands/cancel', { commandIds: [id] });
      setCancel({ result: r });
    } catch (err) {
      setCancel({ error: err });
    }
  };
  const fan = cmd && cmd.fanout;
  // The stream's snapshot may carry no children: they are listed (and re-listed while it runs).
  const childList = usePoll(() => (fan ? get(`/api/commands${qs({ parent: id, page_size: 200 })}`) : Promise.resolve(null)), fan && !TERMINAL.has(state) ? 3000 : 0, [id, !!fan, TERMINAL.has(state)]);
  const listed = (childList.data && childList.data.commands) || [];
  const kids = fan ? mergeChildren(listed.length ? listed : fan.children || [], children) : [];
  return html`<section data-testid="page-command">
    <p class="crumbs"><${Link} href="/commands">Commands</${Link}> / <code>${id}</code></p>
    <h1><code>${id}</code> ${cmd && html`<${StateBadge} state=${cmd.state} />`} <${LiveDot} status=${status} /></h1>
    <${ErrorBox} error=${error} />
    ${!cmd && !error && html`<p class="muted">Waiting for the command's snapshot…</p>`}
    ${cmd && html`
      <div class="grid">
        <div class="card"><h2>Command</h2><dl class="kv">
          <dt>Type</dt><dd>${cmd.commandType}</dd>
          <dt>Target</dt><dd>${cmd.target ? html`<${Link} href=${`/agents/${encodeURIComponent(cmd.target)}`}><code>${cmd.target}</code></${Link}>` : cmd.selector ? html`selector <code>${cmd.selector}</code>${cmd.pick ? ` (pick ${cmd.pick})` : ''}` : '—'}</dd>
          <dt>Attempts</dt><dd data-testid="attempts">${cmd.attempts ?? 0} of ${cmd.maxAttempts || '—'}</dd>
          <dt>Priority</dt><dd>${cmd.priority ?? '—'}</dd>
          <dt>Handled by</dt><dd>${cmd.handledBy || '—'}${cmd.deliveredBy ? html` <span class="muted small">(delivered by ${cmd.deliveredBy})</span>` : ''}</dd>
          <dt>Created</dt><dd>${fmtTime(cmd.createdAtUnixMs)}${cmd.submittedBy ? html` <span class="muted small">by ${cmd.submittedBy}</span>` : ''}</dd>
          <dt>Finished</dt><dd>${fmtTime(cmd.finishedAtUnixMs)}${cmd.finishedAtUnixMs && cmd.createdAtUnixMs ? html` <span class="muted small">(${fmtDuration(cmd.finishedAtUnixMs - cmd.createdAtUnixMs)})</span>` : ''}</dd>
          ${cmd.correlationId && html`<dt>Correlation</dt><dd><${Link} href=${`/commands?correlation=${encodeURIComponent(cmd.correlationId)}`}>${cmd.correlationId}</${Link}></dd>`}
          ${cmd.parentId && html`<dt>Parent</dt><dd><${Link} href=${`/commands/${encodeURIComponent(cmd.parentId)}`}><code>${cmd.parentId}</code></${Link}></dd>`}
          ${cmd.redriveOf && html`<dt>Redrive of</dt><dd><${Link} href=${`/commands/${encodeURIComponent(cmd.redriveOf)}`}><code>${cmd.redriveOf}</code></${Link}></dd>`}
          ${cmd.deadReason && html`<dt>DLQ reason</dt><dd><span class="badge st-dead" data-testid="dead-reason">${cmd.deadReason}</span> <${Link} href=${`/dlq?reasons=${encodeURIComponent(cmd.deadReason)}`}>dead letters</${Link}></dd>`}
        </dl></div>
        <div class="card"><h2>Progress</h2>
          ${progress ? html`<div class="progress-row"><progress max="100" value=${progress.percent ?? 0} data-testid="progress"></progress> <strong>${progress.percent ?? 0}%</strong></div><p>${progress.message || ''} <span class="muted small">${fmtTime(progress.atUnixMs)}${progress.attempt ? `, attempt ${progress.attempt}` : ''}</span></p>` : html`<p class="muted">${fan ? 'A fan-out reports no progress of its own: see its children below.' : 'No progress reported.'}</p>`}
          ${cmd.output && html`<h3>Output</h3><pre class="output" data-testid="output">${cmd.output}</pre>`}
          ${cmd.error && html`<h3>Error</h3><pre class="output error" data-testid="cmd-error">${cmd.error}</pre>`}
        </div>
      </div>
      ${operator && !TERMINAL.has(state) && html`<div class="card actions-card"><h2>Actions</h2>
        <button type="button" class="danger" onClick=${doCancel} disabled=${cancel && cancel.busy} data-testid="cancel">Cancel this command</button>
        ${cancel && cancel.result && html` <span data-testid="cancel-result">cancel submitted (${cancel.result.submitted ?? 0} of ${cancel.result.matched ?? 0})</span>`}
        <${ErrorBox} error=${cancel && cancel.error} />
        <${Cli} cmd=${`nexusctl commands cancel ${sh(id)}`} />
      </div>`}
      ${fan && html`<div class="card"><h2>Fan-out children</h2>
        <div class="stats compact" data-testid="fanout-counts">
          ${['matched', 'launched', 'running', 'pending', 'succeeded', 'failed', 'dead', 'cancelled', 'notStarted', 'skipped'].map((k) => html`<div class="stat"><span class="stat-label">${k === 'notStarted' ? 'not started' : k}</span><span class="stat-value">${fan[k] ?? 0}</span></div>`)}
        </div>
        ${fan.stopReason && html`<p class="notice warn">stopped: ${fan.stopReason}</p>`}
        ${fan.batchSpec && html`<p class="muted small">batch ${fan.batchSpec}${fan.maxFailures ? `, max failures ${fan.maxFailures}` : ''}</p>`}
        ${kids.length ? html`<table data-testid="children"><thead><tr><th>Child</th><th>Agent</th><th>State</th><th>Finished</th><th>Error</th></tr></thead><tbody>
          ${kids.map((k) => html`<tr><td><${Link} href=${`/commands/${encodeURIComponent(k.commandId)}`}><code>${k.commandId}</code></${Link}></td><td><code>${k.target || '—'}</code></td><td><${StateBadge} state=${k.state} /></td><td>${fmtTime(k.finishedAtUnixMs)}</td><td class="note">${k.deadReason ? `${k.deadReason}: ` : ''}${k.error || ''}</td></tr>`)}
        </tbody></table>` : html`<${Empty}>No children yet.</${Empty}>`}
        ${fan.childrenNextPageToken && html`<p class="muted small">More children: <${Link} href=${`/commands?parent=${encodeURIComponent(id)}`}>list them</${Link}>.</p>`}
      </div>`}
      <div class="grid">
        <div class="card"><h2>Timeline</h2>
          ${timeline.length ? html`<ol class="timeline" data-testid="timeline">${timeline.map((t) => html`<li><span class=${`badge st-${t.event}`}>${t.event}</span> <span class="small">${fmtTime(t.atUnixMs)}</span>${t.attempt ? html` <span class="muted small">attempt ${t.attempt}</span>` : ''}${t.replicaId ? html` <span class="muted small">on ${t.replicaId}</span>` : ''}${t.detail ? html`<div class="small">${t.detail}</div>` : ''}</li>`)}</ol>` : html`<${Empty}>No steps yet.</${Empty}>`}
        </div>
        <div class="card"><h2>Log <span class="muted small">live tail, last ${LOG_LINES} lines</span></h2>
          ${logs.length ? html`<pre class="log" data-testid="log">${logs.map((l) => `${fmtTime(l.atUnixMs)}  ${l.line}\n`)}</pre>` : html`<${Empty}>${fan ? 'The log lines are the children’s: open one.' : 'No log lines yet.'}</${Empty}>`}
        </div>
      </div>
      <${Cli} cmd=${`nexusctl commands watch ${sh(id)}`} />`}
  </section>`;
}

/** The snapshot's children with the states the stream reported since. */
function mergeChildren(list, live) {
  const out = list.map((c) => (live[c.commandId] ? { ...c, state: live[c.commandId].state, error: live[c.commandId].error || c.error, finishedAtUnixMs: live[c.commandId].atUnixMs || c.finishedAtUnixMs } : c));
  const seen = new Set(out.map((c) => c.commandId));
  for (const c of Object.values(live)) if (!seen.has(c.commandId)) out.push({ commandId: c.commandId, target: c.agentId, state: c.state, error: c.error, finishedAtUnixMs: c.atUnixMs });
  return out;
}
