#!/usr/bin/env node
/**
 * Where the replicas allocate on the command path: 3 replicas (each with alloc-sampler.ts
 * preloaded) and 30 agents on a private Redis, echo commands offered at a fixed rate, then the
 * allocation sites summed over the replicas, largest first, with bytes per command.
 *   node dist/scripts/bench/alloc-profile.js [--rate 1000] [--seconds 8] [--top 25]
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RedisProcess } from '../lib/redis-process';
import { NexusCluster } from './nexus-cluster';
import { sleep, waitUntil } from './wait-until';

const { values: opts } = parseArgs({ options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '8' }, top: { type: 'string', default: '25' } } });
const RATE = Number(opts.rate);
const SECONDS = Number(opts.seconds);

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: ProfileNode[] }
interface Profile { head: ProfileNode; samples: { nodeId: number; size: number }[] }

/** "function file:line", with paths cut to the package or the build. */
function site(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.split('/node_modules/').pop()!.split('/dist/').pop();
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

function bySite(profiles: Profile[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const profile of profiles) {
    const names = new Map<number, string>();
    const stack = [profile.head];
    while (stack.length) {
      const node = stack.pop()!;
      names.set(node.id, site(node));
      stack.push(...(node.children ?? []));
    }
    for (const s of profile.samples) out.set(names.get(s.nodeId)!, (out.get(names.get(s.nodeId)!) ?? 0) + s.size);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-alloc-'));
  const redisServer = await new RedisProcess('aof').start();
  process.env.ALLOC_SAMPLER_DIR = dir;
  process.env.ALLOC_SAMPLER_DELAY_MS = '3000';
  const cluster = await NexusCluster.start(redisServer.port, 3, {}, ['-r', join(__dirname, 'alloc-sampler.js')]);
  let sent = 0;
  try {
    await cluster.startAgents('bench', 30, 30, { MAX_CONCURRENCY: '16' });
    await cluster.waitOnline(30, 60_000);
    await sleep(3000); // sampling starts 3 s after each replica started
    const started = performance.now();
    while (performance.now() - started < SECONDS * 1000) {
      const due = Math.floor(((performance.now() - started) / 1000) * RATE) - sent;
      const pipeline = cluster.redis.pipeline();
      for (let i = 0; i < due; i++, sent++) pipeline.xadd('nexus:commands:stream', '*', 'target', `bench-${1 + (sent % 30)}`, 'command_id', `a-${sent}`, 'command_type', 'echo', 'payload', 'x');
      if (due > 0) await pipeline.exec();
      await sleep(10);
    }
    await waitUntil('every command succeeded', async () => Number(await cluster.redis.hget('nexus:commands:counts', 'succeeded')) >= sent, 60_000, 50);
    for (const r of cluster.replicas) r.proc.kill('SIGTERM');
    await waitUntil('a profile from every replica', () => cluster.replicas.every((r) => existsSync(join(dir, `alloc-${r.pid}.json`))), 10_000, 50);
    const profiles = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile);
    const sites = [...bySite(profiles)].sort((a, b) => b[1] - a[1]);
    const total = sites.reduce((n, [, bytes]) => n + bytes, 0);
    console.log(`${sent.toLocaleString('en-US')} echo commands at ${RATE}/s over 3 replicas: ${(total / 2 ** 20).toFixed(0)} MiB allocated in all (sampled, start-up excluded), ${(total / sent / 1024).toFixed(1)} KiB per command`);
    console.log('| share | KiB per command | allocation site |');
    console.log('|---|---|---|');
    for (const [name, bytes] of sites.slice(0, Number(opts.top))) console.log(`| ${((100 * bytes) / total).toFixed(1)} % | ${(bytes / sent / 1024).toFixed(2)} | \`${name}\` |`);
  } finally {
    await cluster.stop();
    await redisServer.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`alloc-profile: ${err.message}`);
  process.exit(1);
});
