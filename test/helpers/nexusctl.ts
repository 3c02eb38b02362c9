import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { liveChildren, Child } from './processes';

export const NEXUSCTL_BIN = join(__dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');

/** What one nexusctl run printed and how it ended. */
export interface CtlRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document (throws with the output when it is not one). */
  json<T = unknown>(): T;
  /** stdout as JSON lines. */
  lines<T = unknown>(): T[];
}

/**
 * Runs the built nexusctl binary as a subprocess with `args` (env: NEXUS_ADDR and friends; no
 * colour unless asked), kills it after `timeoutMs` and returns its output and exit code.
 * `stdin`, when given, is written and closed.
 */
export function nexusctl(args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number; stdin?: string } = {}): Promise<CtlRun> {
  const proc = spawn(process.execPath, [NEXUSCTL_BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const child = new Child(`nexusctl ${args.join(' ')}`, proc);
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  if (options.stdin !== undefined) proc.stdin?.end(options.stdin);
  else proc.stdin?.end();
  const timer = setTimeout(() => child.signal('SIGKILL'), options.timeoutMs ?? 30_000);
  return child.exited.then(({ code }) => {
    clearTimeout(timer);
    liveChildren.delete(child);
    return {
      code,
      stdout,
      stderr,
      json<T>(): T {
        try {
          return JSON.parse(stdout) as T;
        } catch {
          throw new Error(`nexusctl ${args.join(' ')}: stdout is not one JSON document:\n${stdout}\nstderr:\n${stderr}`);
        }
      },
      lines<T>(): T[] {
        return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
      },
    };
  });
}
