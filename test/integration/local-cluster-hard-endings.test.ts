import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait-for';
import { alive, closeTerminal, expectFullCluster, expectNothingLeft, startLocalCluster, type LocalCluster } from '../helpers/local-cluster';

// The endings that cut the orderly stop short, or never let it begin. (The orderly ones, one
// signal each, are in local-cluster.test.ts.)
describe('npm start (local cluster), hard endings', () => {
  it('a second Ctrl-C during the stop kills everything at once and exits non-zero', async () => {
    const c = await startLocalCluster();
    try {
      expectFullCluster(c);
      c.cluster.signal('SIGINT');
      await stopBegun(c);
      const started = Date.now();
      c.cluster.signal('SIGINT');
      const exit = await c.cluster.exited;
      expect(exit).toEqual({ code: 1, signal: null });
      expect(Date.now() - started).toBeLessThan(4000);
      const text = c.cluster.output.join('\n');
      expect(text).toMatch(/second signal: killing every process of the local cluster now/);
      expect(text).not.toMatch(/stopped: no processes/);
      await expectNothingLeft(c);
    } finally {
      c.cluster.signal('SIGKILL');
      await c.cluster.exited;
    }
  });

  it('a terminal closed during the Ctrl-C stop (SIGHUP, writes failing) still ends everything', async () => {
    const c = await startLocalCluster();
    try {
      expectFullCluster(c);
      c.cluster.signal('SIGINT');
      await stopBegun(c);
      closeTerminal(c.cluster);
      c.cluster.signal('SIGHUP');
      const exit = await c.cluster.exited;
      expect(exit).toEqual({ code: 1, signal: null });
      await expectNothingLeft(c);
    } finally {
      c.cluster.signal('SIGKILL');
      await c.cluster.exited;
    }
  });

  it('SIGKILL of the cluster: the children notice and stop, the reaper ends Redis and removes the temp dir', async () => {
    const c = await startLocalCluster();
    try {
      expectFullCluster(c);
      const killed = Date.now();
      c.cluster.signal('SIGKILL');
      await c.cluster.exited;
      const nexus = [...c.pids.replicas, ...c.pids.agents];
      // The reaper would SIGKILL them only after 8 s: gone well before, they stopped themselves.
      await waitFor('the replicas and agents to stop on their own', () => !nexus.some(alive), { timeoutMs: 6000 });
      // No next start is needed for the rest: the reaper does it.
      await expectNothingLeft(c, 15_000 - (Date.now() - killed));
    } finally {
      c.cluster.signal('SIGKILL');
      await c.cluster.exited;
    }
  });
});

async function stopBegun(c: LocalCluster): Promise<void> {
  await waitFor('the orderly stop to begin', () => c.cluster.output.some((l) => l.includes('stopping the local cluster')));
}
