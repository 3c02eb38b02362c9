import type { CommandResult } from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import type { CommandStore } from '../redis-bridge/command-store';
import type { CompleteOutcome, ResultInput } from '../redis-bridge/command-types';
import { planApplied, refillWindow, resultOutcome } from './delivery-decisions';
import type { DeliveryRuns } from './delivery-runs';
import type { OrchestratorMetrics } from './metrics';
import type { RetryTimers } from './retry-timers';
import type { Session } from './session';

/** Results applied per script call. */
const RESULT_CHUNK = 100;
/** A batch that could not be applied (Redis away) is tried again after this long. */
const RETRY_AFTER_FAILURE_MS = 500;

interface PendingResult {
  session: Session;
  input: ResultInput;
}

/**
 * Applies agents' results: those that arrive within one turn of the event loop go to Redis in
 * one script call (per RESULT_CHUNK), which also refills the windows they free; the refilled
 * commands are sent from its reply. A batch that cannot be applied now (Redis away) is tried
 * again until it is, or until its session ends (the command is then redelivered on the next
 * session and the agent answers from its result cache).
 */
export class ResultBatcher {
  private queued: PendingResult[] = [];
  private flush: NodeJS.Immediate | undefined;
  private readonly applying = new Set<Promise<void>>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly store: CommandStore,
    private readonly runs: DeliveryRuns,
    private readonly retries: RetryTimers,
    private readonly metrics: OrchestratorMetrics,
    private readonly logger: Logger,
  ) {}

  /** Queues one result of `session` for the next flush. */
  add(session: Session, result: CommandResult): void {
    const outcome = resultOutcome(result.outcome);
    if (!outcome) {
      this.logger.warn({ agentId: session.agentId, commandId: result.commandId }, 'result without an outcome ignored');
      return;
    }
    session.inflight = Math.max(0, session.inflight - 1);
    this.queue({
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

  /**
   * Waits until every queued result has been applied (or given up on); results still arriving
   * are applied too, so agents leaving a draining replica need not run them again. Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    while (this.flush || this.applying.size > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await Promise.all(this.applying);
    }
  }

  private queue(pending: PendingResult): void {
    this.queued.push(pending);
    this.flush ??= setImmediate(() => {
      this.flush = undefined;
      const queued = this.queued;
      this.queued = [];
      for (let i = 0; i < queued.length; i += RESULT_CHUNK) this.track(this.apply(queued.slice(i, i + RESULT_CHUNK)));
    });
  }

  private track(work: Promise<void>): void {
    const done = work
      .catch((err: Error) => this.logger.error({ err: err.message }, 'applying results failed'))
      .finally(() => this.applying.delete(done));
    this.applying.add(done);
  }

  private async apply(batch: PendingResult[]): Promise<void> {
    for (const { session, input } of batch) input.refillWindow = refillWindow(session);
    let outcome: CompleteOutcome;
    try {
      outcome = await this.store.completeBatch(batch.map((p) => p.input));
    } catch (err) {
      // Its refills may have been picked all the same.
      this.runs.resendSoon(batch.map((p) => p.session.agentId));
      const retry = batch.filter((p) => !this.closed && p.session.state !== 'closed');
      if (retry.length === 0) return;
      this.logger.warn({ results: retry.length, err: (err as Error).message }, 'results not applied yet; retrying');
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        for (const p of retry) this.queue(p);
      }, RETRY_AFTER_FAILURE_MS);
      timer.unref();
      this.retryTimers.add(timer);
      return;
    }
    const plan = planApplied(batch.map(({ session, input }) => ({ session, outcome: input.outcome })), outcome.applied);
    for (const label of plan.counted) this.metrics.countOutcome(label);
    for (const { agentId, inMs } of plan.retries) this.retries.schedule(agentId, inMs);
    for (const session of plan.fenced) this.runs.fenced(session);
    for (const { agentId, commands, nextRetryInMs } of outcome.refills) {
      const session = plan.current.get(agentId);
      if (session) this.runs.send(session, commands);
      if (nextRetryInMs > 0) this.retries.schedule(agentId, nextRetryInMs);
    }
  }
}
