import { delay } from '../shared/delay';
import { CancelledError, PermanentError } from './command-errors';
import type { HostMetricsSampler } from './host-metrics';

/** What a handler gets for one command run. */
export interface CommandContext {
  readonly agentId: string;
  readonly commandId: string;
  readonly commandType: string;
  readonly payload: string;
  readonly priority: number;
  readonly attempt: number;
  readonly correlationId: string;
  /** Unix ms after which the result no longer matters; 0 = none. */
  readonly deadlineUnixMs: number;
  /** Aborted when the command is cancelled or the agent closes. */
  readonly signal: AbortSignal;
  /**
   * Reports progress: `percent` in 0..100 (clamped; NaN counts as 0), `message` optional (cut
   * to 1,024 UTF-8 bytes). Only the newest report counts; at most one every 250 ms is sent
   * (REPORT_INTERVAL_MS), the last one before the result. A no-op when the orchestrator does
   * not take progress (its Welcome lacks accepts_progress). Shows in GetCommand and WatchCommand.
   */
  progress(percent: number, message?: string): void;
  /**
   * Logs one line to the command's log stream: each line cut to 1,024 UTF-8 bytes; lines are
   * sent every 250 ms, at most 100 per command each time (400 a second); at most 1,000 wait per
   * command, more are dropped and counted (the stream records how many). All lines still
   * waiting are sent before the result. A no-op when the orchestrator does not take them.
   */
  log(line: string): void;
}

/**
 * Runs one command; the returned text is the command's output. Throw to fail (retried by the
 * orchestrator), PermanentError to fail without retry, CancelledError when `signal` aborted.
 */
export type CommandHandler = (ctx: CommandContext) => Promise<string> | string;

/** Longest accepted `sleep`: one hour. */
const MAX_SLEEP_MS = 3_600_000;
/** The built-in `sleep` reports progress this often (the contract asks for at least once a second). */
export const SLEEP_PROGRESS_EVERY_MS = 500;

/** The built-in command types, always safe to run: they touch nothing on the host. */
export function builtinHandlers(metrics: HostMetricsSampler): Record<string, CommandHandler> {
  return {
    echo: (ctx) => ctx.payload,
    sleep: async (ctx) => {
      const ms = Number(ctx.payload.trim() || '0');
      if (!Number.isInteger(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
        throw new PermanentError(`sleep payload must be whole milliseconds in 0..${MAX_SLEEP_MS}, got ${JSON.stringify(ctx.payload.slice(0, 40))}`);
      }
      const started = Date.now();
      const end = started + ms;
      if (ms > 0) ctx.progress(0, `slept 0 of ${ms} ms`);
      for (let now = started; now < end && !ctx.signal.aborted; now = Date.now()) {
        await delay(Math.min(SLEEP_PROGRESS_EVERY_MS, end - now), ctx.signal);
        const slept = Math.min(ms, Date.now() - started);
        ctx.progress((slept / ms) * 100, `slept ${slept} of ${ms} ms`);
      }
      if (ctx.signal.aborted) throw new CancelledError(`sleep cancelled`);
      return `slept ${ms} ms`;
    },
    sysinfo: async () => JSON.stringify(await metrics.sample()),
  };
}
