import { status, type ServiceError } from '@grpc/grpc-js';
import {
  CommandState,
  GetCommandRequest,
  WatchCommandRequest,
  WatchCommandResponse,
  type ChildOutcome,
  type CommandEvent,
  type GetCommandResponse,
  type LogLine,
  type Progress,
} from '../../generated/nexus/prime/pulse';
import { coloredState, cut, progressText, stateName, TERMINAL_STATES } from '../commands/commands-common';
import type { CliContext } from '../context';
import { CliError, EXIT, type ExitCode } from '../exit-codes';
import type { Output } from '../output';
import { createDisplay, type Display } from './display';
import { progressBar } from './progress-bar';

/**
 * How a follow shows what happens: `live` (a terminal: progress bar and per-agent rows redrawn
 * in place), `plain` (piped: one line per step, progress change, log line, child outcome),
 * `jsonl` (each WatchCommandResponse as one JSON line) or `quiet` (nothing: `send --wait`).
 */
export type FollowMode = 'live' | 'plain' | 'jsonl' | 'quiet';

/** The mode for the current output format and stdout. */
export function followModeOf(out: Output, stream: NodeJS.WritableStream = process.stdout): FollowMode {
  if (out.format === 'jsonl') return 'jsonl';
  if (!out.forPeople) return 'quiet';
  return (stream as NodeJS.WriteStream).isTTY ? 'live' : 'plain';
}

/** A row of the per-agent view of a fan-out parent. */
interface ChildRow {
  id: string;
  agent: string;
  state: CommandState;
  attempts: number;
  detail: string;
}

/** How many times a broken watch stream is resumed (from its last position) before giving up. */
const RESUMES = 3;
/** How often the children of a parent are polled for the live rows. */
const CHILD_POLL_MS = 1000;

/** The outcome of a follow: the command as it ended, and the exit code it stands for. */
export interface FollowResult {
  final: GetCommandResponse;
  code: ExitCode;
}

/**
 * Follows command `id` with WatchCommand until it ends (resuming a broken stream from its last
 * position a few times), showing it per `mode`, then reads it once more with GetCommand.
 * Errors: NOT_FOUND exits 3, a broken stream 4 (UNAVAILABLE), refusals 5/6.
 */
export async function follow(ctx: CliContext, id: string, mode: FollowMode, stream: NodeJS.WritableStream = process.stdout): Promise<FollowResult> {
  const view = new FollowView(ctx.out, createDisplay(stream, mode === 'live'), mode, stream);
  let position = '';
  let poller: NodeJS.Timeout | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await watchOnce(ctx, id, position, (m) => {
          position = m.position || position;
          view.message(m);
          if (m.kind?.$case === 'snapshot' && view.isParent && mode === 'live' && !poller) {
            const poll = (): void => {
              void pollChildren(ctx, id).then((res) => res && view.children(res), () => undefined);
            };
            poll();
            poller = setInterval(poll, CHILD_POLL_MS);
          }
        });
        break;
      } catch (err) {
        const e = err as Partial<ServiceError>;
        const retryable = e.code === status.UNAVAILABLE || e.code === status.INTERNAL || e.code === status.UNKNOWN || e.code === status.CANCELLED;
        if (retryable && position && attempt < RESUMES) {
          view.note(`watch stream broke (${e.details || e.message}); resuming`);
          continue;
        }
        const failure = ctx.client.failure(e, 'WatchCommand');
        if (failure.code === EXIT.NOT_FOUND) throw new CliError(`command ${id} not found (never seen, or its record expired)`, EXIT.NOT_FOUND);
        if (failure.code === EXIT.DENIED || failure.code === EXIT.REFUSED) throw failure;
        throw new CliError(`watching ${id}: ${failure.message}`, EXIT.UNAVAILABLE);
      }
    }
  } finally {
    if (poller) clearInterval(poller);
  }
  const final = await ctx.client.call('getCommand', GetCommandRequest.fromPartial({ commandId: id, childrenPageSize: 1000 }));
  view.end(final);
  return { final, code: exitCodeOfCommand(final) };
}

/** 0 when the command (and every child of a fan-out) succeeded; 1 when it ended otherwise; 4 when it has not ended. */
export function exitCodeOfCommand(c: GetCommandResponse): ExitCode {
  if (c.state === CommandState.COMMAND_STATE_SUCCEEDED) {
    return c.fanout && c.fanout.failed + c.fanout.dead > 0 ? EXIT.COMMAND_FAILED : EXIT.OK;
  }
  if (TERMINAL_STATES.has(c.state)) return EXIT.COMMAND_FAILED;
  return EXIT.UNAVAILABLE;
}

async function watchOnce(ctx: CliContext, id: string, after: string, onMessage: (m: WatchCommandResponse) => void): Promise<void> {
  const call = await ctx.client.stream('watchCommand', WatchCommandRequest.fromPartial({ commandId: id, after }));
  await new Promise<void>((resolve, reject) => {
    call.on('data', (m: unknown) => {
      try {
        onMessage(m as WatchCommandResponse);
      } catch (err) {
        call.cancel();
        reject(err);
      }
    });
    call.on('error', reject);
    call.on('end', resolve);
  });
}

async function pollChildren(ctx: CliContext, id: string): Promise<GetCommandResponse | undefined> {
  return ctx.client.call('getCommand', GetCommandRequest.fromPartial({ commandId: id, childrenPageSize: 1000 }));
}

const clock = (atMs: number | string): string => {
  const n = Number(atMs);
  return n > 0 ? new Date(n).toISOString().slice(11, 23) : '--:--:--.---';
};

const stepLine = (e: CommandEvent): string =>
  `${clock(e.atUnixMs)} ${e.event}${e.replicaId ? ` on ${e.replicaId}` : ''}${e.attempt ? ` attempt ${e.attempt}` : ''}${e.detail ? `: ${e.detail}` : ''}`;

/** Turns watch messages into lines and the live region. */
class FollowView {
  isParent = false;
  private state = CommandState.COMMAND_STATE_UNSPECIFIED;
  private progress: Progress | undefined;
  private lastProgressLine = '';
  private readonly rows = new Map<string, ChildRow>();
  private matched = 0;

  constructor(private readonly out: Output, private readonly display: Display, private readonly mode: FollowMode, private readonly stream: NodeJS.WritableStream) {}

  message(m: WatchCommandResponse): void {
    if (this.mode === 'jsonl') {
      this.stream.write(`${JSON.stringify(WatchCommandResponse.toJSON(m))}\n`);
      return;
    }
    if (this.mode === 'quiet') return;
    const k = m.kind;
    if (!k) return;
    if (k.$case === 'snapshot') this.snapshot(k.snapshot);
    else if (k.$case === 'step') this.step(k.step);
    else if (k.$case === 'progress') this.progressed(k.progress);
    else if (k.$case === 'log') this.log(k.log);
    else if (k.$case === 'child') this.child(k.child);
    this.redraw();
  }

  note(text: string): void {
    this.out.note(text);
  }

  /** A fresh GetCommand of the parent (live mode): rows for the children started so far. */
  children(res: GetCommandResponse): void {
    if (res.fanout) this.matched = res.fanout.matched;
    for (const c of res.fanout?.children ?? []) {
      const known = this.rows.get(c.commandId);
      if (known && TERMINAL_STATES.has(known.state)) continue;
      this.rows.set(c.commandId, { id: c.commandId, agent: c.target, state: c.state, attempts: c.attempts, detail: c.error || progressText(c.progress) });
    }
    this.redraw();
  }

  end(final: GetCommandResponse): void {
    if (this.mode === 'jsonl' || this.mode === 'quiet') return;
    this.state = final.state;
    if (final.fanout) {
      if (!this.display.live) {
        // Children that ended before the watch began (or past the first page of outcomes) had no `child` message.
        for (const k of final.fanout.children) {
          if (this.rows.has(k.commandId) || !TERMINAL_STATES.has(k.state)) continue;
          this.child({ commandId: k.commandId, agentId: k.target, state: k.state, error: k.error || k.deadReason, atUnixMs: k.finishedAtUnixMs, replicaId: '' });
        }
      }
      this.children(final);
      this.redraw();
      this.display.done();
      this.display.line(summaryLine(final));
    } else {
      if (final.progress) this.progress = final.progress;
      this.redraw();
      this.display.done();
      const c = this.out.color;
      this.display.line(`${final.commandId} ${coloredState(this.out, final.state)}${final.attempts ? ` after ${final.attempts} attempt${final.attempts === 1 ? '' : 's'}` : ''}`);
      if (final.output) this.display.line(`output: ${final.output}`);
      if (final.error) this.display.line(c.red(`error: ${final.error}`));
      if (final.deadReason && final.state === CommandState.COMMAND_STATE_DEAD) this.display.line(`dead letter: ${final.deadReason}`);
    }
  }

  private snapshot(s: GetCommandResponse): void {
    this.state = s.state;
    this.isParent = Boolean(s.fanout || s.selector);
    const who = s.selector ? `selector ${JSON.stringify(s.selector)}${s.pick ? ` (pick ${s.pick})` : ''}` : `target ${s.target}`;
    this.display.line(`${s.commandId}: ${s.commandType} on ${who}, ${stateName(s.state)}${s.maxAttempts && !this.isParent ? `, attempt ${s.attempts}/${s.maxAttempts}` : ''}`);
    if (s.fanout) {
      this.matched = s.fanout.matched;
      const f = s.fanout;
      this.display.line(`fan-out: ${f.matched} matched, ${f.skipped} skipped${f.batchSpec ? `, batch ${f.batchSpec}` : ''}${f.maxFailures ? `, max failures ${f.maxFailures}` : ''}`);
    }
    // What happened before the watch began (the steps after it arrive as `step` messages).
    for (const e of s.timeline) this.display.line(stepLine(e));
    if (s.progress && !this.isParent) this.progressed(s.progress);
  }

  private step(e: CommandEvent): void {
    this.display.line(stepLine(e));
    const terminal: Record<string, CommandState> = {
      succeeded: CommandState.COMMAND_STATE_SUCCEEDED,
      dead: CommandState.COMMAND_STATE_DEAD,
      expired: CommandState.COMMAND_STATE_DEAD,
      cancelled: CommandState.COMMAND_STATE_CANCELLED,
      delivered: CommandState.COMMAND_STATE_DELIVERED,
      running: CommandState.COMMAND_STATE_DELIVERED,
      retrying: CommandState.COMMAND_STATE_RETRYING,
    };
    if (terminal[e.event] !== undefined) this.state = terminal[e.event];
  }

  private progressed(p: Progress): void {
    this.progress = p;
    if (this.display.live) return;
    const line = `progress ${progressText(p)}`;
    if (line !== this.lastProgressLine) this.display.line(`${clock(p.atUnixMs)} ${line}`);
    this.lastProgressLine = line;
  }

  private log(l: LogLine): void {
    this.display.line(`${clock(l.atUnixMs)} | ${l.line}`);
  }

  private child(c: ChildOutcome): void {
    const known = this.rows.get(c.commandId);
    this.rows.set(c.commandId, { id: c.commandId, agent: c.agentId, state: c.state, attempts: known?.attempts ?? 0, detail: c.error });
    if (!this.display.live) {
      this.display.line(`${clock(c.atUnixMs)} child ${c.agentId || c.commandId} ${coloredState(this.out, c.state)}${c.error ? `: ${cut(c.error, 200)}` : ''}`);
    }
  }

  private redraw(): void {
    if (!this.display.live) return;
    if (this.isParent) {
      const rows = [...this.rows.values()].sort((a, b) => a.agent.localeCompare(b.agent));
      const finished = rows.filter((r) => TERMINAL_STATES.has(r.state)).length;
      const total = Math.max(this.matched, rows.length);
      const head = `${progressBar(total ? (finished / total) * 100 : 0)} ${finished}/${total} finished, ${stateName(this.state)}`;
      // A terminal's height of rows at most: the unfinished and failed ones first, the succeeded ones counted.
      const room = Math.max(5, ((this.stream as NodeJS.WriteStream).rows || 24) - 4);
      let shown = rows;
      let more = '';
      if (rows.length > room) {
        const open = rows.filter((r) => r.state !== CommandState.COMMAND_STATE_SUCCEEDED);
        shown = open.slice(0, room);
        more = `… ${rows.length - shown.length} more rows (${rows.length - open.length} succeeded)`;
      }
      const table = shown.length
        ? this.out.tableText(shown, [
            { header: 'AGENT', cell: (r) => r.agent },
            { header: 'STATE', cell: (r) => coloredState(this.out, r.state) },
            { header: 'ATTEMPTS', cell: (r) => String(r.attempts || '-') },
            { header: 'DETAIL', cell: (r) => cut(r.detail.replace(/\s+/g, ' '), 60) || '-' },
          ])
        : '';
      this.display.region([head, table, more].filter(Boolean).join('\n'));
      return;
    }
    const p = this.progress;
    this.display.region(p ? `${progressBar(p.percent)} ${p.message}  (${stateName(this.state)})` : `(${stateName(this.state)})`);
  }
}

/** `fan-out <id> succeeded: 3 succeeded, 0 failed, 0 dead, 0 cancelled, 0 skipped (3 matched)`. */
export function summaryLine(c: GetCommandResponse): string {
  const f = c.fanout;
  if (!f) return `${c.commandId} ${stateName(c.state)}`;
  return `summary: ${c.commandId} ${stateName(c.state)}: ${f.succeeded} succeeded, ${f.failed} failed, ${f.dead} dead, ${f.cancelled} cancelled, ${f.skipped} skipped (${f.matched} matched)${f.stopReason ? `; ${f.stopReason}` : ''}`;
}
