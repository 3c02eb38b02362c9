// Overview: replicas, agents by state, ingress, DLQ, commands by state, throughput of the last minutes.
import { html, useEffect, useRef, useState } from '/vendor/htm-preact.js';
import uPlot from '/vendor/uplot.js';
import { get, usePoll } from './api.js';
import { useEventSource } from './sse.js';
import { ErrorBox, Link, LiveDot, fmtAgo } from './ui.js';

const STATES = ['queued', 'delivered', 'retrying', 'succeeded', 'failed', 'dead', 'cancelled'];

function Stat({ label, value, href, testid, tone }) {
  const v = html`<span class=${`stat-value ${tone || ''}`} data-testid=${testid}>${value ?? 0}</span>`;
  return html`<div class="stat"><span class="stat-label">${label}</span>${href ? html`<${Link} href=${href}>${v}</${Link}>` : v}</div>`;
}

const ENDED = { command_succeeded: 0, command_failed: 1, command_dead: 2 };

function ThroughputChart({ samples, live }) {
  const el = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const width = Math.max(300, el.current.clientWidth || 600);
    const opts = {
      width,
      height: 220,
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },
      scales: { x: { time: true } },
      axes: [{ stroke: '#555' }, { stroke: '#555', label: 'per 5 s', size: 50 }],
      series: [
        {},
        { label: 'succeeded', stroke: '#2f7d32', width: 2 },
        { label: 'failed', stroke: '#b26a00', width: 2 },
        { label: 'dead', stroke: '#b3261e', width: 2 },
      ],
    };
    plot.current = new uPlot(opts, [[], [], [], []], el.current);
    const onResize = () => plot.current && plot.current.setSize({ width: Math.max(300, el.current.clientWidth), height: 220 });
    addEventListener('resize', onResize);
    return () => {
      removeEventListener('resize', onResize);
      plot.current.destroy();
      plot.current = null;
    };
  }, []);
  useEffect(() => {
    if (!plot.current) return;
    // The samples are cumulative counts: plot the increase between samples.
    const xs = [];
    const s = [[], [], []];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1];
      const b = samples[i];
      xs.push(b.at / 1000);
      s[0].push(Math.max(0, (b.succeeded ?? 0) - (a.succeeded ?? 0)));
      s[1].push(Math.max(0, (b.failed ?? 0) - (a.failed ?? 0)));
      s[2].push(Math.max(0, (b.dead ?? 0) - (a.dead ?? 0)));
    }
    // Live: what ended since the last sample (from the events stream), as a provisional last point.
    const last = samples[samples.length - 1];
    if (last && live.some((e) => e.at > last.at)) {
      const n = [0, 0, 0];
      for (const e of live) if (e.at > last.at) n[e.kind]++;
      xs.push(Math.max(Date.now(), last.at + 1) / 1000);
      for (let i = 0; i < 3; i++) s[i].push(n[i]);
    }
    plot.current.setData([xs, ...s]);
  }, [samples, live]);
  return html`<div class="chart" ref=${el} data-testid="throughput-chart" data-samples=${samples.length}></div>`;
}

export function Overview() {
  const status = usePoll(() => get('/api/status'), 2000, []);
  const tp = usePoll(() => get('/api/throughput'), 5000, []);
  const s = status.data;
  const samples = (tp.data && tp.data.samples) || [];
  // Commands that ended since the newest sample, from the events stream (kept 10 s past it).
  const [live, setLive] = useState([]);
  const lastAt = samples.length ? samples[samples.length - 1].at : 0;
  const liveStatus = useEventSource(`/api/events/stream?types=${Object.keys(ENDED).join(',')}`, {
    lifecycle: (ev) => {
      if (!ev || ENDED[ev.type] === undefined) return;
      setLive((l) => [...l.filter((e) => e.at > lastAt - 10_000).slice(-2000), { at: Number(ev.atUnixMs) || Date.now(), kind: ENDED[ev.type] }]);
    },
  });
  const ac = (s && s.agentCounts) || {};
  const ing = (s && s.ingress) || {};
  const cc = (s && s.commands) || {};
  const now = (s && s.serverTimeUnixMs) || Date.now();
  return html`<section data-testid="page-overview">
    <h1>Overview</h1>
    <${ErrorBox} error=${status.error} />
    ${!s && !status.error && html`<p class="muted">Loading…</p>`}
    ${s && html`
      <div class="grid">
        <div class="card">
          <h2>Agents</h2>
          <div class="stats">
            <${Stat} label="total" value=${ac.total} href="/agents" testid="agents-total" />
            <${Stat} label="online" value=${ac.online} href="/agents?state=online" testid="agents-online" tone="ok" />
            <${Stat} label="stale" value=${ac.stale} href="/agents?state=stale" testid="agents-stale" tone=${ac.stale ? 'warn' : ''} />
            <${Stat} label="offline" value=${ac.offline} href="/agents?state=offline" testid="agents-offline" />
          </div>
        </div>
        <div class="card">
          <h2>Ingress</h2>
          <div class="stats">
            <${Stat} label="length" value=${ing.length} testid="ingress-length" />
            <${Stat} label="pending" value=${ing.pending} testid="ingress-pending" />
            <${Stat} label="lag" value=${ing.lag} testid="ingress-lag" tone=${ing.lag ? 'warn' : ''} />
            <${Stat} label="consumers" value=${ing.consumers} testid="ingress-consumers" />
          </div>
        </div>
        <div class="card">
          <h2>Dead letters</h2>
          <div class="stats"><${Stat} label="in the DLQ" value=${s.dlqLength} href="/dlq" testid="dlq-count" tone=${s.dlqLength ? 'bad' : ''} /></div>
        </div>
      </div>
      <div class="card">
        <h2>Commands by state</h2>
        <div class="stats">
          ${STATES.map((st) => html`<${Stat} label=${st} value=${cc[st]} href=${`/commands?states=${st}`} testid=${`commands-${st}`} tone=${st === 'dead' && cc[st] ? 'bad' : st === 'failed' && cc[st] ? 'warn' : ''} />`)}
        </div>
      </div>
      <div class="card">
        <h2>Throughput <span class="muted small">commands ended per 5 s, last 10 minutes</span> <${LiveDot} status=${liveStatus} /></h2>
        <${ErrorBox} error=${tp.error} />
        <${ThroughputChart} samples=${samples} live=${live} />
        ${samples.length < 2 && html`<p class="muted small" data-testid="throughput-empty">Samples are taken every 5 s; the chart fills in as they arrive.</p>`}
      </div>
      <div class="card">
        <h2>Replicas</h2>
        <table data-testid="replicas">
          <thead><tr><th>Replica</th><th>Address</th><th>Ready</th><th class="num">Agents held</th><th>Version</th><th>Started</th><th>Last seen</th></tr></thead>
          <tbody>
            ${(s.replicas || []).map((r) => html`<tr data-testid="replica-row">
              <td><code>${r.replicaId}</code>${r.replicaId === s.answeredBy ? html` <span class="muted small">(answered)</span>` : ''}</td>
              <td><code>${r.address || '—'}</code></td>
              <td>${r.ready ? html`<span class="badge st-online">ready</span>` : html`<span class="badge st-stale">not ready</span>`}</td>
              <td class="num">${r.connectedAgents ?? 0}</td>
              <td>${r.version || '—'}</td>
              <td>${fmtAgo(r.startedAtUnixMs, now)}</td>
              <td>${fmtAgo(r.lastSeenUnixMs, now)}</td>
            </tr>`)}
          </tbody>
        </table>
      </div>`}
  </section>`;
}
