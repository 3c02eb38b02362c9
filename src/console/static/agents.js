// Agents: filters in the URL, live CPU and memory sparklines (polls every 2 s, last 60 points), agent detail.
import { html } from '/vendor/htm-preact.js';
import { get, qs, usePoll } from './api.js';
import { Cli, Empty, ErrorBox, FilterInput, Labels, Link, Sparkline, StateBadge, agentState, commandState, fmtAgo, fmtBytes, fmtTime, sh, useQuery } from './ui.js';

const POINTS = 60;

/**
 * The last 60 CPU and memory points per agent, one per new heartbeat (lastPulse changes); kept
 * for the whole visit, so the list and an agent's page share them.
 */
const HISTORY = new Map();
function useHistory(agents) {
  for (const a of agents) {
    const m = a.metrics || {};
    let h = HISTORY.get(a.agentId);
    if (!h) HISTORY.set(a.agentId, (h = { pulse: -1, cpu: [], mem: [] }));
    const pulse = a.lastPulseUnixMs || 0;
    if (pulse !== h.pulse) {
      h.pulse = pulse;
      h.cpu.push(Number(m.cpuPercent || 0));
      h.mem.push(m.memoryTotalBytes ? (100 * Number(m.memoryUsedBytes || 0)) / Number(m.memoryTotalBytes) : 0);
      if (h.cpu.length > POINTS) h.cpu.shift();
      if (h.mem.length > POINTS) h.mem.shift();
    }
  }
  return HISTORY;
}

export function Agents() {
  const [q, setQ] = useQuery();
  const filter = { state: q.state || '', type: q.type || '', replica: q.replica || '', selector: q.selector || '' };
  const res = usePoll(() => get(`/api/agents${qs(filter)}`), 2000, [filter.state, filter.type, filter.replica, filter.selector]);
  const agents = (res.data && res.data.agents) || [];
  const hist = useHistory(agents);
  const now = (res.data && res.data.serverTimeUnixMs) || Date.now();
  const set = (k) => (v) => setQ({ ...q, [k]: v });
  const cli = ['nexusctl agents', filter.selector && `-l ${sh(filter.selector)}`, filter.state && `--state ${filter.state}`, filter.type && `--type ${sh(filter.type)}`, filter.replica && `--replica ${sh(filter.replica)}`].filter(Boolean).join(' ');
  return html`<section data-testid="page-agents">
    <h1>Agents <span class="muted small">${res.data ? `${agents.length}${res.data.nextPageToken ? '+' : ''} shown` : ''}</span></h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label class="field"><span>State</span>
        <select value=${filter.state} onChange=${(e) => set('state')(e.target.value)} data-testid="filter-state">
          <option value="">any</option><option value="online">online</option><option value="stale">stale</option><option value="offline">offline</option>
        </select></label>
      <${FilterInput} label="Type" value=${filter.type} onCommit=${set('type')} testid="filter-type" />
      <${FilterInput} label="Selector" value=${filter.selector} onCommit=${set('selector')} placeholder="env=prod,region in (eu,us)" testid="filter-selector" />
      <${FilterInput} label="Replica" value=${filter.replica} onCommit=${set('replica')} testid="filter-replica" />
    </form>
    <${Cli} cmd=${cli} />
    <${ErrorBox} error=${res.error} />
    ${res.data && !agents.length && html`<${Empty}>No agents match${filter.state || filter.type || filter.selector || filter.replica ? ' these filters' : ' (none has connected yet)'}.</${Empty}>`}
    ${agents.length > 0 && html`<table data-testid="agents-table">
      <thead><tr><th>Agent</th><th>State</th><th>Type</th><th>CPU</th><th>Memory</th><th class="num">Active</th><th>Replica</th><th>Labels</th><th>Last pulse</th></tr></thead>
      <tbody>
        ${agents.map((a) => {
          const h = hist.get(a.agentId) || { cpu: [], mem: [] };
          return html`<tr data-testid="agent-row" data-agent=${a.agentId}>
            <td><${Link} href=${`/agents/${encodeURIComponent(a.agentId)}`}><code>${a.agentId}</code></${Link}>${a.displayName && a.displayName !== a.agentId ? html`<div class="muted small">${a.displayName}</div>` : ''}</td>
            <td><${StateBadge} state=${a.state} kind="agent" /></td>
            <td>${a.agentType || '—'}</td>
            <td><${Sparkline} values=${h.cpu} testid="cpu-spark" title="CPU %" /></td>
            <td><${Sparkline} values=${h.mem} testid="mem-spark" title=${a.metrics ? `${fmtBytes(a.metrics.memoryUsedBytes)} of ${fmtBytes(a.metrics.memoryTotalBytes)}` : ''} /></td>
            <td class="num">${a.activeCommands ?? 0}/${a.maxConcurrency ?? '—'}</td>
            <td><code>${a.replicaId || '—'}</code></td>
            <td><${Labels} labels=${a.labels} /></td>
            <td>${fmtAgo(a.lastPulseUnixMs, now)}</td>
          </tr>`;
        })}
      </tbody>
    </table>`}
  </section>`;
}

export function AgentDetail({ id }) {
  // The agents list has no id filter: the agent is found in the list (page of 200, same poll as the list).
  const res = usePoll(() => get('/api/agents'), 2000, [id]);
  const cmds = usePoll(() => get(`/api/commands${qs({ target: id, page_size: 25 })}`), 3000, [id]);
  const a = res.data && (res.data.agents || []).find((x) => x.agentId === id);
  const hist = useHistory(a ? [a] : []);
  const h = hist.get(id) || { cpu: [], mem: [] };
  const m = (a && a.metrics) || {};
  const now = (res.data && res.data.serverTimeUnixMs) || Date.now();
  const list = (cmds.data && cmds.data.commands) || [];
  return html`<section data-testid="page-agent">
    <p class="crumbs"><${Link} href="/agents">Agents</${Link}> / <code>${id}</code></p>
    <h1><code>${id}</code> ${a && html`<${StateBadge} state=${a.state} kind="agent" />`}</h1>
    <${ErrorBox} error=${res.error} />
    ${res.data && !a && html`<${Empty}>No agent ${id} is known (it may have expired).</${Empty}>`}
    ${a && html`<div class="grid">
      <div class="card"><h2>Agent</h2><dl class="kv">
        <dt>Type</dt><dd>${a.agentType || '—'}</dd>
        <dt>Display name</dt><dd>${a.displayName || '—'}</dd>
        <dt>State</dt><dd>${agentState(a.state)}</dd>
        <dt>Replica</dt><dd><code>${a.replicaId || '—'}</code></dd>
        <dt>Session</dt><dd><code>${a.sessionId || '—'}</code> (epoch ${a.epoch ?? 0})</dd>
        <dt>Version</dt><dd>${a.version || '—'}</dd>
        <dt>Capabilities</dt><dd>${(a.capabilities || []).join(', ') || '—'}</dd>
        <dt>Labels</dt><dd><${Labels} labels=${a.labels} /></dd>
        <dt>Connected</dt><dd>${fmtTime(a.connectedAtUnixMs)}</dd>
        <dt>Last pulse</dt><dd>${fmtAgo(a.lastPulseUnixMs, now)}</dd>
      </dl></div>
      <div class="card"><h2>Host</h2><dl class="kv">
        <dt>CPU</dt><dd class="row"><${Sparkline} values=${h.cpu} testid="cpu-spark" /></dd>
        <dt>Memory</dt><dd class="row"><${Sparkline} values=${h.mem} testid="mem-spark" /> ${fmtBytes(m.memoryUsedBytes)} of ${fmtBytes(m.memoryTotalBytes)}</dd>
        <dt>Load (1m)</dt><dd>${(m.loadAverage1m ?? 0).toFixed(2)}</dd>
        <dt>Uptime</dt><dd>${Math.round((m.uptimeSeconds ?? 0) / 60)} min</dd>
        <dt>Active commands</dt><dd>${a.activeCommands ?? 0} of ${a.maxConcurrency ?? '—'}</dd>
      </dl></div>
    </div>`}
    <${Cli} cmd=${`nexusctl agents ${sh(id)}`} />
    <div class="card">
      <h2>Recent commands <span class="muted small"><${Link} href=${`/commands?target=${encodeURIComponent(id)}`}>all</${Link}></span></h2>
      <${ErrorBox} error=${cmds.error} />
      ${cmds.data && !list.length && html`<${Empty}>No commands for this agent.</${Empty}>`}
      ${list.length > 0 && html`<table data-testid="agent-commands"><thead><tr><th>Command</th><th>Type</th><th>State</th><th>Created</th></tr></thead><tbody>
        ${list.map((c) => html`<tr><td><${Link} href=${`/commands/${encodeURIComponent(c.commandId)}`}><code>${c.commandId}</code></${Link}></td><td>${c.commandType}</td><td><${StateBadge} state=${c.state} /></td><td>${fmtTime(c.createdAtUnixMs)}</td></tr>`)}
      </tbody></table>`}
    </div>
  </section>`;
}
export { commandState };
