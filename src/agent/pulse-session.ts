import { status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type { AgentMessage, CommandResult, NexusPulseServiceClient, OrchestratorMessage, Welcome } from '../generated/nexus/prime/pulse';
import { afterPendingIo } from '../shared/delay';
import type { Logger } from '../shared/logger';
import { AGENT_VERSION, type CompiledAgentOptions } from './agent-options';
import { pulseMetadata } from './channel';
import type { CommandRunner } from './command-runner';
import type { HostMetricsSampler } from './host-metrics';

/** The orchestrator's `retry-after-ms` trailer on a refusal, if any. */
function retryAfter(err: ServiceError): number | undefined {
  const value = Number(err.metadata?.get('retry-after-ms')[0]);
  return Number.isFinite(value) && value > 0 ? Math.min(value, 3_600_000) : undefined;
}

/** How long to wait for the welcome after saying hello. */
export const WELCOME_TIMEOUT_MS = 10000;
/** Heartbeat intervals without an answer after which the link is presumed dead. */
export const SILENT_INTERVALS = 3;

/**
 * How a session ended. `healthy`: it was welcomed, lasted at least one heartbeat interval and
 * was not replaced by a newer session for the same id.
 */
export type SessionOutcome =
  | { kind: 'drained'; reconnectAfterMs: number; reconnectTo?: string }
  | { kind: 'closed' }
  | { kind: 'failed'; reason: string; code?: status; healthy: boolean; welcomed: boolean; retryAfterMs?: number };

export interface PulseSessionContext {
  readonly options: CompiledAgentOptions;
  readonly runner: CommandRunner;
  readonly metrics: HostMetricsSampler;
  readonly logger: Logger;
  readonly onWelcome: (welcome: Welcome) => void;
  /** Aborted when the agent is closing: say goodbye and end. */
  readonly stop: AbortSignal;
}

/**
 * One Pulse stream, from hello to its end: heartbeats on the negotiated interval, commands to
 * the runner, a silence watchdog, and drain handling. `run()` resolves exactly once.
 */
export class PulseSession {
  private call: ClientDuplexStream<AgentMessage, OrchestratorMessage> | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private welcomedAt = 0;
  private intervalMs: number;
  private lastHeard = performance.now();
  /** When the oldest heartbeat not answered yet went out (the orchestrator answers each one). */
  private askedAt: number | undefined;
  private settle: ((outcome: SessionOutcome) => void) | undefined;
  private done = false;
  /** Set once a drain directive arrived: when to leave. */
  private drainDeadline: number | undefined;
  /** The replica the drain suggested reconnecting to, if any. */
  private drainHint: string | undefined;
  /** The orchestrator takes result batches: results of one event-loop turn go in one message. */
  private batchResults = false;
  private pendingResults: CommandResult[] = [];
  private resultsFlush: NodeJS.Immediate | undefined;

  constructor(
    private readonly client: NexusPulseServiceClient,
    private readonly ctx: PulseSessionContext,
  ) {
    this.intervalMs = ctx.options.heartbeatIntervalMs;
  }

  /**
   * Writes to the stream if it is open; false otherwise. Results wait for the end of this
   * event-loop turn when the orchestrator takes batches: commands that arrived together
   * usually finish together, and one message carries them all.
   */
  send(message: AgentMessage): boolean {
    if (this.batchResults && message.kind?.$case === 'commandResult') {
      if (!this.open) return false;
      this.pendingResults.push(message.kind.commandResult);
      this.resultsFlush ??= setImmediate(() => this.flushResults());
      return true;
    }
    return this.write(message);
  }

  private get open(): boolean {
    const call = this.call;
    return call !== undefined && !call.writableEnded && !call.destroyed;
  }

  private write(message: AgentMessage): boolean {
    if (!this.open) return false;
    this.call!.write(message);
    return true;
  }

  /** Sends the results held for this turn: one alone as it is, several as a batch. */
  private flushResults(): void {
    clearImmediate(this.resultsFlush);
    this.resultsFlush = undefined;
    const results = this.pendingResults;
    if (results.length === 0) return;
    this.pendingResults = [];
    if (results.length === 1) this.write({ kind: { $case: 'commandResult', commandResult: results[0] } });
    else this.write({ kind: { $case: 'commandResults', commandResults: { results } } });
  }

  run(): Promise<SessionOutcome> {
    return new Promise((resolve) => {
      const { options, stop } = this.ctx;
      this.settle = (outcome) => {
        if (this.done) return;
        this.done = true;
        this.flushResults();
        for (const t of this.timers) clearTimeout(t);
        this.timers.clear();
        stop.removeEventListener('abort', onStop);
        resolve(outcome);
      };
      const onStop = (): void => {
        this.flushResults();
        this.send({ kind: { $case: 'goodbye', goodbye: { reason: 'agent closing' } } });
        this.call?.end();
        this.later(1000, () => this.call?.cancel());
        this.settle?.({ kind: 'closed' });
      };
      if (stop.aborted) return this.settle({ kind: 'closed' });
      stop.addEventListener('abort', onStop, { once: true });

      const call = this.client.pulse(pulseMetadata(options));
      this.call = call;
      call.on('data', (message: OrchestratorMessage) => this.onMessage(message));
      call.on('error', (err: ServiceError) => this.fail(err.details || err.message, err.code, retryAfter(err)));
      call.on('end', () => this.fail('orchestrator ended the stream', status.OK));
      this.send({
        kind: {
          $case: 'hello',
          hello: {
            agentId: options.agentId,
            agentType: options.agentType,
            displayName: options.displayName,
            capabilities: options.capabilities,
            labels: options.labels,
            version: AGENT_VERSION,
            maxConcurrency: options.maxConcurrency,
            acceptsCommandBatches: true,
          },
        },
      });
      // A welcome waiting in the socket of a stalled process is not a missing one.
      this.later(WELCOME_TIMEOUT_MS, afterPendingIo(() => {
        if (!this.welcomedAt && !this.done) this.abort(`no welcome within ${WELCOME_TIMEOUT_MS} ms`);
      }));
    });
  }

  private onMessage(message: OrchestratorMessage): void {
    this.lastHeard = performance.now();
    this.askedAt = undefined;
    const kind = message.kind;
    switch (kind?.$case) {
      case 'welcome':
        return this.onWelcome(kind.welcome);
      case 'command':
        return this.ctx.runner.receive(kind.command);
      case 'commands':
        for (const command of kind.commands.commands) this.ctx.runner.receive(command);
        return;
      case 'cancel':
        return this.ctx.runner.cancel(kind.cancel.commandId, kind.cancel.reason || 'cancelled by orchestrator');
      case 'drain':
        return this.onDrain(kind.drain.reconnectAfterMs, kind.drain.reason, kind.drain.reconnectTo);
      case 'ping':
      default:
        return;
    }
  }

  private onWelcome(welcome: Welcome): void {
    if (this.welcomedAt) return;
    this.welcomedAt = performance.now();
    this.batchResults = welcome.acceptsResultBatches;
    if (welcome.heartbeatIntervalMs > 0) this.intervalMs = Math.min(this.intervalMs, welcome.heartbeatIntervalMs);
    this.ctx.onWelcome(welcome);
    void this.heartbeat();
    this.watch();
  }

  /** Sends a heartbeat, then schedules the next one (never two in flight). */
  private async heartbeat(): Promise<void> {
    let metrics;
    try {
      metrics = await this.ctx.metrics.sample();
    } catch (err) {
      this.ctx.logger.warn({ err: (err as Error).message }, 'could not sample host metrics');
    }
    if (this.done || !this.send({ kind: { $case: 'heartbeat', heartbeat: { metrics, activeCommands: this.ctx.runner.active } } })) return;
    this.askedAt ??= performance.now();
    this.later(this.intervalMs, () => void this.heartbeat());
  }

  /**
   * Presumes the link dead when a heartbeat has gone SILENT_INTERVALS intervals without an
   * answer. Silence is counted from the oldest unanswered heartbeat, not from the last word
   * heard, and judged after pending I/O: a process whose own event loop stalled (a swarm of
   * agents reconnecting, a handler hogging the CPU) sent late and has not read the answers
   * waiting in its socket yet; that is no reason to drop a live link and feed a storm.
   */
  private watch(): void {
    this.later(this.intervalMs, afterPendingIo(() => {
      if (this.done) return;
      const now = performance.now();
      if (this.askedAt !== undefined && now - this.askedAt > SILENT_INTERVALS * this.intervalMs) {
        return this.abort(`heard nothing for ${Math.round(now - this.lastHeard)} ms (no answer to heartbeats for ${Math.round(now - this.askedAt)} ms)`);
      }
      this.watch();
    }));
  }

  /** Stays connected (results keep flowing) until the delay is up, then leaves. */
  private onDrain(reconnectAfterMs: number, reason: string, reconnectTo: string): void {
    this.ctx.logger.info({ reconnectAfterMs, reason, reconnectTo: reconnectTo || undefined }, 'drain requested');
    this.drainDeadline = performance.now() + reconnectAfterMs;
    this.drainHint = reconnectTo || undefined;
    const leave = (): void => {
      this.flushResults();
      this.send({ kind: { $case: 'goodbye', goodbye: { reason: 'drained' } } });
      this.call?.end();
      this.settle?.({ kind: 'drained', reconnectAfterMs: 0, reconnectTo: this.drainHint });
    };
    this.later(reconnectAfterMs, leave);
  }

  private fail(reason: string, code?: status, retryAfterMs?: number): void {
    if (this.drainDeadline !== undefined) {
      // Drained and the orchestrator ended the stream first: wait out the rest of the delay.
      this.settle?.({ kind: 'drained', reconnectAfterMs: Math.max(0, this.drainDeadline - performance.now()), reconnectTo: this.drainHint });
      return;
    }
    // A session replaced by another with the same id (ABORTED) never counts as healthy: two
    // processes misconfigured with one id then back off further and further instead of
    // taking the id from each other twice a second.
    const healthy = code !== status.ABORTED && this.welcomedAt > 0 && performance.now() - this.welcomedAt >= this.intervalMs;
    this.settle?.({ kind: 'failed', reason, code, healthy, welcomed: this.welcomedAt > 0, retryAfterMs });
  }

  private abort(reason: string): void {
    this.fail(reason);
    this.call?.cancel();
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}
