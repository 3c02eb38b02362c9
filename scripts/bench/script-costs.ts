#!/usr/bin/env node
/**
 * `node dist/scripts/bench/script-costs.js [N] [rounds]`: Redis CPU of one command's life in
 * the command scripts, without replicas or agents. N (20,000) entries are read by one
 * consumer and routed in chunks of 100 to 30 agents (window 16: the first 16 of each are
 * delivered by routing itself); then results are applied in batches of 24, each batch
 * refilling the windows it frees, through the replica's own CommandStore, as a replica runs
 * them. Delivery runs are made only when a round of results refilled nothing. Redis'
 * `evalsha` time per command is printed per phase, the median of `rounds` (5). On a quiet
 * machine it repeats within a few us; on one whose speed drifts, alternate old and new runs.
 *
 * `--ablate timeline,index,events` (any of them) also runs the scripts with those parts taken
 * out (scripts/bench/script-ablations.ts), alternating with the real ones round by round on
 * the same Redis, and prints what the parts cost: the median of the per-round differences.
 */
import Redis from 'ioredis';
import { RedisProcess } from '../lib/redis-process';
import { CommandStore } from '../../src/redis-bridge/command-store';
import type { Outgoing } from '../../src/redis-bridge/command-types';
import { firstDelivery } from '../../src/redis-bridge/command-wire';
import { CONSUMER_GROUP, NexusKeys } from '../../src/redis-bridge/keys';
import { loadScripts } from '../../src/redis-bridge/script-loader';
import { ablate, parseAblations, type Ablation } from './script-ablations';
import { median } from './stats';

const args = process.argv.slice(2);
const ablateAt = args.indexOf('--ablate');
const ABLATE = ((): Ablation[] => {
  try {
    return ablateAt === -1 ? [] : parseAblations(args.splice(ablateAt, 2)[1] ?? '');
  } catch (err) {
    console.error(`script-costs: ${(err as Error).message}`);
    process.exit(2);
  }
})();
const N = Number(args[0] ?? 20_000);
const ROUNDS = Number(args[1] ?? 5);
const AGENTS = 30;
const WINDOW = 16;
const EPOCH = 7;

async function evalshaUsec(redis: Redis): Promise<number> {
  return Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
}

async function oneRound(redis: Redis, keys: NexusKeys, store: CommandStore): Promise<{ route: number; deliver: number; complete: number }> {
  await redis.flushall();
  const agent = (i: number) => `a${1 + (i % AGENTS)}`;
  for (let a = 0; a < AGENTS; a++) await redis.hset(keys.agent(agent(a)), 'epoch', EPOCH, 'inflight', 0, 'window', WINDOW, 'replica', 'r1', 'state', 'online');
  await redis.xgroup('CREATE', keys.commandsStream, CONSUMER_GROUP, '0', 'MKSTREAM');
  const ids: string[] = [];
  for (let c = 0; c < N; c += 1000) {
    const pipeline = redis.pipeline();
    for (let i = c; i < Math.min(N, c + 1000); i++) pipeline.xadd(keys.commandsStream, '*', 'x', 'y');
    for (const [, id] of (await pipeline.exec()) ?? []) ids.push(String(id));
  }
  await redis.xreadgroup('GROUP', CONSUMER_GROUP, 'r1', 'COUNT', N, 'STREAMS', keys.commandsStream, '>');

  // Commands sent to the agents and not answered yet.
  let sent: [string, Outgoing][] = [];
  await redis.config('RESETSTAT');
  for (let c = 0; c < N; c += 100) {
    const chunk = ids.slice(c, c + 100).map((entryId, j) => ({
      entryId,
      command: { commandId: `c-${c + j}`, target: agent(c + j), commandType: 'echo', payload: String(c + j), priority: 5, correlationId: '', maxAttempts: 3, ttlMs: 3_600_000, requestedBy: '', redriveOf: '', parentId: '' },
    }));
    (await store.routeBatch(chunk)).forEach((r, j) => {
      const { command } = chunk[j];
      if (r.outcome === 'delivered') sent.push([command.target, firstDelivery(command, r.expireAt)]);
    });
  }
  const route = await evalshaUsec(redis);

  let deliver = 0;
  let complete = 0;
  for (let finished = 0; finished < N;) {
    if (sent.length === 0) {
      await redis.config('RESETSTAT');
      const runs = await Promise.all(Array.from({ length: AGENTS }, (_, a) => store.deliver(agent(a), EPOCH, WINDOW)));
      runs.forEach((d, a) => d.commands.forEach((c) => sent.push([agent(a), c])));
      deliver += await evalshaUsec(redis);
      if (sent.length === 0) throw new Error(`nothing left to deliver after ${finished} of ${N}`);
    }
    const next: [string, Outgoing][] = [];
    await redis.config('RESETSTAT');
    for (let c = 0; c < sent.length; c += 24) {
      const { refills } = await store.completeBatch(sent.slice(c, c + 24).map(([agentId, cmd]) => ({
        commandId: cmd.commandId, agentId, epoch: EPOCH, outcome: 'succeeded' as const, output: cmd.payload, error: '', durationMs: 0, permanent: false, attempt: cmd.attempt, refillWindow: WINDOW,
      })));
      for (const r of refills) for (const cmd of r.commands) next.push([r.agentId, cmd]);
    }
    complete += await evalshaUsec(redis);
    finished += sent.length;
    sent = next;
  }
  if (Number(await redis.hget(keys.commandCounts, 'succeeded')) !== N) throw new Error('not every command succeeded');
  return { route: route / N, deliver: deliver / N, complete: complete / N };
}

/** A client whose script commands are the real ones, or the ablated ones. */
function scriptClient(port: number, ablations: readonly Ablation[]): Redis {
  const redis = new Redis(port, '127.0.0.1');
  for (const { name, numberOfKeys, lua } of loadScripts()) redis.defineCommand(name, { numberOfKeys, lua: ablate(name, lua, ablations) });
  return redis;
}

type Costs = { route: number; deliver: number; complete: number };
const all = (c: Costs) => c.route + c.deliver + c.complete;

async function main(): Promise<void> {
  const redisServer = await new RedisProcess('aof').start();
  const keys = new NexusKeys('nexus');
  const settings = {
    retentionMs: 3_600_000, eventsMaxLen: 100_000, dlqMaxLen: 100_000, dlqPayloadBytes: 4096, mailboxMax: 100_000, poisonDeliveries: 5, retryBaseMs: 1000, retryMaxMs: 60_000, indexLifeMs: 86_400_000,
  };
  const redis = scriptClient(redisServer.port, []);
  const ablated = ABLATE.length > 0 ? scriptClient(redisServer.port, ABLATE) : undefined;
  const store = new CommandStore(redis, keys, settings, 'r1');
  const ablatedStore = ablated && new CommandStore(ablated, keys, settings, 'r1');
  try {
    const rounds: Costs[] = [];
    const without: Costs[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      rounds.push(await oneRound(redis, keys, store));
      if (ablated && ablatedStore) without.push(await oneRound(ablated, keys, ablatedStore));
    }
    const m = (xs: Costs[], k: keyof Costs) => median(xs.map((x) => x[k]));
    const line = (xs: Costs[]) => `route ${m(xs, 'route').toFixed(1)}  deliver ${m(xs, 'deliver').toFixed(1)}  complete ${m(xs, 'complete').toFixed(1)}  all ${median(xs.map(all)).toFixed(1)}`;
    console.log(`Redis CPU in the command scripts, us per command (median of ${ROUNDS} rounds of ${N.toLocaleString('en-US')}):`);
    console.log(`  ${line(rounds)}`);
    if (without.length > 0) {
      console.log(`  without ${ABLATE.join(', ')} (alternating round by round): ${line(without)}`);
      const saved = rounds.map((r, i) => all(r) - all(without[i]));
      console.log(`  ${ABLATE.join(', ')} cost ${median(saved).toFixed(1)} us per command (per-round differences ${saved.map((d) => d.toFixed(1)).join(', ')})`);
    }
  } finally {
    redis.disconnect();
    ablated?.disconnect();
    await redisServer.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
