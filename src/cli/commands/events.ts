import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { LifecycleEvent, WatchEventsRequest } from '../../generated/nexus/prime/pulse';
import { action, usage, type CliContext } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import { collectList } from '../flag-parsers';
import { cut, parseCount, parseTime } from './commands-common';
import { isoTimes, type Column } from '../output';

interface EventsFlags {
  follow?: boolean;
  after?: string;
  since?: string;
  limit?: string;
  type?: string[];
  agent?: string;
  command?: string;
}

/**
 * How long the history read of `events` (without -f) waits for one more event before it
 * takes the history as read: WatchEvents sends the entries after `after` as fast as the client
 * takes them, then goes live and says nothing; silence this long means it is live.
 */
const QUIET_MS = 500;

/** How far Redis' clock (event ids) may run ahead of ours before an event counts as live. */
const CLOCK_SLACK_MS = 2000;

/** The fields every row shows in its own column; the others go to DETAIL. */
const SHOWN_FIELDS = new Set(['type', 'command_id', 'agent_id', 'replica', 'ts']);

/** `nexusctl events`: lifecycle events, the recent ones or followed live (WatchEvents). */
export function eventsCommand(program: Command): void {
  program
    .command('events')
    .description('Show lifecycle events (commands, agents, replicas): the recent ones, or follow them live with -f')
    .option('-f, --follow', 'follow: print events as they happen until Ctrl-C (from now, or from --after / --since)')
    .option('--after <entry-id>', 'start after this event id (<ms>-<seq> or <ms>; the ID column of -o wide, "id" in json)')
    .option('--since <time>', 'start at a duration ago (30s, 5m, 1h) or an ISO time [default 1m without -f; now with -f]')
    .option('--limit <n>', 'without -f: print at most the last n events [default 20]')
    .option('--type <types>', 'only these event types (repeatable or a comma list: command_dead,agent_stale)', collectList)
    .option('--agent <agent-id>', 'only events of this agent')
    .option('--command <command-id>', 'only events of this command')
    .addHelpText(
      'after',
      [
        '',
        'Without -f, prints the events of the last --since (default 1m), at most the last --limit, and exits.',
        'With -f, prints each event as it arrives (-o jsonl for one JSON object per line) until Ctrl-C (exit 0);',
        'if the server ends the stream (a replica draining) it exits 4 and names the id to pass as --after.',
        '',
        'Examples:',
        '  nexusctl events',
        '  nexusctl events --since 1h --limit 100 --type command_dead,command_failed',
        '  nexusctl events --command deploy-42',
        '  nexusctl events -f --agent build-host-7',
        '  nexusctl events -f -o jsonl --type command_dead | jq .commandId',
        '  nexusctl events -f --after 1796533449376-0',
      ].join('\n'),
    )
    .action(
      action(async (ctx, flags: EventsFlags) => {
        const follow = Boolean(flags.follow);
        if (follow && ctx.out.format === 'json') throw usage('-o json prints one document; use -o jsonl with --follow');
        if (flags.after !== undefined && flags.since !== undefined) throw usage('give --after or --since, not both');
        if (flags.after !== undefined && !/^\d+(-\d+)?$/.test(flags.after)) throw usage(`--after must be an event id (<ms>-<seq> or <ms>), got ${JSON.stringify(flags.after)}`);
        if (follow && flags.limit !== undefined) throw usage('--limit is for the history read; with -f every event is printed');
        const limit = flags.limit === undefined ? 20 : parseCount('--limit', flags.limit, { max: 100_000 });
        const startedAt = Date.now();
        const sinceAt = flags.since !== undefined ? parseTime('--since', flags.since, startedAt) : follow ? undefined : startedAt - 60_000;
        const after = flags.after ?? (sinceAt !== undefined ? `${Math.max(0, sinceAt)}-0` : '');
        const request = WatchEventsRequest.fromPartial({ types: flags.type ?? [], agentId: flags.agent ?? '', commandId: flags.command ?? '', after });
        return follow ? followEvents(ctx, request) : recentEvents(ctx, request, startedAt, limit);
      }),
    );
}

/** A stream's error as a CliError, with the flag named when the server refused one. */
function streamFailure(ctx: CliContext, err: ServiceError): CliError {
  const e = ctx.client.failure(err, 'WatchEvents');
  if (err.code === status.INVALID_ARGUMENT) {
    const m = /^(types\[\d+\]|agent_id|command_id|after):/.exec(err.details ?? '');
    const flag = m ? { agent_id: '--agent', command_id: '--command', after: '--after' }[m[1]] ?? '--type' : undefined;
    if (flag) return usage(`${flag}: ${err.details}`);
  }
  return e;
}

/** Without -f: the events after the start up to now (the last `limit`), then exit. */
async function recentEvents(ctx: CliContext, request: WatchEventsRequest, startedAt: number, limit: number): Promise<ExitCode> {
  const call = await ctx.client.stream('watchEvents', request);
  const events: LifecycleEvent[] = [];
  let total = 0;
  let cutShort = false;
  await new Promise<void>((resolve, reject) => {
    let done = false;
    let quiet: NodeJS.Timeout | undefined;
    let bound: NodeJS.Timeout | undefined;
    const finish = (err?: CliError) => {
      if (done) return;
      done = true;
      clearTimeout(quiet);
      clearTimeout(bound);
      call.removeAllListeners('data');
      call.on('error', () => undefined);
      call.cancel();
      if (err) reject(err);
      else resolve();
    };
    const arm = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(), QUIET_MS);
    };
    // Bounded whatever happens: the history is read within --timeout or we print what we have.
    bound = setTimeout(() => {
      cutShort = true;
      finish();
    }, ctx.opts.timeoutSec * 1000);
    call.on('data', (e: LifecycleEvent) => {
      if (done) return;
      // Past the moment we started (with some slack for the clocks of Redis and this
      // machine): what follows is live, not history.
      if (entryMs(e.id) > startedAt + CLOCK_SLACK_MS) return finish();
      total++;
      events.push(e);
      if (events.length > limit) events.shift();
      arm();
    });
    call.on('error', (err: ServiceError) => (done ? undefined : finish(streamFailure(ctx, err))));
    call.on('end', () => finish());
    arm();
  });
  const { out } = ctx;
  out.list({ events: events.map((e) => LifecycleEvent.toJSON(e)) }, events, (e) => LifecycleEvent.toJSON(e), columns(ctx));
  if (total > events.length && out.forPeople) out.note(`(the last ${events.length} of ${total} events; --limit shows more)`);
  if (cutShort) out.note(`(the history was still arriving after --timeout ${ctx.opts.timeoutSec} s: these are the last events read; narrow --since or the filters)`);
  return EXIT.OK;
}

/** -f: every event as it arrives, until Ctrl-C (exit 0) or the server ends the stream (exit 4). */
async function followEvents(ctx: CliContext, request: WatchEventsRequest): Promise<ExitCode> {
  const { out } = ctx;
  const line = fixedLine(ctx);
  let lastId = request.after;
  let interrupted = false;
  let call: ClientReadableStream<unknown> | undefined;
  const onSigint = () => {
    interrupted = true;
    call?.cancel();
  };
  // Ctrl-C is how one ends a follow: exit 0, also while still connecting.
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    call = await ctx.client.stream('watchEvents', request);
    if (interrupted) {
      call.on('error', () => undefined);
      call.cancel();
      return EXIT.OK;
    }
    if (out.forPeople) out.write(`${line.header}\n`);
    const stream = call;
    return await new Promise<ExitCode>((resolve, reject) => {
      stream.on('data', (e: LifecycleEvent) => {
        lastId = e.id;
        if (out.format === 'jsonl') out.write(`${JSON.stringify(isoTimes(LifecycleEvent.toJSON(e)))}\n`);
        else if (out.format === 'yaml') out.write(`---\n${toYaml(isoTimes(LifecycleEvent.toJSON(e)))}`);
        else out.write(`${line.row(e)}\n`);
      });
      const resume = () => (lastId ? `; resume with --after ${lastId}` : '');
      stream.on('error', (err: ServiceError) => {
        if (interrupted && err.code === status.CANCELLED) return resolve(EXIT.OK);
        const failure = streamFailure(ctx, err);
        if (failure.code === EXIT.USAGE || failure.code === EXIT.DENIED || failure.code === EXIT.INTERNAL) return reject(failure);
        // A replica draining, a client too slow, Redis gone: the server's words, and where to go on from.
        reject(new CliError(`the event stream ended (${status[err.code] ?? err.code}): ${err.details || err.message}${resume()}`, EXIT.UNAVAILABLE));
      });
      stream.on('end', () => {
        if (interrupted) resolve(EXIT.OK);
        else reject(new CliError(`the server ended the event stream${resume()}`, EXIT.UNAVAILABLE));
      });
    });
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

/** The ms part of a stream entry id. */
function entryMs(id: string): number {
  return Number(id.split('-')[0]);
}

/** The time of day of an event, local, to the ms: 14:03:07.412. */
function clock(atMs: number): string {
  if (!atMs) return '-';
  const d = new Date(atMs);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The fields not shown in their own column, `key=value` (quoted when they hold spaces). */
function detail(e: LifecycleEvent): string {
  return Object.keys(e.fields)
    .filter((k) => !SHOWN_FIELDS.has(k))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((k) => {
      const v = e.fields[k];
      return `${k}=${/^[^\s"=]*$/.test(v) && v !== '' ? v : JSON.stringify(v)}`;
    })
    .join(' ');
}

/** What an operator looks for first. */
function rank(key: string): number {
  const order = ['reason', 'error', 'attempt', 'by', 'count'];
  const i = order.indexOf(key);
  return i < 0 ? order.length : i;
}

function typeText(ctx: CliContext, type: string, padded = type): string {
  const c = ctx.out.color;
  if (/succeeded|connected$|_up$/.test(type) && !type.includes('disconnected')) return c.green(padded);
  if (/failed|dead|_down$|disconnected/.test(type)) return c.red(padded);
  if (/retrying|stale|cancelled|purged/.test(type)) return c.yellow(padded);
  return padded;
}

/** The table columns of the history read. */
function columns(ctx: CliContext): Column<LifecycleEvent>[] {
  return [
    { header: 'ID', cell: (e) => e.id, wide: true },
    { header: 'TIME', cell: (e) => clock(e.atUnixMs) },
    { header: 'TYPE', cell: (e) => typeText(ctx, e.type) },
    { header: 'COMMAND', cell: (e) => e.commandId || '-' },
    { header: 'AGENT', cell: (e) => e.agentId || '-' },
    { header: 'REPLICA', cell: (e) => e.replicaId || '-' },
    { header: 'DETAIL', cell: (e) => (ctx.out.format === 'wide' ? detail(e) : cut(detail(e), 80)) || '-' },
  ];
}

/**
 * Follow mode prints as events arrive, so it cannot size columns to the rows: a fixed layout.
 * A longer value is not cut: its column widens from that line on (earlier lines are printed).
 */
function fixedLine(ctx: CliContext): { header: string; row: (e: LifecycleEvent) => string } {
  const wide = ctx.out.format === 'wide';
  const widths = { id: 17, time: 12, type: 19, command: 28, agent: 20, replica: 10 };
  const pad = (s: string, key: keyof typeof widths) => {
    widths[key] = Math.max(widths[key], s.length);
    return s.padEnd(widths[key]);
  };
  const join = (cells: string[]) => cells.join('   ').trimEnd();
  return {
    header: join([
      ...(wide ? [pad('ID', 'id')] : []),
      pad('TIME', 'time'), pad('TYPE', 'type'), pad('COMMAND', 'command'), pad('AGENT', 'agent'), pad('REPLICA', 'replica'), 'DETAIL',
    ]),
    row: (e) =>
      join([
        ...(wide ? [pad(e.id, 'id')] : []),
        pad(clock(e.atUnixMs), 'time'),
        typeText(ctx, e.type, pad(e.type, 'type')),
        pad(e.commandId || '-', 'command'),
        pad(e.agentId || '-', 'agent'),
        pad(e.replicaId || '-', 'replica'),
        (wide ? detail(e) : cut(detail(e), 80)) || '-',
      ]),
  };
}
