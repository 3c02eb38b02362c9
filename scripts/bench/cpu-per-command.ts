#!/usr/bin/env node
/**
 * `node dist/scripts/bench/cpu-per-command.js [N] [--peers]`: where the CPU of the end-to-end
 * path goes. Runs N (30,000) echo commands through 3 replicas and 30 agents on a private
 * redis-server (AOF everysec), as the throughput scenario does, and prints the CPU time each
 * process spent per command (Redis, each replica, the agent swarm, this producer) and Redis'
 * INFO commandstats per command (script calls and the calls made inside them), and the bytes
 * appended to the AOF per command. With `--peers`, bee-queue's and BullMQ's CPU and AOF bytes
 * per job (Redis, and this process that adds and processes the jobs) on the same Redis first,
 * for comparison.
 */
import Redis from 'ioredis';
import { RedisProcess } from '../lib/redis-process';
import { addEchoCommands, startNexus } from './nexus-e2e';
import { beeQueueThroughput } from './peers/bee-queue';
import { bullmqThroughput } from './peers/bullmq';
import { cpuSeconds } from './proc-stats';
import { sleep } from './wait-until';

const N = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 30_000);
const PEERS = process.argv.includes('--peers');

/** Bytes appended to the AOF so far (auto-rewrite is off for this run, so it only grows). */
async function aofBytes(redis: Redis): Promise<number> {
  return Number(/aof_current_size:(\d+)/.exec(await redis.info('persistence'))?.[1] ?? NaN);
}

/** CPU per job of each peer: Redis, and this process (producer and workers); AOF bytes per job. */
async function peers(redisPort: number, redisPid: number, admin: Redis): Promise<void> {
  console.log(`Peers, ${N.toLocaleString('en-US')} jobs each, CPU per job`);
  for (const [name, run] of [['bee-queue', beeQueueThroughput], ['BullMQ', bullmqThroughput]] as const) {
    const before = [cpuSeconds(redisPid), cpuSeconds(process.pid)];
    const aofBefore = await aofBytes(admin);
    const { perSecond } = await run(redisPort, N);
    const [redis, node] = [cpuSeconds(redisPid) - before[0], cpuSeconds(process.pid) - before[1]];
    const aof = ((await aofBytes(admin)) - aofBefore) / N;
    const us = (seconds: number) => ((seconds / N) * 1e6).toFixed(1);
    console.log(`  ${name.padEnd(10)} ${Math.round(perSecond).toLocaleString('en-US').padStart(7)}/s   redis ${us(redis)} us   node ${us(node)} us   all ${us(redis + node)} us   AOF ${Math.round(aof)} bytes/job`);
  }
  console.log('');
}

async function main(): Promise<void> {
  const redisServer = await new RedisProcess('aof').start();
  const admin = new Redis(redisServer.port, '127.0.0.1');
  // No AOF rewrite during the run: the file's growth is then what each system appended.
  await admin.config('SET', 'auto-aof-rewrite-percentage', '0');
  if (PEERS) await peers(redisServer.port, redisServer.pid!, admin);
  const nexus = await startNexus(redisServer.port, { replicas: 3, agents: 30, concurrency: 16 });
  try {
    const pids: [string, number][] = [
      ['redis', redisServer.pid!],
      ...nexus.replicas.map((r): [string, number] => [r.id, r.pid]),
      ...nexus.swarms.map((s, i): [string, number] => [`swarm-${i + 1}`, s.pid!]),
      ['producer', process.pid],
    ];
    await nexus.redis.config('RESETSTAT');
    const aofBefore = await aofBytes(admin);
    const before = pids.map(([, pid]) => cpuSeconds(pid));
    const started = performance.now();
    await addEchoCommands(nexus.redis, N, 30);
    while (Number(await nexus.redis.hget('nexus:commands:counts', 'succeeded')) < N) await sleep(10);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${N.toLocaleString('en-US')} commands in ${seconds.toFixed(2)} s: ${Math.round(N / seconds).toLocaleString('en-US')}/s`);
    console.log('\nCPU per command, by process');
    let total = 0;
    pids.forEach(([name, pid], i) => {
      const used = cpuSeconds(pid) - before[i];
      total += used;
      console.log(`  ${name.padEnd(10)} ${((used / N) * 1e6).toFixed(1).padStart(6)} us   ${((100 * used) / seconds).toFixed(0).padStart(3)} % of a core`);
    });
    console.log(`  ${'all'.padEnd(10)} ${((total / N) * 1e6).toFixed(1).padStart(6)} us`);
    // Heartbeats of the 30 agents are in it too (a few hundred bytes a second).
    console.log(`\nAOF appended per command: ${Math.round(((await aofBytes(admin)) - aofBefore) / N)} bytes`);
    console.log('\nRedis commandstats per command (calls inside scripts are counted too; evalsha includes them)');
    const stats = [...(await nexus.redis.info('commandstats')).matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g)]
      .map(([, name, calls, usec]) => ({ name, calls: Number(calls), usec: Number(usec) }))
      .sort((a, b) => b.usec - a.usec);
    for (const s of stats.slice(0, 20)) {
      console.log(`  ${s.name.padEnd(14)} ${(s.calls / N).toFixed(2).padStart(6)} calls ${(s.usec / N).toFixed(2).padStart(7)} us`);
    }
  } finally {
    await nexus.stop();
    admin.disconnect();
    await redisServer.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
