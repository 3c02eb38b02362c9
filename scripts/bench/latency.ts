import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BeeQueue from 'bee-queue';
import { Queue, Worker } from 'bullmq';
import { startNexus } from './nexus-e2e';
import { scrapeReplica } from './replica-metrics';
import { sleep } from './wait-until';

/** Latency percentiles in ms. */
export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

/** One run at a fixed offered rate: add -> handler start (receipt), and add -> done. */
export interface LatencyRun {
  offered: number;
  receipt: Percentiles;
  done: Percentiles;
  /**
   * Nexus only, where the time goes, per command: XADD -> routed and handed to a delivery
   * (`delivered_at` on the record), -> the agent's handler starts (its execution log), -> the
   * result applied (`finished_at`). Redis clock and the agents' clock are the same machine's.
   */
  hops?: { routed: Percentiles; toAgent: Percentiles; resultApplied: Percentiles };
  /** Nexus only: the replicas' event-loop lag while the load was offered (worst p99 of any 250 ms poll, and the max), ms. */
  replicaLag?: { p99Ms: number; maxMs: number };
}


export function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}

/** Calls `add(n)` every 10 ms so that `rate` items per second are offered for `ms`. */
async function offer(rate: number, ms: number, add: (n: number) => Promise<void>): Promise<void> {
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < ms) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate) - sent;
    if (due > 0) {
      sent += due;
      await add(due);
    }
    await sleep(10);
  }
}

/** Nexus: XADD time is the entry id's ms (Redis clock); receipt from the agents' execution log; done from the record. */
export async function nexusLatency(port: number, rate: number, ms: number): Promise<LatencyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-latency-'));
  const log = join(dir, 'runs.jsonl');
  const nexus = await startNexus(port, { replicas: 3, agents: 30, concurrency: 16 }, { EXECUTION_LOG: log });
  const addedAt = new Map<string, number>();
  let n = 0;
  const lag = { p99Ms: 0, maxMs: 0 };
  let offering = true;
  // prom-client resets its event-loop histogram at every scrape: each poll covers the last 250 ms.
  const sampling = (async () => {
    while (offering) {
      for (const s of await Promise.all(nexus.replicas.map((r) => scrapeReplica(r.metricsPort).catch(() => undefined)))) {
        if (!s) continue;
        lag.p99Ms = Math.max(lag.p99Ms, s.lagP99S * 1000);
        lag.maxMs = Math.max(lag.maxMs, s.lagMaxS * 1000);
      }
      await sleep(250);
    }
  })();
  try {
    await Promise.all(nexus.replicas.map((r) => scrapeReplica(r.metricsPort)));
    await offer(rate, ms, async (count) => {
      const pipeline = nexus.redis.pipeline();
      const ids: string[] = [];
      for (let i = 0; i < count; i++, n++) {
        ids.push(`lat-${n}`);
        pipeline.xadd('nexus:commands:stream', '*', 'target', `bench-${1 + (n % 30)}`, 'command_id', `lat-${n}`, 'command_type', 'echo', 'payload', 'x');
      }
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([, entryId], i) => addedAt.set(ids[i], Number(String(entryId).split('-')[0])));
    });
    while (Number(await nexus.redis.hget('nexus:commands:counts', 'succeeded')) < addedAt.size) await sleep(20);
    offering = false;
    await sampling;
    await sleep(300); // let the swarm's execution log flush
    const receipt: number[] = [];
    const startedAt = new Map<string, number>();
    for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
      const run = JSON.parse(line) as { command_id: string; t: number };
      const at = addedAt.get(run.command_id);
      if (at === undefined) continue;
      receipt.push(run.t - at);
      startedAt.set(run.command_id, run.t);
    }
    const pipeline = nexus.redis.pipeline();
    for (const id of addedAt.keys()) pipeline.hmget(`nexus:command:${id}`, 'delivered_at', 'finished_at');
    const records = ((await pipeline.exec()) ?? []).map(([, v]) => (v as (string | null)[]).map(Number));
    const ids = [...addedAt.keys()];
    const done: number[] = [];
    const hops = { routed: [] as number[], toAgent: [] as number[], resultApplied: [] as number[] };
    records.forEach(([deliveredAt, finishedAt], i) => {
      const added = addedAt.get(ids[i])!;
      const started = startedAt.get(ids[i]);
      done.push(finishedAt - added);
      if (!deliveredAt || started === undefined) return;
      hops.routed.push(deliveredAt - added);
      hops.toAgent.push(started - deliveredAt);
      hops.resultApplied.push(finishedAt - started);
    });
    return {
      offered: addedAt.size,
      receipt: percentiles(receipt),
      done: percentiles(done),
      hops: { routed: percentiles(hops.routed), toAgent: percentiles(hops.toAgent), resultApplied: percentiles(hops.resultApplied) },
      replicaLag: { p99Ms: Math.round(lag.p99Ms), maxMs: Math.round(lag.maxMs) },
    };
  } finally {
    offering = false;
    await sampling;
    await nexus.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** BullMQ: job.timestamp (add) -> processor start, and -> finishedOn. */
export async function bullmqLatency(port: number, rate: number, ms: number): Promise<LatencyRun> {
  const connection = { host: '127.0.0.1', port };
  const name = `lat-${Date.now()}`;
  const queue = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  const receipt: number[] = [];
  const done: number[] = [];
  const worker = new Worker(name, async (job) => {
    receipt.push(Date.now() - job.timestamp);
  }, { connection, concurrency: 50 });
  worker.on('completed', (job) => done.push((job.finishedOn ?? Date.now()) - job.timestamp));
  await worker.waitUntilReady();
  let offered = 0;
  await offer(rate, ms, async (count) => {
    offered += count;
    await queue.addBulk(Array.from({ length: count }, () => ({ name: 'noop', data: {} })));
  });
  while (done.length < offered) await sleep(20);
  await worker.close();
  await queue.close();
  return { offered, receipt: percentiles(receipt), done: percentiles(done) };
}

/** bee-queue: the job's creation time -> processor start, and -> succeeded. */
export async function beeQueueLatency(port: number, rate: number, ms: number): Promise<LatencyRun> {
  const queue = new BeeQueue(`lat-${Date.now()}`, { redis: { host: '127.0.0.1', port }, removeOnSuccess: true, removeOnFailure: true, storeJobs: false, sendEvents: false });
  await queue.ready();
  const receipt: number[] = [];
  const done: number[] = [];
  queue.process(50, async (job: BeeQueue.Job<{ at: number }>) => {
    receipt.push(Date.now() - job.data.at);
    setImmediate(() => done.push(Date.now() - job.data.at));
  });
  let offered = 0;
  await offer(rate, ms, async (count) => {
    offered += count;
    const at = Date.now();
    await queue.saveAll(Array.from({ length: count }, () => queue.createJob({ at })));
  });
  while (done.length < offered) await sleep(20);
  await queue.close();
  return { offered, receipt: percentiles(receipt), done: percentiles(done) };
}
