import { status } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import { CommandOutcome, type CommandAck, type CommandResult } from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import type { CommandStore, Outgoing, ResultInput } from '../redis-bridge/command-store';
import type { NexusKeys } from '../redis-bridge/keys';
import type { OrchestratorMetrics } from './metrics';
import type { Session } from './session';
import type { SessionRegistry } from './session-registry';

/** Agents woken per wake-set poll. */
const WAKE_BATCH = 1000;
/** A delivery run or a result that failed (Redis away) is tried again after this long. */
const RETRY_AFTER_FAILURE_MS = 500;
/**
 * An ack is held this long: a result that follows in time records the receipt in its own
 * script (one call per command less); a command that runs longer gets its ack written alone.
 */
const ACK_HOLD_MS = 50;

/** Results applied per script call. */
const RESULT_CHUNK = 100;

interface PendingResult {
  session: Session;
  input: ResultInput;
}

const OUTCOMES: Partial<Record<CommandOutcome, 'succeeded' | 'failed' | 'cancelled'>> = {
  [CommandOutcome.COMMAND_OUTCOME_SUCCEEDED]: 'succeeded',
  [CommandOutcome.COMMAND_OUTCOME_FAILED]: 'failed',
  [CommandOutcome.COMMAND_OUTCOME_CANCELLED]: 'cancelled',
};

/**
 * Delivers mailboxes to the sessions this replica holds. Commands reach a session three ways:
 * - routed: the route script delivers a command at once to a session with a free slot and
 *   nothing waiting; its owner sends it (from the route reply, or pushed over the bell);
 * - refilled: the script that applies a batch of results picks the next commands for the
 *   windows it frees, and they are sent from its reply;
 * - a delivery run: the store (one fenced script) picks what fits the agent's window. Runs
 *   for one agent never overlap (a kick during a run schedules one more); they are triggered
 *   by a new session, the stream draining after backpressure, a due retry, and the doorbell
 *   (pub/sub ring, or the wake set polled as a fallback). A session's first run, and a run
 *   after a failed one, also resend what is in flight to it: a push it could not take then,
 *   or a reply lost with the connection, is sent that way.
 */
export class Delivery {
  private readonly running = new Map<string, { again: boolean; resend: boolean }>();
  private readonly retryTimers = new Map<string, { timer: NodeJS.Timeout; at: number; resend: boolean }>();
  /** Acks held back, by command id (at most one window per session). */
  private readonly heldAcks = new Map<string, NodeJS.Timeout>();
  /** Results waiting for the next flush, and flushes in progress. */
  private queuedResults: PendingResult[] = [];
  private resultFlush: NodeJS.Immediate | undefined;
  private readonly applying = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly store: CommandStore,
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly replicaId: string,
    private readonly metrics: OrchestratorMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * Asks for a delivery run for `agentId` if this replica holds its session; with `resend`,
   * the run also sends again what is in flight to the session.
   */
  kick(agentId: string, resend = false): void {
    if (this.closed) return;
    const run = this.running.get(agentId);
    if (run) {
      run.again = true;
      run.resend ||= resend;
      return;
    }
    const state = { again: true, resend };
    this.running.set(agentId, state);
    void (async () => {
      try {
        while (state.again && !this.closed) {
          state.again = false;
          const resendNow = state.resend;
          state.resend = false;
          await this.deliverOnce(agentId, resendNow);
        }
      } catch (err) {
        // The trigger (a popped wake entry, a result) is spent: try again on our own. The reply
        // may have been lost after the script ran: resend what is in flight.
        this.logger.warn({ agentId, err: (err as Error).message }, 'delivery failed; retrying');
        this.scheduleRetry(agentId, RETRY_AFTER_FAILURE_MS, true);
      } finally {
        this.running.delete(agentId);
      }
    })();
  }

  /** A resend run for every live session (after the bell's pub/sub connection came back). */
  resendAll(): void {
    for (const session of this.sessions.values()) if (session.state === 'live') this.kick(session.agentId, true);
  }

  /**
   * A resend run, after a pause, for each of these agents held here: a script call that
   * failed may have run in Redis all the same (the reply lost with the connection), and what
   * it delivered to them would otherwise never be written to their streams.
   */
  resendSoon(agentIds: Iterable<string>): void {
    for (const agentId of new Set(agentIds)) if (this.sessions.get(agentId)?.state === 'live') this.scheduleRetry(agentId, RETRY_AFTER_FAILURE_MS, true);
  }

  /**
   * Sends commands that the route script delivered to this replica's session of `epoch` (from
   * the route reply, or pushed over the bell). When that session is gone, not listed yet, or
   * leaving, nothing is sent: the commands stay in flight to `epoch` in Redis, where the
   * session's first run resends them or a new session takes them back.
   */
  sendRouted(agentId: string, epoch: number, commands: Outgoing[]): void {
    const session = this.sessions.get(agentId);
    if (session && session.epoch === epoch && session.state === 'live') this.send(session, commands);
  }

  /** Wakes the agents listed in this replica's wake set (the doorbell's durable half). */
  async pollWake(): Promise<void> {
    const ids = (await this.redis.spop(this.keys.replicaWake(this.replicaId), WAKE_BATCH)) as string[];
    for (const id of ids) this.kick(id);
  }

  /** Records an ack (timeline only), with the result if that follows within ACK_HOLD_MS. */
  onAck(session: Session, ack: CommandAck): void {
    const key = `${session.agentId}\u0000${ack.commandId}`;
    clearTimeout(this.heldAcks.get(key));
    const timer = setTimeout(() => {
      this.heldAcks.delete(key);
      this.store.ack(ack.commandId, session.agentId, ack.attempt).catch((err: Error) => this.logger.debug({ err: err.message }, 'ack not recorded'));
    }, ACK_HOLD_MS);
    timer.unref();
    this.heldAcks.set(key, timer);
  }

  /**
   * Queues a result; the results that arrive within one turn of the event loop are applied
   * by one script call (then their windows are refilled). A result that cannot be applied now
   * (Redis away) is tried again until it is, or until its session ends (the command is then
   * redelivered on the next session and the agent answers from its result cache).
   */
  onResult(session: Session, result: CommandResult): void {
    const outcome = OUTCOMES[result.outcome];
    if (!outcome) {
      this.logger.warn({ agentId: session.agentId, commandId: result.commandId }, 'result without an outcome ignored');
      return;
    }
    session.inflight = Math.max(0, session.inflight - 1);
    const key = `${session.agentId}\u0000${result.commandId}`;
    // The result records the receipt too.
    clearTimeout(this.heldAcks.get(key));
    this.heldAcks.delete(key);
    this.queueResult({
      session,
      input: {
        commandId: result.commandId,
        agentId: session.agentId,
        epoch: session.epoch,
        outcome,
        output: result.output,
        error: result.error,
        durationMs: result.durationMs,
        permanent: result.permanent,
        attempt: result.attempt,
        refillWindow: 0, // set when the batch is applied
      },
    });
  }

  private queueResult(pending: PendingResult): void {
    this.queuedResults.push(pending);
    this.resultFlush ??= setImmediate(() => {
      this.resultFlush = undefined;
      const queued = this.queuedResults;
      this.queuedResults = [];
      for (let i = 0; i < queued.length; i += RESULT_CHUNK) this.track(this.applyResults(queued.slice(i, i + RESULT_CHUNK)));
    });
  }

  private track(work: Promise<void>): void {
    const done = work
      .catch((err: Error) => this.logger.error({ err: err.message }, 'applying results failed'))
      .finally(() => this.applying.delete(done));
    this.applying.add(done);
  }

  private async applyResults(batch: PendingResult[]): Promise<void> {
    let outcome: Awaited<ReturnType<CommandStore['completeBatch']>>;
    for (const { session, input } of batch) {
      // Refill only a live session whose stream takes more (else 'drain' kicks it later).
      input.refillWindow = session.state === 'live' && !session.call.writableNeedDrain ? session.window : 0;
    }
    try {
      outcome = await this.store.completeBatch(batch.map((p) => p.input));
    } catch (err) {
      // Its refills may have been picked all the same.
      this.resendSoon(batch.map((p) => p.session.agentId));
      const retry = batch.filter((p) => !this.closed && p.session.state !== 'closed');
      if (retry.length === 0) return;
      this.logger.warn({ results: retry.length, err: (err as Error).message }, 'results not applied yet; retrying');
      setTimeout(() => retry.forEach((p) => this.queueResult(p)), RETRY_AFTER_FAILURE_MS).unref();
      return;
    }
    const fenced = new Set<Session>();
    // The session each refill is for: the one whose results were applied (not fenced).
    const current = new Map<string, Session>();
    batch.forEach(({ session, input }, i) => {
      const { code, retryInMs } = outcome.applied[i];
      if (code === -1) return fenced.add(session);
      current.set(session.agentId, session);
      if (code !== 0) this.metrics.countOutcome(code === 2 ? 'retrying' : input.outcome === 'failed' ? 'dead' : input.outcome);
      // The retry may sit behind the window's scan: its own timer brings it back when due.
      if (code === 2) this.scheduleRetry(session.agentId, retryInMs);
    });
    for (const session of fenced) this.fenced(session);
    for (const { agentId, commands, nextRetryInMs } of outcome.refills) {
      const session = current.get(agentId);
      if (session) this.send(session, commands);
      if (nextRetryInMs > 0) this.scheduleRetry(agentId, nextRetryInMs);
    }
  }

  /**
   * Stops timers and new deliveries; waits for results being applied (queued ones are still
   * applied, so agents leaving a draining replica need not run them again). Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.retryTimers.values()) clearTimeout(t.timer);
    this.retryTimers.clear();
    for (const t of this.heldAcks.values()) clearTimeout(t);
    this.heldAcks.clear();
    while (this.resultFlush || this.applying.size > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await Promise.all(this.applying);
    }
  }

  private async deliverOnce(agentId: string, resend: boolean): Promise<void> {
    const session = this.sessions.get(agentId);
    // Draining sessions get nothing new; what is in flight is redelivered by the next owner.
    if (!session || session.state !== 'live') return;
    // Backpressure: the stream's buffer is full; its 'drain' event kicks again.
    if (session.call.writableNeedDrain) return;
    const d = await this.store.deliver(agentId, session.epoch, session.window, resend);
    if (d.fenced) return this.fenced(session);
    this.send(session, d.commands);
    for (const commandId of d.cancels) {
      session.send({ kind: { $case: 'cancel', cancel: { commandId, reason: 'cancelled by operator' } } });
    }
    if (d.nextRetryInMs > 0) this.scheduleRetry(agentId, d.nextRetryInMs);
  }

  /** Several commands go in one message to an agent that takes batches. */
  private send(session: Session, commands: Outgoing[]): void {
    session.inflight += commands.length;
    if (commands.length > 1 && session.acceptsBatches) {
      session.send({ kind: { $case: 'commands', commands: { commands } } });
      return;
    }
    for (const command of commands) session.send({ kind: { $case: 'command', command } });
  }

  /** One timer per agent, for its earliest due retry (a later one is found by that run). */
  private scheduleRetry(agentId: string, inMs: number, resend = false): void {
    const at = performance.now() + inMs;
    const existing = this.retryTimers.get(agentId);
    if (existing && existing.at <= at) {
      existing.resend ||= resend;
      return;
    }
    if (existing) clearTimeout(existing.timer);
    const entry = { timer: setTimeout(() => {
      this.retryTimers.delete(agentId);
      this.kick(agentId, entry.resend);
    }, inMs + 5), at, resend: resend || (existing?.resend ?? false) };
    entry.timer.unref();
    this.retryTimers.set(agentId, entry);
  }

  private fenced(session: Session): void {
    this.logger.info({ agentId: session.agentId, epoch: session.epoch }, 'session fenced by a newer one; closing');
    session.close({ code: status.ABORTED, details: 'replaced by a newer session for the same agent id' });
  }
}
