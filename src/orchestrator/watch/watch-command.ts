import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import type { WatchCommandRequest, WatchCommandResponse } from '../../generated/nexus/prime/pulse';
import type { NexusKeys } from '../../redis-bridge/keys';
import type { Logger } from '../../shared/logger';
import { FINISHED_STATES } from '../command-states';
import { commandView } from '../command-view';
import { fanoutSummary, isFanoutParent, SKIPPED_SHOWN } from '../fanout-view';
import {
  CHILD_OUTCOME_EVENTS,
  childOutcomeOf,
  isCommandStep,
  logEntryOf,
  PARENT_TERMINAL_EVENTS,
  rawEvent,
  stepOf,
  TERMINAL_EVENTS,
  type RawEvent,
} from './event-entries';
import { EventFeed } from './event-feed';
import type { EventsTail } from './events-tail';
import { formatPosition, parsePosition, type CommandPosition } from './stream-ids';
import { OUTBOX_MAX, WatchOutbox } from './watch-outbox';
import type { WatchRegistry } from './watch-registry';

/** Progress/log entries per read of a command's log stream. */
const LOG_PAGE = 100;
/** Polls of the log stream between checks of the record's state (a safety net, see poll()). */
const STATE_CHECK_EVERY = 10;
/** Checks that must find the record finished before the watch ends without its terminal step. */
const STATE_CHECKS_TO_END = 3;

/** What WatchCommand reads from. */
export interface WatchCommandDeps {
  readonly redis: Redis;
  readonly keys: NexusKeys;
  readonly tail: EventsTail;
  readonly registry: WatchRegistry;
  readonly logger: Logger;
  /** How often each watch reads its command's log stream (ms). */
  readonly logPollMs: number;
}

/** A checked WatchCommandRequest, or the INVALID_ARGUMENT details naming the bad field. */
export function checkWatchCommand(q: WatchCommandRequest): { id: string; after: CommandPosition | undefined } | string {
  if (!q.commandId || q.commandId.length > 128) return 'command_id: required (at most 128 characters)';
  if (!q.after) return { id: q.commandId, after: undefined };
  const after = parsePosition(q.after);
  if (!after) return `after: not a position from an earlier response (<events id>/<log id>): ${JSON.stringify(q.after.slice(0, 80))}`;
  return { id: q.commandId, after };
}

/**
 * WatchCommand: a snapshot (unless resuming), then each step of the command (its events on
 * the events stream), progress update and log line (its log stream), ending after the
 * terminal step. For a fan-out parent: its own steps and, instead of the children's steps,
 * each child's outcome (a `child` message), ending after the parent's own terminal event.
 * Everything comes from Redis, so any replica serves any command.
 */
export function watchCommandHandler(deps: WatchCommandDeps): (call: ServerWritableStream<WatchCommandRequest, WatchCommandResponse>) => void {
  return (call) => {
    const checked = checkWatchCommand(call.request);
    if (typeof checked === 'string') return call.emit('error', { code: status.INVALID_ARGUMENT, details: checked });
    const refused = deps.registry.refusal();
    if (refused) return call.emit('error', refused);
    new CommandWatch(deps, call as ServerWritableStream<unknown, WatchCommandResponse>, checked.id).start(checked.after);
  };
}

/** One WatchCommand stream. */
class CommandWatch {
  readonly kind = 'command' as const;
  private readonly outbox: WatchOutbox<WatchCommandResponse>;
  private readonly feed: EventFeed;
  private position: CommandPosition = { events: '0-0', log: '0-0' };
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private polls = 0;
  private finishedChecks = 0;
  private finishing = false;
  /** A fan-out parent (known once its record is read, before the feed starts). */
  private parent = false;

  constructor(private readonly deps: WatchCommandDeps, call: ServerWritableStream<unknown, WatchCommandResponse>, private readonly id: string) {
    this.outbox = new WatchOutbox(call, '', () => {
      this.feed.stop();
      clearInterval(this.timer);
      deps.registry.remove(this);
    });
    this.feed = new EventFeed(deps.tail, deps.redis, deps.keys.events, {
      // Runs for every entry of the shared tail: two field compares for most of them.
      accept: (e) => (e.fields.command_id === id ? isCommandStep(e) : this.parent && e.fields.parent_id === id && CHILD_OUTCOME_EVENTS.has(e.fields.type ?? '')),
      deliver: (e) => this.onStep(e),
      whenRoom: (n) => this.outbox.whenRoom(n),
      overflow: () => this.tooSlow(),
    }, OUTBOX_MAX);
  }

  fail(code: status, reason: string): void {
    this.outbox.fail(code, reason);
  }

  async start(after: CommandPosition | undefined): Promise<void> {
    const { redis, keys, registry } = this.deps;
    registry.add(this);
    try {
      let finishedAtStart: boolean;
      if (after) {
        const [commandId, state, fanout] = await redis.hmget(keys.command(this.id), 'command_id', 'state', 'fanout');
        if (!commandId) return this.outbox.reject(status.NOT_FOUND, `no command ${this.id} (never seen, or its record expired)`);
        this.parent = fanout === '1';
        this.position = after;
        this.outbox.startAt(formatPosition(after));
        finishedAtStart = FINISHED_STATES.has(state ?? '');
      } else {
        // The record and the events stream's end in one MULTI: every step in the snapshot's
        // timeline has an event at or before that end, every later one after it (a step and its
        // event are written by the same script), so the seam has no gap and no repeat.
        const replies = await redis
          .multi()
          .hgetall(keys.command(this.id))
          .xrevrange(keys.events, '+', '-', 'COUNT', 1)
          .zrange(keys.fanoutSkippedPrefix + this.id, '0', String(SKIPPED_SHOWN - 1))
          .exec();
        if (!replies) throw new Error('MULTI aborted');
        for (const [err] of replies) if (err) throw err;
        const record = replies[0][1] as Record<string, string>;
        const last = replies[1][1] as [string, string[]][];
        if (!record.command_id) return this.outbox.reject(status.NOT_FOUND, `no command ${this.id} (never seen, or its record expired)`);
        this.position = { events: last[0]?.[0] ?? '0-0', log: '0-0' };
        this.parent = isFanoutParent(record);
        const snapshot = commandView(record);
        // The counts now; children come as they finish (their pages are GetCommand's).
        if (this.parent) snapshot.fanout = fanoutSummary(record, replies[2][1] as string[]);
        this.send({ $case: 'snapshot', snapshot });
        finishedAtStart = FINISHED_STATES.has(record.state ?? '');
      }
      await this.feed.start(this.position.events);
      if (this.outbox.ended || this.finishing) return;
      // Finished before the watch began: its steps are all before the events' end (caught up), so end.
      if (finishedAtStart) return void this.finish();
      this.timer = setInterval(() => void this.poll(), this.deps.logPollMs);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, commandId: this.id }, 'WatchCommand could not read the command');
      this.outbox.fail(status.UNAVAILABLE, 'command store unavailable (redis unreachable); resume');
    }
  }

  private send(kind: WatchCommandResponse['kind']): boolean {
    const position = formatPosition(this.position);
    return this.outbox.push({ position, kind }, position);
  }

  private onStep(e: RawEvent): boolean {
    if (e.fields.command_id === this.id && (this.parent ? PARENT_TERMINAL_EVENTS : TERMINAL_EVENTS).has(e.fields.type ?? '')) {
      // The last reports were written before the result: send what is left of the log first.
      this.feed.stop();
      void this.finish(e);
      return true;
    }
    this.position = { ...this.position, events: e.id };
    if (e.fields.command_id !== this.id) return this.send({ $case: 'child', child: childOutcomeOf(e, this.id) });
    return this.send({ $case: 'step', step: stepOf(e) });
  }

  private tooSlow(): void {
    this.outbox.fail(status.RESOURCE_EXHAUSTED, `watcher too slow (more than ${OUTBOX_MAX} messages waiting); resume`);
  }

  /** Reads one page of the log stream when the outbox has room; returns how many entries it read. */
  private async readLog(): Promise<number> {
    const page = (await this.deps.redis.xrange(this.deps.keys.commandLog(this.id), `(${this.position.log}`, '+', 'COUNT', LOG_PAGE)) as [string, string[]][];
    for (const entry of page) {
      if (this.outbox.ended) break;
      const e = rawEvent(entry);
      this.position = { ...this.position, log: e.id };
      const message = logEntryOf(e);
      if (message && !this.send(message)) {
        this.tooSlow();
        break;
      }
    }
    return page.length;
  }

  /**
   * One timer tick: the next page of the log stream, skipped while the client is behind
   * (backpressure). Now and then the record's state too: a command seen finished three checks
   * in a row without its terminal step (events trimmed away) ends the watch anyway.
   */
  private poll(): Promise<void> | undefined {
    if (this.polling || this.finishing || this.outbox.ended || this.outbox.room < LOG_PAGE) return undefined;
    this.polling = (async () => {
      try {
        await this.readLog();
        if (++this.polls % STATE_CHECK_EVERY !== 0) return;
        const state = await this.deps.redis.hget(this.deps.keys.command(this.id), 'state');
        this.finishedChecks = state === null || FINISHED_STATES.has(state) ? this.finishedChecks + 1 : 0;
        if (this.finishedChecks >= STATE_CHECKS_TO_END) void this.finish();
      } catch (err) {
        this.deps.logger.debug({ err: (err as Error).message, commandId: this.id }, 'WatchCommand poll failed; next tick retries');
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  /**
   * At the end: stop polling, read what is left of the log stream, then send the terminal step
   * (`last`; none when the record said it ended and the event was trimmed away) and end OK.
   */
  private async finish(last?: RawEvent): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    clearInterval(this.timer);
    this.feed.stop();
    try {
      await this.polling;
      for (;;) {
        await this.outbox.whenRoom(LOG_PAGE);
        if (this.outbox.ended) return;
        if ((await this.readLog()) < LOG_PAGE) break;
      }
      if (last) {
        await this.outbox.whenRoom(1);
        if (this.outbox.ended) return;
        this.position = { ...this.position, events: last.id };
        this.send({ $case: 'step', step: stepOf(last) });
      }
      this.outbox.endWhenFlushed();
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, commandId: this.id }, 'WatchCommand could not read the last log lines');
      this.outbox.fail(status.UNAVAILABLE, 'log stream unavailable (redis unreachable); resume');
    }
  }
}
