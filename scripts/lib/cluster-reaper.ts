#!/usr/bin/env node
/**
 * The local cluster's watchdog: ends what a local cluster that died without cleaning up
 * (SIGKILL, a crash) left behind. The cluster starts it first, detached, with a stdin pipe
 * whose only writer is the cluster, and tells it one line per fact:
 *
 *   child <pid>    a Nexus process that watches the same kind of pipe and stops on its own
 *   redis <pid>    the private redis-server, which cannot watch anything: ended here
 *   dir <path>     a temp dir to remove
 *   exited <pid>   that process has exited (so a reused PID is never signalled)
 *
 * End of stdin means the cluster is gone. If it cleaned up first, nothing is left to do. Else,
 * in the cluster's own order: the children get CHILD_GRACE_MS to drain (they still need Redis
 * for that), then SIGKILL; then Redis gets SIGTERM, SIGKILL after REDIS_GRACE_MS; then the
 * dirs go. Watching from a separate process acts within seconds, where a sweep at the next
 * start would leave Redis running until someone starts a cluster again.
 */
import { readFileSync, rmSync } from 'node:fs';

const CHILD_GRACE_MS = 8000;
const REDIS_GRACE_MS = 2000;

const children = new Set<number>();
const redis = new Set<number>();
const dirs = new Set<string>();

/** Whether `pid` runs; a zombie (Linux: state Z, left by an init that does not reap) does not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) has the last word
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Resolves once none of `pids` is alive, or after `ms`. */
async function gone(pids: Set<number>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while ([...pids].some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
}

function take(line: string): void {
  const [kind, value = ''] = line.trim().split(/ (.*)/s);
  const pid = Number(value);
  if (kind === 'child') children.add(pid);
  else if (kind === 'redis') redis.add(pid);
  else if (kind === 'dir') dirs.add(value);
  else if (kind === 'exited') {
    children.delete(pid);
    redis.delete(pid);
  }
}

async function reap(): Promise<void> {
  await gone(children, CHILD_GRACE_MS);
  for (const pid of children) {
    if (!alive(pid)) continue;
    kill(-pid, 'SIGKILL'); // its process group (it was started detached), then itself
    kill(pid, 'SIGKILL');
  }
  for (const pid of redis) kill(pid, 'SIGTERM');
  await gone(redis, REDIS_GRACE_MS);
  for (const pid of redis) if (alive(pid)) kill(pid, 'SIGKILL');
  await gone(redis, REDIS_GRACE_MS);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

let pending = '';
let reaping = false;
const onEnd = (): void => {
  if (reaping) return;
  reaping = true;
  take(pending);
  void reap().finally(() => process.exit(0));
};
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop() ?? '';
  lines.forEach(take);
});
process.stdin.once('end', onEnd).once('close', onEnd).once('error', onEnd);
