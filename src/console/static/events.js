// Events: the live tail of lifecycle events (SSE) with filters and Pause.
import { html, useRef, useState } from '/vendor/htm-preact.js';
import { qs } from './api.js';
import { useEventSource } from './sse.js';
import { Cli, Empty, FilterInput, Link, LiveDot, fmtTime, sh, useQuery } from './ui.js';

const TYPES = ['command_queued', 'command_delivered', 'command_succeeded', 'command_failed', 'command_retrying', 'command_dead', 'command_cancelled', 'agent_connected', 'agent_disconnected', 'agent_stale', 'replica_up', 'replica_down', 'dead_letters_purged', 'dampening_started', 'dampening_ended'];
const KEEP = 500;

export function Events() {
  const [q, setQ] = useQuery();
  const types = (q.types || '').split(',').filter(Boolean);
  const filter = { types: types.join(','), agent: q.agent || '', command: q.command || '' };
  const [events, setEvents] = useState([]);
  const [paused, setPaused] = useState(false);
  const held = useRef([]);
  const [heldCount, setHeldCount] = useState(0);
  const pausedRef = useRef(false);
  pausedRef.current = paused;
  const url = `/api/events/stream${qs(filter)}`;
  const status = useEventSource(url, {
    lifecycle: (ev) => {
      if (!ev) return;
      if (pausedRef.current) {
        held.current.push(ev);
        if (held.current.length > KEEP) held.current.shift();
        setHeldCount(held.current.length);
      } else {
        setEvents((list) => [ev, ...list].slice(0, KEEP));
      }
    },
  });
  const lastUrl = useRef(url);
  if (lastUrl.current !== url) {
    lastUrl.current = url;
    held.current = [];
    if (events.length) setEvents([]);
  }
  const togglePause = () => {
    if (paused) {
      const h = held.current.reverse();
      held.current = [];
      setHeldCount(0);
      setEvents((list) => [...h, ...list].slice(0, KEEP));
    }
    setPaused(!paused);
  };
  const toggleType = (t) => setQ({ ...q, types: types.includes(t) ? types.filter((x) => x !== t).join(',') : [...types, t].join(',') });
  const set = (k) => (v) => setQ({ ...q, [k]: v });
  const cli = ['nexusctl events -f', types.length && `--type ${types.join(',')}`, filter.agent && `--agent ${sh(filter.agent)}`, filter.command && `--command ${sh(filter.command)}`].filter(Boolean).join(' ');
  return html`<section data-testid="page-events">
    <h1>Events <${LiveDot} status=${paused ? 'paused' : status} /></h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <fieldset class="field states"><span>Types</span>
        <div>${TYPES.map((t) => html`<label class="check"><input type="checkbox" checked=${types.includes(t)} onChange=${() => toggleType(t)} data-testid=${`filter-type-${t}`} /> ${t}</label>`)}</div>
      </fieldset>
      <${FilterInput} label="Agent" value=${filter.agent} onCommit=${set('agent')} testid="filter-agent" />
      <${FilterInput} label="Command" value=${filter.command} onCommit=${set('command')} testid="filter-command" />
    </form>
    <div class="toolbar">
      <button type="button" onClick=${togglePause} data-testid="pause" aria-pressed=${paused}>${paused ? `Resume${heldCount ? ` (${heldCount} new)` : ''}` : 'Pause'}</button>
      <button type="button" onClick=${() => setEvents([])} data-testid="clear">Clear</button>
      <span class="muted small">${events.length} shown (newest first, last ${KEEP} kept)</span>
    </div>
    <${Cli} cmd=${cli} />
    ${!events.length ? html`<${Empty}>No events yet: they appear here as they happen.</${Empty}>` : html`<table data-testid="events-table">
      <thead><tr><th>Time</th><th>Type</th><th>Command</th><th>Agent</th><th>Replica</th><th>Fields</th></tr></thead>
      <tbody>${events.map((e) => html`<tr data-testid="event-row" data-type=${e.type} key=${e.id}>
        <td class="nowrap">${fmtTime(e.atUnixMs)}</td>
        <td><span class=${`badge ev-${e.type}`}>${e.type}</span></td>
        <td>${e.commandId ? html`<${Link} href=${`/commands/${encodeURIComponent(e.commandId)}`}><code>${e.commandId}</code></${Link}>` : ''}</td>
        <td>${e.agentId ? html`<${Link} href=${`/agents/${encodeURIComponent(e.agentId)}`}><code>${e.agentId}</code></${Link}>` : ''}</td>
        <td><code>${e.replicaId || ''}</code></td>
        <td class="note small">${Object.entries(e.fields || {}).filter(([k]) => !['type', 'command_id', 'agent_id', 'replica', 'ts'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ')}</td>
      </tr>`)}</tbody>
    </table>`}
  </section>`;
}
