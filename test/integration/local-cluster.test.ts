import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { portIsFree } from '../../scripts/lib/free-port';
import { Child } from '../helpers/processes';
import { waitFor } from '../helpers/wait-for';

const SCRIPT = join(__dirname, '..', '..', 'dist', 'scripts', 'local-cluster.js');

/**
 * A base port with the next two also free (the cluster takes three in a row), below the
 * kernel's ephemeral range: ports in that range are handed out meanwhile to the outgoing
 * connections and `listen(0)` servers of the test files running in parallel (one took a
 * replica's metrics port between this check and the replica's listen once).
 */
async function freeRange(): Promise<number> {
  const low = ephemeralLow();
  for (;;) {
    const base = 10000 + Math.floor(Math.random() * (low - 10000 - 3));
    if ((await portIsFree(base)) && (await portIsFree(base + 1)) && (await portIsFree(base + 2))) return base;
  }
}

/** The first port of the kernel's ephemeral range (Linux), or 32768 (below every common default). */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

describe('npm start (local cluster)', () => {
  it('comes up with 3 replicas and 3 demo agents, and Ctrl-C stops everything within 10 s leaving nothing behind', async () => {
    const [base, metricsBase] = [await freeRange(), await freeRange()];
    const env: NodeJS.ProcessEnv = { ...process.env, NEXUS_BASE_PORT: String(base), NEXUS_METRICS_BASE_PORT: String(metricsBase) };
    delete env.REDIS_URL; // it must start its own
    const cluster = new Child('local-cluster', spawn(process.execPath, [SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await checkCluster(cluster, base);
    } finally {
      // Stop it even when an assertion failed: its children live in their own process groups.
      cluster.signal('SIGINT');
      await cluster.exited;
    }
  });
});

async function checkCluster(cluster: Child, base: number): Promise<void> {
  await waitFor('the cluster banner', () => {
    if (!cluster.running) throw new Error(cluster.tail());
    return cluster.output.some((l) => l.includes('Ctrl-C stops everything'));
  }, { timeoutMs: 40_000 });
  const text = cluster.output.join('\n');
  expect(text).toMatch(new RegExp(`r1  gRPC localhost:${base}`));
  expect(text).toMatch(/Agents +demo-agent-\d@r\d +demo-agent-\d@r\d +demo-agent-\d@r\d/);
  expect(text).toMatch(new RegExp(`grpcurl -plaintext -d '\\{\\}' localhost:${base + 1} nexus.prime.NexusPulseService/GetSystemStatus`));
  const dataDir = /data in (\S+)\)/.exec(text)?.[1];
  expect(dataDir && existsSync(dataDir)).toBe(true);

  const started = Date.now();
  cluster.signal('SIGINT');
  const exit = await cluster.exited;
  expect(exit.code).toBe(0);
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(existsSync(dataDir!)).toBe(false);
  expect(cluster.output.join('\n')).toMatch(/stopped: no processes or temp dirs left behind/);
  await waitFor('the replica ports to be free again', async () => (await portIsFree(base)) && (await portIsFree(base + 2)));
}
