import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Child } from '../helpers/processes';

const BENCH = join(__dirname, '..', '..', 'dist', 'scripts', 'bench', 'bench.js');

describe('npm run bench (a tiny run, so the harness never rots)', () => {
  it('runs every system and writes figures (no speed is asserted)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nexus-bench-'));
    try {
      const run = new Child('bench', spawn(process.execPath, [BENCH, '--quick', '--jobs', '200', '--rounds', '1', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] }));
      expect((await run.exited).code).toBe(0);
      const text = run.output.join('\n');
      for (const system of ['Nexus', 'BullMQ', 'bee-queue', 'bare consumer group']) expect(text).toMatch(new RegExp(`\\| ${system}[^|]*\\| [\\d,]+ \\|`));
      const results = JSON.parse(readFileSync(join(out, 'results-quick.json'), 'utf8')) as { throughput: Record<string, { perSecond: number }[]> };
      expect(Object.keys(results.throughput)).toHaveLength(4);
      for (const runs of Object.values(results.throughput)) expect(runs[0].perSecond).toBeGreaterThan(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
