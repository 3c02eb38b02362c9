import { EventEmitter } from 'node:events';
import type { Welcome } from '../generated/nexus/prime/pulse';
import { fullJitterDelay, type BackoffPolicy } from '../shared/backoff';
import { delay } from '../shared/delay';
import { createLogger, type Logger } from '../shared/logger';
import { compileAgentOptions, type AgentOptions, type CompiledAgentOptions } from './agent-options';
import { createPulseClient, reconnectHint } from './channel';
import { CommandRunner } from './command-runner';
import { builtinHandlers, type CommandHandler } from './handlers';
import { sharedHostMetrics, type HostMetricsSampler } from './host-metrics';
import { PulseSession, type SessionOutcome } from './pulse-session';
import { ResultCache } from './result-cache';

/** idle -> connecting <-> connected / waiting -> closed */
export type AgentState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'closed';

/** Dependencies an embedding program may supply. */
export interface AgentDeps {
  logger?: Logger;
  metrics?: HostMetricsSampler;
}

/**
 * A Nexus agent: keeps one Pulse session open to the orchestrator fleet, reconnecting with
 * full-jitter backoff, and runs the commands it is sent with the registered handlers.
 *
 * ```ts
 * const agent = new Agent({ agentId: 'scanner-7', orchestrator: 'dns:///nexus:50051' });
 * agent.handle('scan', async ({ payload, signal }) => runScan(payload, signal));
 * agent.start();
 * ```
 *
 * Events: `welcome` (Welcome), `disconnected` (SessionOutcome), `give-up` (Error),
 * `execute` (Command: a handler starts running it), `waiting` (ms until the next attempt).
 */
export class Agent extends EventEmitter {
  readonly options: CompiledAgentOptions;
  state: AgentState = 'idle';
  /** Replica holding the current session, if any. */
  replicaId = '';
  /** Consecutive failed attempts (reset by a healthy session). */
  failures = 0;
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly runner: CommandRunner;
  private readonly metrics: HostMetricsSampler;
  private readonly log: Logger;
  private readonly stop = new AbortController();
  private session: PulseSession | undefined;
  private loop: Promise<void> | undefined;

  constructor(options: AgentOptions = {}, deps: AgentDeps = {}) {
    super();
    this.options = compileAgentOptions(options);
    this.metrics = deps.metrics ?? sharedHostMetrics;
    this.log = (deps.logger ?? createLogger('info')).child({ agentId: this.options.agentId });
    if (this.options.builtins) {
      for (const [type, handler] of Object.entries(builtinHandlers(this.metrics))) this.handlers.set(type, handler);
    }
    this.runner = new CommandRunner(
      this.options.agentId,
      this.options.maxConcurrency,
      this.handlers,
      new ResultCache(this.options.resultCacheSize),
      (message) => void this.session?.send(message),
      this.log,
      (command) => this.emit('execute', command),
    );
  }

  /** Registers (or replaces) the handler of a command type. */
  handle(commandType: string, handler: CommandHandler): this {
    this.handlers.set(commandType, handler);
    return this;
  }

  /**
   * Starts the connect loop; returns immediately. The first attempt waits `initialDelayMs`
   * (swarm mode spreads its agents' first attempts, as a fleet's hosts never all start in the
   * same millisecond); `close()` during the wait ends it.
   */
  start(initialDelayMs = 0): void {
    if (this.loop) return;
    this.loop = this.run(initialDelayMs).catch((err: Error) => {
      this.log.error({ err: err.message }, 'agent loop failed');
    });
  }

  /** Says goodbye, stops reconnecting and aborts running commands. Idempotent. */
  async close(): Promise<void> {
    this.stop.abort();
    this.runner.abortAll();
    await this.loop;
    this.state = 'closed';
  }

  private get backoff(): BackoffPolicy {
    return { initialMs: this.options.initialBackoffMs, maxMs: this.options.maxBackoffMs };
  }

  private async run(initialDelayMs: number): Promise<void> {
    const { options } = this;
    if (initialDelayMs > 0) await delay(initialDelayMs, this.stop.signal);
    /** A lighter replica the last drain named: tried once, before the agent's own target. */
    let hint: string | undefined;
    while (!this.stop.signal.aborted) {
      this.state = 'connecting';
      const hinted = hint;
      hint = undefined;
      const client = createPulseClient(options, hinted);
      this.session = new PulseSession(client, {
        options,
        runner: this.runner,
        metrics: this.metrics,
        logger: this.log,
        onWelcome: (welcome) => this.onWelcome(welcome),
        stop: this.stop.signal,
      });
      const outcome = await this.session.run();
      this.session = undefined;
      this.runner.setReporting(false);
      client.close();
      this.replicaId = '';
      if (this.stop.signal.aborted || outcome.kind === 'closed') break;
      this.emit('disconnected', outcome);
      if (hinted && outcome.kind === 'failed' && !outcome.welcomed) {
        // Not reachable from here (a proxy in between, or it went away): the own target at once.
        this.log.warn({ reconnectTo: hinted, reason: outcome.reason }, 'suggested replica not reachable; using the target');
        continue;
      }
      if (outcome.kind === 'drained' && options.reconnectHints) hint = outcome.reconnectTo && reconnectHint(outcome.reconnectTo);
      this.state = 'waiting';
      const waitMs = this.nextDelay(outcome);
      if (waitMs === undefined) {
        const err = new Error(`gave up after ${this.failures} failed attempts (MAX_RETRIES=${options.maxRetries})`);
        this.log.error({ failures: this.failures }, err.message);
        this.emit('give-up', err);
        break;
      }
      this.emit('waiting', waitMs);
      await delay(waitMs, this.stop.signal);
    }
    this.state = 'closed';
  }

  /** The wait before the next attempt, or undefined when retries are exhausted. */
  private nextDelay(outcome: SessionOutcome): number | undefined {
    if (outcome.kind === 'drained') {
      this.failures = 0;
      this.log.info({ reconnectAfterMs: outcome.reconnectAfterMs }, 'drained; reconnecting');
      return outcome.reconnectAfterMs;
    }
    if (outcome.kind !== 'failed') return 0;
    if (outcome.healthy) this.failures = 0;
    this.failures++;
    if (this.options.maxRetries > 0 && this.failures > this.options.maxRetries) return undefined;
    // A refusal with a retry delay (admission, per-id limit) is honoured, plus our own jitter so
    // the refused fleet does not come back in lock-step.
    const waitMs = (outcome.retryAfterMs ?? 0) + fullJitterDelay(this.backoff, this.failures - 1);
    this.log.warn({ reason: outcome.reason, code: outcome.code, attempt: this.failures, retryInMs: waitMs }, 'session ended; reconnecting');
    return waitMs;
  }

  private onWelcome(welcome: Welcome): void {
    this.state = 'connected';
    this.replicaId = welcome.replicaId;
    this.runner.setReporting(welcome.acceptsProgress);
    this.log.info({ replicaId: welcome.replicaId, sessionId: welcome.sessionId, epoch: welcome.epoch }, 'connected');
    this.emit('welcome', welcome);
  }
}
