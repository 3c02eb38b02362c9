import { status } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import { CommandOutcome, type CommandAck, type CommandResult } from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import type { CommandStore, Delivery as DeliveryPick, ResultInput } from '../redis-bridge/command-store';
import type { NexusKeys } from '../redis-bridge/keys';
import type { OrchestratorMetrics } from './metrics';
import type { Session } from './session';
import type { SessionRegistry } from './session-registry';

/** Agents woken per wake-set poll. */
const WAKE_BATCH = 1000;
/** A delivery run or a result that failed (Redis away) is tried again after this long. */
const RETRY_AFTER_FAILURE_MS = 500;
/**
 * An ack is held this long: a result that follows in time carries it into Redis in the same
 * script (one call per command instead of two); a command that runs longer gets its ack
 * written on its own.
 */
const ACK_HOLD_MS = 50;

const OUTCOMES: Partial<Record<CommandOutcome, 'succeeded' | 'failed' | 'cancelled'>> = {
  [CommandOutcome.COMMAND_OUTCOME_SUCCEEDED]: 'succeeded',
  [CommandOutcome.COMMAND_OUTCOME_FAILED]: 'failed',
  [CommandOutcome.COMMAND_OUTCOME_CANCELLED]: 'cancelled',
};

interface PendingResult {
  session: Session;
  input: ResultInput;
}

/**
 * Delivers mailboxes to the sessions this replica holds, in batches. Kicks (a new session, a
 * result freeing a window, the stream draining after backpressure, a due retry, the
 * doorbell) and agents' results are gathered, then flushed together: one script call applies
 * every result, and one more, sent right behind it on the same connection (so Redis runs it
 * after the results are in), picks what every kicked session should get. One flush is in
 * flight at a time; what arrives meanwhile makes the next batch, so batches grow with load
 * and runs for one agent never overlap.
 */
export class Delivery {
  private readonly kicks = new Set<string>();
  private results: PendingResult[] = [];
  private flushing = false;
  private scheduled = false;
  private readonly retryTimers = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  /** Acks held back, by agent and command id (at most one window per session). */
  private readonly heldAcks = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly store: CommandStore,
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly replicaId: string,
    private readonly windowMax: number,
    private readonly metrics: OrchestratorMetrics,
    private readonly logger: Logger,
  ) {}

  /** Asks for a delivery run for `agentId` (done in the next flush if this replica holds its session). */
  kick(agentId: string): void {
    if (this.closed) return;
    this.kicks.add(agentId);
    this.schedule();
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
   * Queues a result for the next flush, which also refills the window. A result that cannot
   * be applied (Redis away) is queued again until it is, or until its session ends (the
   * command is then redelivered on the next session and the agent answers from its result
   * cache).
   */
  onResult(session: Session, result: CommandResult): void {
    const outcome = OUTCOMES[result.outcome];
    if (!outcome) {
      this.logger.warn({ agentId: session.agentId, commandId: result.commandId }, 'result without an outcome ignored');
      return;
    }
    session.inflight = Math.max(0, session.inflight - 1);
    const key = `${session.agentId}\u0000${result.commandId}`;
    const held = this.heldAcks.get(key);
    if (held) {
      clearTimeout(held);
      this.heldAcks.delete(key);
    }
    this.results.push({
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
        acked: held !== undefined,
      },
    });
    if (!this.closed) this.kicks.add(session.agentId);
    this.schedule();
  }

  /**
   * Stops deliveries and timers. Results still arriving (sessions drain after this) are
   * applied, so agents leaving do not have to run them again elsewhere. Idempotent.
   */
  close(): void {
    this.closed = true;
    for (const t of this.retryTimers.values()) clearTimeout(t.timer);
    this.retryTimers.clear();
    for (const t of this.heldAcks.values()) clearTimeout(t);
    this.heldAcks.clear();
    this.kicks.clear();
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    const results = this.results;
    this.results = [];
    const targets: Session[] = [];
    for (const agentId of this.kicks) {
      const session = this.sessions.get(agentId);
      // Draining sessions get nothing new (what is in flight is redelivered by the next
      // owner); a full stream buffer waits for its 'drain' event, which kicks again.
      if (session && session.state === 'live' && !session.call.writableNeedDrain) targets.push(session);
    }
    this.kicks.clear();
    try {
      // Sent back to back without waiting: the delivery runs after the results in Redis.
      const applied = results.length > 0 ? this.store.complete(results.map((r) => r.input)) : Promise.resolve([]);
      const picked = targets.length > 0
        ? this.store.deliver(targets.map((s) => ({ agentId: s.agentId, epoch: s.epoch, window: Math.min(this.windowMax, s.profile.maxConcurrency || 4) })))
        : Promise.resolve([]);
      const [a, p] = await Promise.allSettled([applied, picked]);
      if (a.status === 'fulfilled') this.afterResults(results, a.value);
      else this.resultsFailed(results, a.reason as Error);
      if (p.status === 'fulfilled') this.send(targets, p.value);
      else {
        this.logger.warn({ agents: targets.length, err: (p.reason as Error).message }, 'delivery failed; retrying');
        for (const s of targets) this.scheduleRetry(s.agentId, RETRY_AFTER_FAILURE_MS);
      }
    } finally {
      this.flushing = false;
      if (this.kicks.size > 0 || this.results.length > 0) this.schedule();
    }
  }

  private afterResults(results: PendingResult[], applied: { code: -1 | 0 | 1 | 2; retryInMs: number }[]): void {
    applied.forEach(({ code, retryInMs }, i) => {
      const { session, input } = results[i];
      if (code === -1) return this.fenced(session);
      if (code !== 0) this.metrics.countOutcome(code === 2 ? 'retrying' : input.outcome === 'failed' ? 'dead' : input.outcome);
      // The retry may sit behind the window's scan: its own timer brings it back when due.
      if (code === 2) this.scheduleRetry(session.agentId, retryInMs);
    });
  }

  private resultsFailed(results: PendingResult[], err: Error): void {
    const alive = results.filter((r) => r.session.state !== 'closed');
    if (alive.length === 0 || this.closed) return;
    this.logger.warn({ results: alive.length, err: err.message }, 'results not applied yet; retrying');
    setTimeout(() => {
      if (this.closed) return;
      this.results.push(...alive.filter((r) => r.session.state !== 'closed'));
      this.schedule();
    }, RETRY_AFTER_FAILURE_MS).unref();
  }

  private send(targets: Session[], picked: DeliveryPick[]): void {
    picked.forEach((d, i) => {
      const session = targets[i];
      if (d.fenced) return this.fenced(session);
      for (const c of d.commands) {
        session.inflight++;
        session.send({ kind: { $case: 'command', command: c } });
      }
      for (const commandId of d.cancels) {
        session.send({ kind: { $case: 'cancel', cancel: { commandId, reason: 'cancelled by operator' } } });
      }
      if (d.nextRetryInMs > 0) this.scheduleRetry(session.agentId, d.nextRetryInMs);
    });
  }

  /** One timer per agent, for its earliest due retry (a later one is found by that run). */
  private scheduleRetry(agentId: string, inMs: number): void {
    if (this.closed) return;
    const at = performance.now() + inMs;
    const existing = this.retryTimers.get(agentId);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.retryTimers.delete(agentId);
      this.kick(agentId);
    }, inMs + 5);
    timer.unref();
    this.retryTimers.set(agentId, { timer, at });
  }

  private fenced(session: Session): void {
    if (session.state === 'closed') return;
    this.logger.info({ agentId: session.agentId, epoch: session.epoch }, 'session fenced by a newer one; closing');
    session.close({ code: status.ABORTED, details: 'replaced by a newer session for the same agent id' });
  }
}
