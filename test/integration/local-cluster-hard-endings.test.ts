import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait-for';
import { alive, closeTerminal, endLocalCluster, expectFullCluster, expectNothingLeft, startLocalCluster } from '../helpers/local-cluster';

// The endings that cut the orderly stop short, or never let it begin. (The orderly ones, one
// signal each, are in local-cluster.test.ts.)
describe('npm start (local cluster), hard endings', () => {
  it('a second Ctrl-C during the stop kills everything at once and exits non-zero', async () => {
    const c = await startLocalCluster();
    try {
      expectFullCluster(c);
      hang(c.pids.replicas[0]);
      c.cluster.signal('SIGINT');
      await waitFor('the hint that a second Ctrl-C kills', () => c.cluster.output.some((l) => l.includes('Ctrl-C again kills everything at once')));
      const started = Date.now();
      c.cluster.signal('SIGINT');
      const exit = await c.cluster.exited;
      expect(exit).toEqual({ code: 1, signal: null });
      // The orderly stop would wait 7.5 s for the hung replica before killing it.
      expect(Date.now() - started).toBeLessThan(4000);
      const text = c.cluster.output.join('\n');
      expect(text).toMatch(/second signal: killing every process of the local cluster now/);
      expect(text).not.toMatch(/stopped: no processes/);
      await expectNothingLeft(c);
    } finally {
      await endLocalCluster(c);
    }
  });

  it('a terminal closed during the Ctrl-C stop (SIGHUP, writes failing) still ends everything', async () => {
    const c = await startLocalCluster();
    try {
      expectFullCluster(c);
      hang(c.pids.replicas[0]); // keeps the orderly stop going when the SIGHUP comes
      c.cluster.signal('SIGINT');
      await waitFor('the orderly stop to begin', () => c.cluster.output.some((l) => l.includes('stopping the local cluster')));
      closeTerminal(c.cluster);
      c.cluster.signal('SIGHUP');
      const exit = await c.cluster.exited;
      expect(exit).toEqual({ code: 1, signal: null });
      await expectNothingLeft(c);
    } finally {
      await endLocalCluster(c);
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
      await endLocalCluster(c);
    }
  });
});

/** Freezes a replica (SIGSTOP), as a hung one would be: the orderly stop must wait for it. */
function hang(pid: number | undefined): void {
  process.kill(pid!, 'SIGSTOP');
}
