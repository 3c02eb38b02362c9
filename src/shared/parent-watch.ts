import type { Readable } from 'node:stream';
import { ConfigError } from './config-error';

/**
 * Set to `stdin` by a supervisor on this machine (the local cluster, `npm start`) that keeps
 * the write end of this process's stdin pipe. Unset everywhere else: Kubernetes and other
 * supervisors manage a process's lifetime themselves.
 */
export const PARENT_WATCH_VARIABLE = 'NEXUS_PARENT_WATCH';

/**
 * Whether the parent watch is asked for; fails with a ConfigError on any value other than
 * `stdin` or empty, so a typo does not silently leave the process running after its parent.
 */
export function parentWatchRequested(env: NodeJS.ProcessEnv): boolean {
  const value = env[PARENT_WATCH_VARIABLE] ?? '';
  if (value === '') return false;
  if (value === 'stdin') return true;
  throw new ConfigError(PARENT_WATCH_VARIABLE, `must be "stdin" or unset, not "${value}"`);
}

/**
 * Calls `onGone` once when the parent is gone, however it ended (SIGKILL included): stdin is a
 * pipe whose only writer is the parent, and the kernel closes it when the parent dies, so the
 * end of stdin is the signal. A pipe needs no polling and cannot be fooled by a reused PID,
 * unlike watching `process.ppid`. The read never keeps the process alive (unref'd); the
 * returned function stops watching (call it when shutting down for another reason).
 */
export function watchParent(onGone: () => void, input: Readable = process.stdin): () => void {
  let watching = true;
  const ignore = (): void => undefined;
  const gone = (): void => {
    if (!watching) return;
    stop();
    onGone();
  };
  const stop = (): void => {
    watching = false;
    input.off('data', ignore).off('end', gone).off('close', gone).off('error', gone);
    input.on('error', ignore); // a late error on a pipe nobody reads any more is not news
    input.pause();
  };
  input.on('data', ignore).once('end', gone).once('close', gone).once('error', gone);
  input.resume();
  (input as Readable & { unref?: () => void }).unref?.();
  return stop;
}
