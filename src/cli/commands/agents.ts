import type { Command } from 'commander';
import {
  AgentInfo,
  AgentState,
  agentStateToJSON,
  commandStateToJSON,
  GetSystemStatusRequest,
  ListCommandsRequest,
  type CommandSummary,
} from '../../generated/nexus/prime/pulse';
import { action, usage, type CliContext } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import { cut, parseCount } from './commands-common';
import { age, iso, type Column } from '../output';

const STATES: Record<string, AgentState> = {
  online: AgentState.AGENT_STATE_ONLINE,
  stale: AgentState.AGENT_STATE_STALE,
  offline: AgentState.AGENT_STATE_OFFLINE,
};

/** The server's page size bound (GetSystemStatus page_size). */
const MAX_PAGE = 1000;

interface AgentsFlags {
  selector?: string;
  state?: string;
  replica?: string;
  type?: string;
  limit?: string;
}

/** `nexusctl agents [agent-id]`: the agents (filtered, every page up to --limit), or one agent in detail. */
export function agentsCommand(program: Command): void {
  program
    .command('agents')
    .description('List agents (state, replica, metrics, labels), or show one agent and its recent commands')
    .argument('[agent-id]', 'show this agent in detail')
    .option('-l, --selector <selector>', 'only agents whose labels match (env=prod,region in (eu,us),!canary)')
    .option('--state <state>', 'only agents in this state: online, stale or offline')
    .option('--replica <id>', 'only agents held by this replica')
    .option('--type <agent-type>', 'only agents of this type')
    .option('--limit <n>', 'list at most this many agents (every page up to it) [default 500]')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  nexusctl agents',
        '  nexusctl agents -l env=prod,region=eu --state online',
        '  nexusctl agents --replica r1 -o wide',
        '  nexusctl agents build-host-7',
        '  nexusctl agents -o json | jq -r \'.agents[].agentId\'',
      ].join('\n'),
    )
    .action(
      action(async (ctx, agentId: string | undefined, flags: AgentsFlags) => {
        const state = flags.state === undefined ? AgentState.AGENT_STATE_UNSPECIFIED : STATES[flags.state];
        if (state === undefined) throw usage(`--state must be one of ${Object.keys(STATES).join(', ')}, got ${JSON.stringify(flags.state)}`);
        const limit = flags.limit === undefined ? 500 : parseCount('--limit', flags.limit, { max: 1_000_000 });
        const filter = {
          state,
          selector: flags.selector ?? '',
          replicaId: flags.replica ?? '',
          agentType: flags.type ?? '',
        };
        if (agentId !== undefined) return showAgent(ctx, agentId, filter);
        return listAgents(ctx, filter, limit);
      }),
    );
}

type Filter = Pick<GetSystemStatusRequest, 'state' | 'selector' | 'replicaId' | 'agentType'>;

/** One GetSystemStatus page; a selector the server refuses is a usage error naming -l/--selector. */
async function page(ctx: CliContext, req: Partial<GetSystemStatusRequest>) {
  try {
    return await ctx.client.call('getSystemStatus', GetSystemStatusRequest.fromPartial(req));
  } catch (err) {
    if (err instanceof CliError && err.code === EXIT.REFUSED && req.selector) throw usage(`-l/--selector ${JSON.stringify(req.selector)}: ${err.message}`);
    throw err;
  }
}

async function listAgents(ctx: CliContext, filter: Filter, limit: number): Promise<ExitCode> {
  const agents: AgentInfo[] = [];
  let token = '';
  let more = false;
  do {
    const res = await page(ctx, { ...filter, pageSize: Math.min(MAX_PAGE, limit - agents.length), pageToken: token });
    agents.push(...res.agents);
    token = res.nextPageToken;
    more = token !== '';
  } while (more && agents.length < limit);
  const shown = agents.slice(0, limit);
  const { out } = ctx;
  const c = out.color;
  const columns: Column<AgentInfo>[] = [
    { header: 'AGENT', cell: (a) => a.agentId },
    { header: 'STATE', cell: (a) => stateText(ctx, a.state) },
    { header: 'REPLICA', cell: (a) => a.replicaId || '-' },
    { header: 'TYPE', cell: (a) => a.agentType || '-' },
    { header: 'CPU', cell: (a) => (a.metrics ? `${a.metrics.cpuPercent.toFixed(1)}%` : '-') },
    { header: 'MEMORY', cell: (a) => (a.metrics && a.metrics.memoryTotalBytes > 0 ? `${bytes(a.metrics.memoryUsedBytes)}/${bytes(a.metrics.memoryTotalBytes)}` : '-') },
    { header: 'AGE', cell: (a) => age(a.connectedAtUnixMs) },
    { header: 'LABELS', cell: (a) => labelsText(a.labels) || '-' },
    { header: 'CAPABILITIES', cell: (a) => a.capabilities.join(',') || '-', wide: true },
    { header: 'VERSION', cell: (a) => a.version || '-', wide: true },
    { header: 'ACTIVE', cell: (a) => (a.maxConcurrency ? `${a.activeCommands}/${a.maxConcurrency}` : String(a.activeCommands)), wide: true },
    { header: 'LAST PULSE', cell: (a) => age(a.lastPulseUnixMs), wide: true },
  ];
  out.list({ agents: shown.map((a) => AgentInfo.toJSON(a)) }, shown, (a) => AgentInfo.toJSON(a), columns);
  if (more) out.note(c.yellow(`showing the first ${shown.length} agents; more match (raise --limit or narrow the filter)`));
  return EXIT.OK;
}

async function showAgent(ctx: CliContext, agentId: string, filter: Filter): Promise<ExitCode> {
  // The id as a prefix pages through every agent starting with it; the exact id sorts first.
  let found: AgentInfo | undefined;
  let token = '';
  for (let pages = 0; pages < 100 && !found; pages++) {
    const res = await page(ctx, { ...filter, agentIdPrefix: agentId, pageSize: 100, pageToken: token });
    found = res.agents.find((a) => a.agentId === agentId);
    token = res.nextPageToken;
    if (!token) break;
  }
  if (!found) throw new CliError(`no agent ${agentId}${hasFilter(filter) ? ' matching the filter flags' : ''}`, EXIT.NOT_FOUND);
  const a = found;
  const { out } = ctx;
  if (!out.forPeople) {
    out.document(AgentInfo.toJSON(a), () => undefined);
    return EXIT.OK;
  }
  const m = a.metrics;
  const lines: [string, string][] = [
    ['Agent', a.agentId],
    ['Display name', a.displayName || '-'],
    ['Type', a.agentType || '-'],
    ['State', stateText(ctx, a.state)],
    ['Replica', a.replicaId || '-'],
    ['Session', a.sessionId || '-'],
    ['Epoch', String(a.epoch)],
    ['Version', a.version || '-'],
    ['Labels', labelsText(a.labels) || '-'],
    ['Capabilities', a.capabilities.join(', ') || '-'],
    ['Active', `${a.activeCommands} of ${a.maxConcurrency || '?'} commands`],
    ['CPU', m ? `${m.cpuPercent.toFixed(1)}%` : '-'],
    ['Memory', m && m.memoryTotalBytes > 0 ? `${bytes(m.memoryUsedBytes)} of ${bytes(m.memoryTotalBytes)}` : '-'],
    ['Load (1m)', m ? m.loadAverage1m.toFixed(2) : '-'],
    ['Uptime', m && m.uptimeSeconds ? age(Date.now() - m.uptimeSeconds * 1000) : '-'],
    ['Connected', a.connectedAtUnixMs ? `${iso(a.connectedAtUnixMs)} (${age(a.connectedAtUnixMs)} ago)` : '-'],
    ['Last pulse', a.lastPulseUnixMs ? `${iso(a.lastPulseUnixMs)} (${age(a.lastPulseUnixMs)} ago)` : '-'],
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  out.write(lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join(''));
  const recent = await ctx.client.call('listCommands', ListCommandsRequest.fromPartial({ filter: { target: a.agentId }, pageSize: 10 }));
  out.write('\nRecent commands:\n');
  if (recent.commands.length === 0) {
    out.write('  (none)\n');
    return EXIT.OK;
  }
  out.write(`${out.tableText(recent.commands, [
    { header: 'COMMAND', cell: (k: CommandSummary) => k.commandId },
    { header: 'STATE', cell: (k) => commandStateText(ctx, k) },
    { header: 'TYPE', cell: (k) => k.commandType },
    { header: 'ATTEMPTS', cell: (k) => String(k.attempts) },
    { header: 'AGE', cell: (k) => age(k.createdAtUnixMs) },
    { header: 'ERROR', cell: (k) => cut(k.error.replace(/\s+/g, ' '), 60) || '-' },
  ])}\n`);
  return EXIT.OK;
}

function hasFilter(f: Filter): boolean {
  return f.state !== AgentState.AGENT_STATE_UNSPECIFIED || Boolean(f.selector || f.replicaId || f.agentType);
}

/** `online` (green), `stale` (yellow), `offline` (red). */
function stateText(ctx: CliContext, state: AgentState): string {
  const c = ctx.out.color;
  const name = agentStateToJSON(state).replace('AGENT_STATE_', '').toLowerCase();
  if (state === AgentState.AGENT_STATE_ONLINE) return c.green(name);
  if (state === AgentState.AGENT_STATE_STALE) return c.yellow(name);
  if (state === AgentState.AGENT_STATE_OFFLINE) return c.red(name);
  return name;
}

function commandStateText(ctx: CliContext, k: CommandSummary): string {
  const c = ctx.out.color;
  const name = commandStateToJSON(k.state).replace('COMMAND_STATE_', '').toLowerCase();
  if (name === 'succeeded') return c.green(name);
  if (name === 'failed' || name === 'dead') return c.red(name);
  if (name === 'retrying' || name === 'cancelled') return c.yellow(name);
  return name;
}

/** `k=v,k=v`, sorted by key. */
function labelsText(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',');
}

/** Bytes in binary units, kubectl style: 512Mi, 7.8Gi. */
export function bytes(n: number): string {
  const units = ['B', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}
