/** SLOWLOG and commandstats read by script, for the fan-out benchmarks. */
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { loadScripts } from '../../src/redis-bridge/script-loader';

/** One script's calls in a phase: how many, the longest and the sum, in µs. */
export interface Calls {
  calls: number;
  maxUs: number;
  totalUs: number;
  /** Each logged call's µs, in call order. */
  seq: number[];
}

const SCRIPTS = loadScripts();
const SHA_TO_NAME = new Map(SCRIPTS.map((s) => [createHash('sha1').update(s.lua).digest('hex'), s.name]));

/**
 * The script an entry ran. EVALSHA: by sha1. EVAL (ioredis sends the source on a
 * connection's first call of a script): SLOWLOG keeps 128 characters of an argument and says
 * how many more bytes it had, which together tell the script.
 */
function scriptName(cmd: string, arg: string): string | undefined {
  if (cmd === 'evalsha') return SHA_TO_NAME.get(arg);
  const cut = /^([\s\S]*)\.\.\. \((\d+) more bytes\)$/.exec(arg);
  const [head, bytes] = cut ? [cut[1], Buffer.byteLength(cut[1]) + Number(cut[2])] : [arg, Buffer.byteLength(arg)];
  return SCRIPTS.find((s) => s.lua.startsWith(head) && Buffer.byteLength(s.lua) === bytes)?.name;
}

/**
 * SLOWLOG since the last reset, grouped by script. Redis 7 logs the commands a script runs
 * too (before the script's own entry); their time is part of the script's, so they are
 * counted apart (`inner`) and left out of the total.
 */
export async function slowlogCalls(redis: Redis): Promise<{ byName: Map<string, Calls>; allUs: number; inner: number }> {
  const entries = (await redis.call('SLOWLOG', 'GET', '-1')) as [number, number, number, Buffer[] | string[]][];
  const byName = new Map<string, Calls>();
  let allUs = 0;
  let inner = 0;
  for (const [, , us, args] of [...entries].reverse()) {
    const cmd = String(args[0]).toLowerCase();
    if (cmd === 'slowlog' || cmd === 'config') continue;
    if (cmd !== 'evalsha' && cmd !== 'eval') {
      inner++;
      continue;
    }
    const name = scriptName(cmd, String(args[1])) ?? `${cmd} (unknown script)`;
    const c = byName.get(name) ?? { calls: 0, maxUs: 0, totalUs: 0, seq: [] };
    c.calls++;
    c.seq.push(us);
    c.maxUs = Math.max(c.maxUs, us);
    c.totalUs += us;
    byName.set(name, c);
    allUs += us;
  }
  return { byName, allUs, inner };
}

/** Starts logging every call over `us` µs, from an empty SLOWLOG and zeroed commandstats. */
export async function startSlowlog(redis: Redis, us: number): Promise<void> {
  await redis.config('SET', 'slowlog-max-len', '1000000');
  await redis.config('SET', 'slowlog-log-slower-than', String(us));
  await redis.call('SLOWLOG', 'RESET');
  await redis.config('RESETSTAT');
}

/** INFO commandstats since the last reset: µs in eval + evalsha (including the commands they ran). */
export async function scriptUsec(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  return ['eval', 'evalsha'].reduce((a, c) => a + Number(new RegExp(`cmdstat_${c}:calls=\\d+,usec=(\\d+)`).exec(stats)?.[1] ?? 0), 0);
}
