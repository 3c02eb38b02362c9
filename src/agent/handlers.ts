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
}

/**
 * Runs one command; the returned text is the command's output. Throw to fail (retried by the
 * orchestrator), PermanentError to fail without retry, CancelledError when `signal` aborted.
 */
export type CommandHandler = (ctx: CommandContext) => Promise<string> | string;

/** Longest accepted `sleep`: one hour. */
const MAX_SLEEP_MS = 3_600_000;

/** The built-in command types, always safe to run: they touch nothing on the host. */
export function builtinHandlers(metrics: HostMetricsSampler): Record<string, CommandHandler> {
  return {
    echo: (ctx) => ctx.payload,
    sleep: async (ctx) => {
      const ms = Number(ctx.payload.trim() || '0');
      if (!Number.isInteger(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
        throw new PermanentError(`sleep payload must be whole milliseconds in 0..${MAX_SLEEP_MS}, got ${JSON.stringify(ctx.payload.slice(0, 40))}`);
      }
      await delay(ms, ctx.signal);
      if (ctx.signal.aborted) throw new CancelledError(`sleep cancelled`);
      return `slept ${ms} ms`;
    },
    sysinfo: async () => JSON.stringify(await metrics.sample()),
  };
}
