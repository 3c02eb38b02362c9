import type { Command } from 'commander';
import { NexusClient } from './client';
import { CliError, EXIT, type ExitCode } from './exit-codes';
import { resolveGlobals, type GlobalOptions, type RawGlobals } from './options';
import { Output } from './output';

/** What a nexusctl command runs with: the resolved global options, the output, a client. */
export class CliContext {
  readonly out: Output;
  private connection: NexusClient | undefined;

  constructor(readonly opts: GlobalOptions) {
    this.out = new Output(opts);
  }

  /** The gRPC client (made on first use: `--help` and usage errors never connect). */
  get client(): NexusClient {
    this.connection ??= new NexusClient(this.opts);
    return this.connection;
  }

  close(): void {
    this.connection?.close();
  }
}

/**
 * A command's action: resolves the global options of `command`, runs `body` and sets the
 * process' exit code from what it returns (or from the CliError it throws).
 */
export function action<A extends unknown[]>(body: (ctx: CliContext, ...args: A) => Promise<ExitCode | void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const ctx = new CliContext(resolveGlobals(command.optsWithGlobals() as RawGlobals));
    try {
      process.exitCode = (await body(ctx, ...(args.slice(0, -1) as A))) ?? EXIT.OK;
    } finally {
      ctx.close();
    }
  };
}

/** A usage error naming the flag. */
export function usage(message: string): CliError {
  return new CliError(message, EXIT.USAGE);
}
