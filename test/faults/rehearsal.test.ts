import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Child } from '../helpers/processes';

const SCRIPT = join(__dirname, '..', '..', 'dist', 'scripts', 'rehearse-rolling-restart.js');

describe('scripts/rehearse-rolling-restart (so the operators\' rehearsal never rots)', () => {
  it('restarts all three replicas while commands flow and reports nothing lost', async () => {
    const run = new Child('rehearsal', spawn(process.execPath, [SCRIPT, '--agents', '10', '--rate', '50', '--drain-window-ms', '1000'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const exit = await run.exited;
    const text = run.output.join('\n');
    console.log(text);
    expect(exit.code).toBe(0);
    expect(text).toMatch(/r1: drained and exited 0/);
    expect(text).toMatch(/r3: drained and exited 0/);
    expect(text).toMatch(/lost 0; run twice 0; DLQ 0/);
    expect(text).toMatch(/agents per replica before: r1 \d+, r2 \d+, r3 \d+/);
    expect(text).toMatch(/agents per replica once rebalanced: r1 \d+, r2 \d+, r3 \d+\n/);
  });
});
