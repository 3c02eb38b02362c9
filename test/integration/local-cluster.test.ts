import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, closeTerminal, endLocalCluster, expectFullCluster, expectNothingLeft, startLocalCluster, type LocalCluster } from '../helpers/local-cluster';

// The orderly endings: one signal, and the cluster stops everything in order and exits 0.
// (The hard endings are in local-cluster-hard-endings.test.ts.)
describe('npm start (local cluster)', () => {
  it('comes up with 3 replicas and 3 demo agents, and Ctrl-C stops everything within 10 s leaving nothing behind', async () => {
    const c = await startLocalCluster();
    try {
      checkBanner(c);
      expectFullCluster(c);
      await checkConsoles(c);
      // Twice at once, as under `npm start` when the shell exec'd the script (bash does): the
      // terminal signals the process group and npm forwards the same Ctrl-C to its child.
      await expectOrderlyStop(c, 'SIGINT', 2);
    } finally {
      await endLocalCluster(c);
    }
  });

  it('SIGTERM (kill) stops everything in order', async () => {
    const c = await startLocalCluster();
    try {
      expectFullCluster(c);
      await expectOrderlyStop(c, 'SIGTERM');
    } finally {
      await endLocalCluster(c);
    }
  });

  it('SIGHUP from a closed terminal stops everything in order, though nothing can be printed any more', async () => {
    const c = await startLocalCluster();
    try {
      expectFullCluster(c);
      closeTerminal(c.cluster);
      const started = Date.now();
      c.cluster.signal('SIGHUP');
      const exit = await c.cluster.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(10_000);
      await expectNothingLeft(c);
    } finally {
      await endLocalCluster(c);
    }
  });
});

/** Each replica's web console answers at the URL the banner prints (open mode: no login). */
async function checkConsoles({ cluster, consoleBase }: LocalCluster): Promise<void> {
  const text = cluster.output.join('\n');
  for (const i of [0, 1, 2]) {
    expect(text).toMatch(new RegExp(`r${i + 1}  gRPC .* console http://localhost:${consoleBase + i}/`));
    const url = `http://127.0.0.1:${consoleBase + i}/`;
    const status = await fetch(`${url}api/status`);
    expect(status.status).toBe(200);
    expect(((await status.json()) as { answeredBy: string }).answeredBy).toBe(`r${i + 1}`);
    expect((await fetch(url)).headers.get('content-type')).toMatch(/^text\/html/);
  }
}

function checkBanner({ cluster, base, redisPort }: LocalCluster): void {
  const text = cluster.output.join('\n');
  expect(text).toMatch(new RegExp(`r1  gRPC localhost:${base}`));
  expect(text).toMatch(/Agents +demo-agent-\d@r\d +demo-agent-\d@r\d +demo-agent-\d@r\d/);
  // The README's "Try it" lines are what the banner prints (with the default ports there).
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const tryIt = /## Try it[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1].trim().split('\n') ?? [];
  expect(tryIt).toHaveLength(3);
  const lines = text.split('\n').map((l) => l.trim());
  for (const line of tryIt) {
    const here = line
      .replace(/localhost:5005(\d)/g, (_m, i: string) => `localhost:${base + Number(i) - 1}`)
      .replace('-p 6390', `-p ${redisPort}`)
      .replace('npx nexusctl ', base === 50051 ? 'npx nexusctl ' : `npx nexusctl -s localhost:${base} `);
    expect(lines).toContain(here);
  }
}

async function expectOrderlyStop(c: LocalCluster, signal: NodeJS.Signals, times = 1): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < times; i++) c.cluster.signal(signal);
  const exit = await c.cluster.exited;
  expect(exit).toEqual({ code: 0, signal: null });
  expect(Date.now() - started).toBeLessThan(10_000);
  const text = c.cluster.output.join('\n');
  expect(text).toMatch(/stopping the local cluster/);
  expect(text).toMatch(/stopped: no processes or temp dirs left behind/);
  expect(text).not.toMatch(/second signal/);
  // It said so before exiting: nothing but the reaper (which ends on its own, with nothing to
  // do) may be left the moment it is gone.
  expect(c.pids.all.filter((pid) => alive(pid) && !c.pids.reaper.includes(pid))).toEqual([]);
  await expectNothingLeft(c);
}
