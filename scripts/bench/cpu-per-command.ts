#!/usr/bin/env node
/**
 * `node dist/scripts/bench/cpu-per-command.js [N] [--peers]`: where the CPU of the end-to-end
 * path goes. Runs N (30,000) echo commands through 3 replicas and 30 agents on a private
 * redis-server (AOF everysec), as the throughput scenario does, and prints the CPU time each
 * process spent per command (Redis, each replica, the agent swarm, this producer) and Redis'
 * INFO commandstats per command (script calls and the calls made inside them). With
 * `--peers`, bee-queue's and BullMQ's CPU per job (Redis, and this process that adds and
 * processes the jobs) on the same Redis first, for comparison.
 */
import { RedisProcess } from '../lib/redis-process';
import { addEchoCommands, startNexus } from './nexus-e2e';
import { beeQueueThroughput } from './peers/bee-queue';
import { bullmqThroughput } from './peers/bullmq';
import { cpuSeconds } from './proc-stats';
import { sleep } from './wait-until';

const N = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 30_000);
const PEERS = process.argv.includes('--peers');

/** CPU per job of each peer: Redis, and this process (producer and workers). */
async function peers(redisPort: number, redisPid: number): Promise<void> {
  console.log(`Peers, ${N.toLocaleString('en-US')} jobs each, CPU per job`);
  for (const [name, run] of [['bee-queue', beeQueueThroughput], ['BullMQ', bullmqThroughput]] as const) {
    const before = [cpuSeconds(redisPid), cpuSeconds(process.pid)];
    const { perSecond } = await run(redisPort, N);
    const [redis, node] = [cpuSeconds(redisPid) - before[0], cpuSeconds(process.pid) - before[1]];
    const us = (seconds: number) => ((seconds / N) * 1e6).toFixed(1);
    console.log(`  ${name.padEnd(10)} ${Math.round(perSecond).toLocaleString('en-US').padStart(7)}/s   redis ${us(redis)} us   node ${us(node)} us   all ${us(redis + node)} us`);
  }
  console.log('');
}

async function main(): Promise<void> {
  const redisServer = await new RedisProcess('aof').start();
  if (PEERS) await peers(redisServer.port, redisServer.pid!);
  const nexus = await startNexus(redisServer.port, { replicas: 3, agents: 30, concurrency: 16 });
  try {
    const pids: [string, number][] = [
      ['redis', redisServer.pid!],
      ...nexus.replicas.map((r): [string, number] => [r.id, r.pid]),
      ...nexus.swarms.map((s, i): [string, number] => [`swarm-${i + 1}`, s.pid!]),
      ['producer', process.pid],
    ];
    await nexus.redis.config('RESETSTAT');
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
    console.log('\nRedis commandstats per command (calls inside scripts are counted too; evalsha includes them)');
    const stats = [...(await nexus.redis.info('commandstats')).matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g)]
      .map(([, name, calls, usec]) => ({ name, calls: Number(calls), usec: Number(usec) }))
      .sort((a, b) => b.usec - a.usec);
    for (const s of stats.slice(0, 20)) {
      console.log(`  ${s.name.padEnd(14)} ${(s.calls / N).toFixed(2).padStart(6)} calls ${(s.usec / N).toFixed(2).padStart(7)} us`);
    }
  } finally {
    await nexus.stop();
    await redisServer.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
