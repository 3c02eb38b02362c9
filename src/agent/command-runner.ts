import { CommandOutcome, type AgentMessage, type Command, type CommandResult } from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import { CancelledError, PermanentError } from './command-errors';
import { CommandReports } from './command-reports';
import type { CommandHandler } from './handlers';
import type { ResultCache } from './result-cache';

/** Longest output sent back (well under the 1 MiB message limit); the rest is cut. */
export const MAX_OUTPUT_CHARS = 256 * 1024;
/** Commands waiting for a free slot, per running slot. */
const QUEUE_PER_SLOT = 16;
/**
 * An ack waits this long: a result sent before then stands for it (the orchestrator records
 * the receipt with the result), so a fast command costs one message up instead of two.
 */
export const AGENT_ACK_HOLD_MS = 20;

/**
 * A running command's cancellation. Its AbortController is made only when the handler reads
 * `signal`: most handlers never do, and making one costs a few microseconds per command.
 */
class Cancellation {
  private controller: AbortController | undefined;
  private reason: Error | undefined;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  abort(reason: Error): void {
    this.reason ??= reason;
    this.controller?.abort(reason);
  }
}

/**
 * Runs commands for one agent, at most `maxConcurrency` at once, across sessions: a command
 * keeps running when the stream drops, and its result is sent on whatever session is current
 * when it finishes (or, with none, returned from the cache when the command is redelivered).
 * A command attempt is never run twice while its result is remembered.
 */
export class CommandRunner {
  private readonly running = new Map<string, Cancellation>();
  private readonly queue: Command[] = [];
  /** Acks not sent yet, by command id and attempt; one timer sends those still due. */
  private readonly heldAcks = new Map<string, Command>();
  private ackTimer: NodeJS.Timeout | undefined;
  /** True while the current session's Welcome said accepts_progress. */
  private reporting = false;
  private readonly reports: CommandReports;

  constructor(
    private readonly agentId: string,
    private readonly maxConcurrency: number,
    private readonly handlers: ReadonlyMap<string, CommandHandler>,
    private readonly cache: ResultCache,
    private readonly send: (message: AgentMessage) => void,
    private readonly logger: Logger,
    /** Called when a handler starts running a command (not for remembered results). */
    private readonly onStart: (command: Command) => void = () => undefined,
  ) {
    this.reports = new CommandReports(send, () => this.reporting);
  }

  /**
   * Whether `ctx.progress()` and `ctx.log()` reach the orchestrator: true while the current
   * session's Welcome said accepts_progress. Off, they cost a boolean test (an orchestrator
   * that predates them keeps working); switching off forgets what is pending.
   */
  setReporting(enabled: boolean): void {
    this.reporting = enabled;
    if (!enabled) this.reports.clear();
  }

  /** Commands running now. */
  get active(): number {
    return this.running.size;
  }

  /** Accepts a command: returns a remembered result, or acks it and runs it once. */
  receive(command: Command): void {
    const cached = this.cache.get(command.commandId);
    // A remembered result answers a redelivery of the same attempt, and any delivery of a
    // command that already succeeded or was cancelled; a new attempt after a failure runs.
    if (cached && (cached.attempt === command.attempt || cached.outcome !== CommandOutcome.COMMAND_OUTCOME_FAILED)) {
      this.send({ kind: { $case: 'commandResult', commandResult: { ...cached, attempt: command.attempt } } });
      return;
    }
    this.holdAck(command);
    if (this.running.has(command.commandId) || this.queue.some((c) => c.commandId === command.commandId)) return;
    if (this.running.size < this.maxConcurrency) return this.start(command);
    if (this.queue.length >= this.maxConcurrency * QUEUE_PER_SLOT) {
      this.finish(command, 0, { outcome: CommandOutcome.COMMAND_OUTCOME_FAILED, error: 'agent queue full; retry later', permanent: false });
      return;
    }
    this.queue.push(command);
  }

  /** Cancels a queued or running command. */
  cancel(commandId: string, reason: string): void {
    const queued = this.queue.findIndex((c) => c.commandId === commandId);
    if (queued !== -1) {
      const [command] = this.queue.splice(queued, 1);
      this.finish(command, 0, { outcome: CommandOutcome.COMMAND_OUTCOME_CANCELLED, error: reason });
      return;
    }
    this.running.get(commandId)?.abort(new CancelledError(reason));
  }

  /** Aborts everything (the agent is closing). */
  abortAll(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.heldAcks.clear();
    this.reports.clear();
    this.queue.length = 0;
    for (const cancellation of this.running.values()) cancellation.abort(new CancelledError('agent closing'));
  }

  private holdAck(command: Command): void {
    this.heldAcks.set(`${command.commandId}\u0000${command.attempt}`, command);
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      for (const c of this.heldAcks.values()) this.send({ kind: { $case: 'commandAck', commandAck: { commandId: c.commandId, attempt: c.attempt } } });
      this.heldAcks.clear();
    }, AGENT_ACK_HOLD_MS).unref();
  }

  private start(command: Command): void {
    const cancellation = new Cancellation();
    this.running.set(command.commandId, cancellation);
    this.onStart(command);
    const started = performance.now();
    const handler = this.handlers.get(command.commandType);
    const { reports, running } = this;
    const { commandId, attempt } = command;
    const run = handler
      ? Promise.resolve().then(() =>
          handler({
            agentId: this.agentId,
            commandId: command.commandId,
            commandType: command.commandType,
            payload: command.payload,
            priority: command.priority,
            attempt: command.attempt,
            correlationId: command.correlationId,
            deadlineUnixMs: command.deadlineUnixMs,
            get signal() {
              return cancellation.signal;
            },
            // After the result, reports are dropped: the orchestrator would ignore them anyway.
            progress: (percent: number, message?: string) => {
              if (running.get(commandId) === cancellation) reports.progress(commandId, attempt, percent, message);
            },
            log: (line: string) => {
              if (running.get(commandId) === cancellation) reports.log(commandId, attempt, line);
            },
          }),
        )
      : Promise.reject(new PermanentError(`unknown command type ${JSON.stringify(command.commandType)}`));
    run.then(
      (output) => this.finish(command, started, { outcome: CommandOutcome.COMMAND_OUTCOME_SUCCEEDED, output: String(output ?? '') }),
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        if (error instanceof CancelledError || cancellation.aborted) {
          this.finish(command, started, { outcome: CommandOutcome.COMMAND_OUTCOME_CANCELLED, error: error.message });
        } else {
          this.finish(command, started, { outcome: CommandOutcome.COMMAND_OUTCOME_FAILED, error: error.message, permanent: error instanceof PermanentError });
        }
      },
    );
  }

  private finish(command: Command, started: number, result: Partial<CommandResult>): void {
    const full: CommandResult = {
      commandId: command.commandId,
      attempt: command.attempt,
      outcome: result.outcome ?? CommandOutcome.COMMAND_OUTCOME_FAILED,
      output: (result.output ?? '').slice(0, MAX_OUTPUT_CHARS),
      error: (result.error ?? '').slice(0, MAX_OUTPUT_CHARS),
      durationMs: started ? Math.round(performance.now() - started) : 0,
      permanent: result.permanent ?? false,
    };
    this.running.delete(command.commandId);
    this.heldAcks.delete(`${command.commandId}\u0000${command.attempt}`);
    this.cache.set(full);
    // Stream order: what the handler reported goes before its result.
    this.reports.flushCommand(full.commandId);
    this.logger.debug({ commandId: full.commandId, outcome: CommandOutcome[full.outcome], durationMs: full.durationMs }, 'command finished');
    this.send({ kind: { $case: 'commandResult', commandResult: full } });
    const next = this.queue.shift();
    if (next) this.start(next);
  }
}
