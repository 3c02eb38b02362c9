#!/usr/bin/env node
/**
 * `node dist/scripts/bench/fanout-script-costs.js [N] [rounds]`: how long a broadcast to N
 * (10,000) agents holds Redis, script call by script call, without replicas or agents. On a
 * private redis-server (AOF everysec, as the bench's): N agents connect through the replica's
 * own AgentRegistry (so the agent records and the label index are the real ones; owners
 * spread over 3 replica ids, the agents' default profile), then one ingress entry
 * `selector '*'` is read by one consumer and handled as a replica does: FanoutStore.plan
 * (planFanout), FanoutStore.launch in chunks of FANOUT_CHUNK (launchChildren), and each
 * child's success applied through CommandStore.completeBatch in chunks of 100 (the result
 * batcher's; completeCommands, which also finishes the parent). The configuration is the
 * orchestrator's defaults (MAX_FANOUT 10,000).
 * Every script call Redis runs meanwhile is taken from SLOWLOG (see SLOWLOG_US), named by
 * the sha1 of each script (./script-slowlog). Printed per script: calls, longest call, total;
 * and the Redis time of the whole broadcast. Median over `rounds` (3).
 */
import Redis from 'ioredis';
import { RedisProcess } from '../lib/redis-process';
import { FANOUT_CHUNK } from '../../src/orchestrator/fanout-driver';
import { commandLimitsOf, fanoutLimitsOf, entryRulesOf } from '../../src/orchestrator/command-rules';
import { loadOrchestratorConfig } from '../../src/orchestrator/config';
import { AgentRegistry } from '../../src/redis-bridge/agent-registry';
import { CommandStore } from '../../src/redis-bridge/command-store';
import { FanoutStore, type Admitted } from '../../src/redis-bridge/fanout-store';
import { parseIngressEntry } from '../../src/redis-bridge/ingress-entry';
import { CONSUMER_GROUP, NexusKeys } from '../../src/redis-bridge/keys';
import { defineScripts } from '../../src/redis-bridge/script-loader';
import { scriptUsec, slowlogCalls, startSlowlog, type Calls } from './script-slowlog';
import { median } from './stats';

const N = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 3);
/**
 * slowlog-log-slower-than (µs), `SLOWLOG_US` (200): 0 logs every call, but also each command
 * the scripts run, which adds Redis time to every script call; at 200 only
 * calls over 200 µs are logged (the inner commands are far shorter), so the longest calls
 * are measured without that cost. Calls made are counted here, the total Redis time comes
 * from INFO commandstats (eval + evalsha) either way.
 */
const SLOWLOG_US = Number(process.env.SLOWLOG_US ?? 200);
const REPLICAS = ['bench-r1', 'bench-r2', 'bench-r3'];
const WINDOW = 16;
const RESULT_CHUNK = 100;
const PROFILE = { agentType: 'generic', displayName: '', capabilities: ['scan', 'report', 'analyze', 'execute'], labels: {}, version: '1', maxConcurrency: WINDOW };

interface Round {
  /** Keyed by script name (or the command's name when not a script). */
  byName: Map<string, Calls>;
  allUs: number;
  /** INFO commandstats: eval + evalsha µs (includes the commands they ran). */
  statsUs: number;
  /** Calls made, by script (counted here). */
  made: Record<string, number>;
  /** Commands run inside the scripts (logged apart by Redis 7; their time is the scripts'). */
  inner: number;
  wallMs: number;
  outcomes: Record<string, number>;
}

async function oneRound(redis: Redis, round: number, n = N): Promise<Round> {
  const config = loadOrchestratorConfig({ REPLICA_ID: REPLICAS[0] }, []);
  const keys = new NexusKeys(config.keyPrefix);
  const registry = new AgentRegistry(redis, keys, { recordTtlMs: config.agentRetentionMs, eventsMaxLen: config.eventsMaxLen, reconnectLimit: config.agentReconnectLimit, reconnectWindowMs: config.agentReconnectWindowMs });
  const fanouts = new FanoutStore(redis, keys, fanoutLimitsOf(config), REPLICAS[0]);
  const store = new CommandStore(redis, keys, commandLimitsOf(config), REPLICAS[0]);
  await redis.flushall();
  const agentIds = Array.from({ length: n }, (_, i) => `fan-${i + 1}`);
  for (let c = 0; c < n; c += 500) {
    await Promise.all(agentIds.slice(c, c + 500).map((id, j) => registry.connect(id, REPLICAS[(c + j) % REPLICAS.length], `s-${id}`, PROFILE, WINDOW)));
  }
  if (Number(await redis.zcard(keys.agentsOnline)) !== n) throw new Error(`${await redis.zcard(keys.agentsOnline)} of ${n} agents online`);
  await redis.xgroup('CREATE', keys.commandsStream, CONSUMER_GROUP, '0', 'MKSTREAM');
  const parentId = `bcast-${round}`;
  await redis.xadd(keys.commandsStream, '*', 'selector', '*', 'command_id', parentId, 'command_type', 'echo', 'payload', 'x');
  const read = (await redis.xreadgroupBuffer('GROUP', CONSUMER_GROUP, REPLICAS[0], 'COUNT', 1, 'STREAMS', keys.commandsStream, '>')) as [Buffer, [Buffer, Buffer[]][]][];
  const [entryIdRaw, fields] = read[0][1][0];
  const entryId = String(entryIdRaw);
  const request = parseIngressEntry(entryId, fields, entryRulesOf(config));
  if (request.kind !== 'targeted') throw new Error(`the broadcast entry parsed as ${request.kind}`);

  await startSlowlog(redis, SLOWLOG_US);
  const started = performance.now();
  const plan = await fanouts.plan(entryId, request.command, request.spec, []);
  if (plan.outcome !== 'planned' || plan.matched !== n) throw new Error(`planFanout: ${JSON.stringify(plan)}`);
  const made: Record<string, number> = { planFanout: 1, launchChildren: 0, completeCommands: 0 };
  const admitted: Admitted[] = [];
  for (;;) {
    made.launchChildren++;
    const step = await fanouts.launch(parentId, FANOUT_CHUNK);
    admitted.push(...step.admitted);
    if (!step.more) break;
  }
  const outcomes: Record<string, number> = {};
  for (const a of admitted) outcomes[a.outcome] = (outcomes[a.outcome] ?? 0) + 1;
  const delivered = admitted.filter((a) => a.outcome === 'delivered' && a.command);
  if (delivered.length !== n) throw new Error(`${delivered.length} of ${n} children delivered at launch (${JSON.stringify(outcomes)})`);
  for (let c = 0; c < n; c += RESULT_CHUNK) {
    made.completeCommands++;
    await store.completeBatch(delivered.slice(c, c + RESULT_CHUNK).map((a) => ({
      commandId: a.command!.commandId, agentId: a.agentId, epoch: a.epoch, outcome: 'succeeded' as const, output: 'x', error: '', durationMs: 0, permanent: false, attempt: 1, refillWindow: WINDOW,
    })));
  }
  const wallMs = performance.now() - started;
  await redis.config('SET', 'slowlog-log-slower-than', '10000');
  const statsUs = await scriptUsec(redis);
  const parent = await redis.hgetall(keys.commandPrefix + parentId);
  if (parent.state !== 'succeeded' || Number(parent.n_succeeded) !== n) throw new Error(`the parent ended ${parent.state} with ${parent.n_succeeded} of ${n} succeeded`);
  return { ...(await slowlogCalls(redis)), statsUs, made, wallMs, outcomes };
}

async function main(): Promise<void> {
  const redisServer = await new RedisProcess('aof').start();
  const redis = new Redis(redisServer.port, '127.0.0.1');
  defineScripts(redis);
  try {
    // Warm-up (not counted): each script's first call on this connection is an EVAL that
    // compiles it; a replica's long-lived connection runs them as EVALSHA.
    await oneRound(redis, 0, Math.min(N, 400));
    const rounds: Round[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const round = await oneRound(redis, r);
      rounds.push(round);
      const longest = [...round.byName].sort((a, b) => b[1].maxUs - a[1].maxUs)[0];
      // Does a chunk cost more the further the launch is? First and last calls, in ms.
      const seq = round.byName.get('launchChildren')?.seq ?? [];
      const ms = (xs: number[]) => xs.map((us) => (us / 1000).toFixed(1)).join(' ');
      if (seq.length > 10) console.log(`round ${r}: launchChildren calls in order, first 5: ${ms(seq.slice(0, 5))} … last 5: ${ms(seq.slice(-5))}; median ${(median(seq) / 1000).toFixed(1)}`);
      const at = longest[1].seq.indexOf(longest[1].maxUs) + 1;
      console.log(`round ${r}: Redis busy ${(round.allUs / 1000).toFixed(1)} ms in ${(round.wallMs / 1000).toFixed(2)} s; longest call ${longest[0]} ${(longest[1].maxUs / 1000).toFixed(2)} ms (its call ${at} of ${longest[1].seq.length}); children ${JSON.stringify(round.outcomes)}`);
    }
    const names = [...new Set(rounds.flatMap((r) => [...Object.keys(r.made), ...r.byName.keys()]))];
    const m = (f: (r: Round) => number) => median(rounds.map(f));
    const get = (r: Round, name: string) => r.byName.get(name) ?? { calls: 0, maxUs: 0, totalUs: 0, seq: [] };
    console.log(`\nBroadcast (selector '*') to ${N.toLocaleString('en-US')} agents, launched ${FANOUT_CHUNK} children per launchChildren call, results applied ${RESULT_CHUNK} per completeCommands call; longest calls from SLOWLOG (slowlog-log-slower-than ${SLOWLOG_US} µs), median of ${ROUNDS} round(s)`);
    console.log(`| Script | calls | calls over ${SLOWLOG_US} µs | longest call ms | their mean ms | their total ms |`);
    console.log('|---|---|---|---|---|---|');
    for (const name of names.sort((a, b) => m((r) => get(r, b).totalUs) - m((r) => get(r, a).totalUs))) {
      const calls = m((r) => get(r, name).calls);
      const total = m((r) => get(r, name).totalUs);
      const longest = m((r) => get(r, name).maxUs);
      console.log(`| ${name} | ${m((r) => r.made[name] ?? 0).toLocaleString('en-US')} | ${calls.toLocaleString('en-US')} | ${calls ? (longest / 1000).toFixed(2) : `< ${(SLOWLOG_US / 1000).toFixed(1)}`} | ${calls ? (total / calls / 1000).toFixed(2) : '–'} | ${(total / 1000).toFixed(1)} |`);
    }
    console.log(`| all | ${m((r) => Object.values(r.made).reduce((a, c) => a + c, 0)).toLocaleString('en-US')} | ${m((r) => [...r.byName.values()].reduce((a, c) => a + c.calls, 0)).toLocaleString('en-US')} | ${(m((r) => Math.max(0, ...[...r.byName.values()].map((c) => c.maxUs))) / 1000).toFixed(2)} | – | ${(m((r) => r.allUs) / 1000).toFixed(1)} |`);
    console.log(`INFO commandstats, eval + evalsha: ${(m((r) => r.statsUs) / 1000).toFixed(1)} ms of Redis time for the whole broadcast (plan, launch, every result)`);
    console.log(`(the scripts ran ${m((r) => r.inner).toLocaleString('en-US')} Redis commands inside them; wall time of the whole sequence ${(m((r) => r.wallMs) / 1000).toFixed(2)} s)`);
  } finally {
    redis.disconnect();
    await redisServer.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
