import { status } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import type { Logger } from '../shared/logger';
import type { CommandStore } from '../redis-bridge/command-store';
import type { Outgoing } from '../redis-bridge/command-types';
import type { NexusKeys } from '../redis-bridge/keys';
import { commandMessages } from './delivery-decisions';
import type { RetryTimers } from './retry-timers';
import type { Session } from './session';
import type { SessionRegistry } from './session-registry';

/** Agents woken per wake-set poll. */
const WAKE_BATCH = 1000;
/** A delivery run that failed (Redis away) is tried again after this long, as a resend. */
export const RETRY_AFTER_FAILURE_MS = 500;

/**
 * Delivers mailboxes to the sessions this replica holds (docs/architecture.md tells the whole
 * protocol). Commands reach a session three ways:
 * - routed: the route script delivers a command at once to a session with a free slot and
 *   nothing waiting; its owner sends it (from the route reply, or pushed over the bell);
 * - refilled: the script that applies a batch of results picks the next commands for the
 *   windows it frees (ResultBatcher sends them through here);
 * - a delivery run: the store (one fenced script) picks what fits the agent's window. Runs
 *   for one agent never overlap (a kick during a run schedules one more); they are triggered
 *   by a new session, the stream draining after backpressure, a due retry, and the doorbell
 *   (pub/sub ring, or the wake set polled as a fallback). A session's first run, and a run
 *   after a failed one, also resend what is in flight to it: a push it could not take then,
 *   or a reply lost with the connection, is sent that way.
 */
export class DeliveryRuns {
  private readonly running = new Map<string, { again: boolean; resend: boolean }>();
  private closed = false;

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly store: CommandStore,
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly replicaId: string,
    private readonly retries: RetryTimers,
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
        this.retries.schedule(agentId, RETRY_AFTER_FAILURE_MS, true);
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
    for (const agentId of new Set(agentIds)) if (this.sessions.get(agentId)?.state === 'live') this.retries.schedule(agentId, RETRY_AFTER_FAILURE_MS, true);
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

  /** Sends commands picked for `session` and counts them in flight. */
  send(session: Session, commands: Outgoing[]): void {
    session.inflight += commands.length;
    for (const message of commandMessages(commands, session.acceptsBatches)) session.send(message);
  }

  /** A newer session owns the agent: this one ends. */
  fenced(session: Session): void {
    this.logger.info({ agentId: session.agentId, epoch: session.epoch }, 'session fenced by a newer one; closing');
    session.close({ code: status.ABORTED, details: 'replaced by a newer session for the same agent id' }, true);
  }

  /** No new runs from now on (a run in progress ends after its script call). Idempotent. */
  close(): void {
    this.closed = true;
  }

  private async deliverOnce(agentId: string, resend: boolean): Promise<void> {
    const session = this.sessions.get(agentId);
    // Draining sessions get nothing new; what is in flight is redelivered by the next owner.
    if (!session || session.state !== 'live') return;
    // Backpressure: the stream's buffer is full; its 'drain' event kicks again.
    if (session.needsDrain) return;
    const pick = await this.store.deliver(agentId, session.epoch, session.window, resend);
    if (pick.fenced) return this.fenced(session);
    this.send(session, pick.commands);
    for (const commandId of pick.cancels) {
      session.send({ kind: { $case: 'cancel', cancel: { commandId, reason: 'cancelled by operator' } } });
    }
    if (pick.nextRetryInMs > 0) this.retries.schedule(agentId, pick.nextRetryInMs);
  }
}
