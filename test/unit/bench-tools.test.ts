import { describe, expect, it } from 'vitest';
import { latencyChartSvg } from '../../scripts/bench/chart';
import { ABLATIONS, ablate, parseAblations, type Ablation } from '../../scripts/bench/script-ablations';
import { loadScripts } from '../../src/redis-bridge/script-loader';
import { join } from 'node:path';

const SCRIPTS = join(__dirname, '..', '..', 'src', 'redis-bridge', 'scripts');

describe('script-costs ablations', () => {
  const scripts = new Map(loadScripts(SCRIPTS).map((s) => [s.name, s.lua]));

  it('each still applies to the command path scripts and takes its part out', () => {
    for (const name of Object.keys(ABLATIONS) as Ablation[]) {
      for (const script of ['routeCommands', 'completeCommands']) {
        const lua = scripts.get(script)!;
        const out = ablate(script, lua, [name]);
        expect(out, `${name} on ${script}`).not.toBe(lua);
      }
    }
    const noEvents = ablate('completeCommands', scripts.get('completeCommands')!, ['events']);
    expect(noEvents).not.toMatch(/redis\.call\('XADD', KEYS\[1\], 'MAXLEN'/);
  });

  it('names the flag for an unknown part', () => {
    expect(() => parseAblations('timeline,bogus')).toThrow(/--ablate: unknown part "bogus"/);
    expect(parseAblations('index,events')).toEqual(['index', 'events']);
  });
});

describe('latency chart', () => {
  it('draws one row per system and rate with its p50 / p99 / max', () => {
    const svg = latencyChartSvg('t', 'ms', [
      { label: 'Nexus @ 1000/s', p50: 6, p99: 26, max: 44 },
      { label: 'bee-queue @ 1000/s', p50: 1, p99: 4, max: 6 },
    ]);
    expect(svg).toContain('Nexus @ 1000/s');
    expect(svg).toContain('6 / 26 / 44');
    expect(svg).toContain('1 / 4 / 6');
    // Log scale from 0.5 ms: a 1 ms p50 is still a visible bar.
    const widths = [...svg.matchAll(/<rect x="240" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths.length).toBe(4);
    expect(Math.min(...widths)).toBeGreaterThan(0);
  });
});
