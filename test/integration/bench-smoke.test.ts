import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Child } from '../helpers/processes';

const BENCH = join(__dirname, '..', '..', 'dist', 'scripts', 'bench', 'bench.js');

describe('npm run bench (a tiny run, so the harness never rots)', () => {
  it('runs every system and scenario and writes figures (no speed is asserted)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nexus-bench-'));
    try {
      const run = new Child('bench', spawn(process.execPath, [BENCH, '--quick', '--jobs', '200', '--rounds', '1', '--agents', '30', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] }));
      expect((await run.exited).code).toBe(0);
      const text = run.output.join('\n');
      for (const system of ['Nexus', 'BullMQ', 'bee-queue', 'bare consumer group']) expect(text).toMatch(new RegExp(`\\| ${system}[^|]*\\| [\\d,]+ \\|`));
      for (const row of ['Nexus: 3 replicas', 'bare grpc-js']) expect(text).toMatch(new RegExp(`\\| ${row}[^|]*\\| [\\d,.]+ \\|`));
      for (const table of ['Storm:', 'Fan-out:', 'Scale-up:']) expect(text).toContain(table);
      const results = JSON.parse(readFileSync(join(out, 'results-quick.json'), 'utf8')) as {
        throughput: Record<string, { perSecond: number }[]>;
        fleet: Record<'nexus' | 'bare', { heartbeatsPerSecond: number; cpuPerHeartbeatUs: number; rssPerStreamKb: number }[]>;
        storm: { agentsOnKilled: number; backMs: number; peakSessionsPerSecond: number; lagMaxMs: number; bare: { streams: number; connectMs: number } }[];
        fanout: { agents: number; nexus: { lastResultMs: number; broadcast: { lastResultMs: number; parentFinishedMs: number } }[]; bare: { lastResultMs: number }[] }[];
        scaleup: { runs: { agents: number; after: number[]; settleMs: number; moves: number }[] };
      };
      expect(Object.keys(results.throughput)).toHaveLength(4);
      for (const runs of Object.values(results.throughput)) expect(runs[0].perSecond).toBeGreaterThan(0);
      for (const side of [results.fleet.nexus[0], results.fleet.bare[0]]) {
        expect(side.heartbeatsPerSecond).toBeGreaterThan(0);
        expect(Number.isFinite(side.cpuPerHeartbeatUs) && Number.isFinite(side.rssPerStreamKb)).toBe(true);
      }
      expect(results.storm[0].agentsOnKilled).toBeGreaterThan(0);
      expect(Number.isFinite(results.storm[0].backMs) && Number.isFinite(results.storm[0].lagMaxMs)).toBe(true);
      // The machine's bare connect time for the same streams, measured in the same round.
      expect(results.storm[0].bare.streams).toBe(results.storm[0].agentsOnKilled);
      expect(results.storm[0].bare.connectMs).toBeGreaterThan(0);
      expect(results.fanout[0].agents).toBe(30);
      const [fanout] = results.fanout;
      for (const ms of [fanout.nexus[0].lastResultMs, fanout.nexus[0].broadcast.lastResultMs, fanout.nexus[0].broadcast.parentFinishedMs, fanout.bare[0].lastResultMs]) expect(Number.isFinite(ms)).toBe(true);
      // 30 agents from 3 replicas to 4: the new one was filled (the scenario throws if it never settles).
      const [scale] = results.scaleup.runs;
      expect(scale.after).toHaveLength(4);
      expect(scale.after.reduce((a, b) => a + b, 0)).toBe(30);
      expect(scale.moves).toBeGreaterThan(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
