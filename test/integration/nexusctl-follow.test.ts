import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/agent/command-errors';
import { createDisplay } from '../../src/cli/follow/display';
import { progressBar } from '../../src/cli/follow/progress-bar';
import { useAgents } from '../helpers/agents';
import { useOrchestrator } from '../helpers/in-process';
import { nexusctl, type CtlRun } from '../helpers/nexusctl';

/** A stream that says it is a terminal and keeps what was written. */
function fakeTty(): Writable & { text: string; isTTY: boolean; columns: number; rows: number } {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      stream.text += chunk.toString();
      done();
    },
  }) as Writable & { text: string; isTTY: boolean; columns: number; rows: number };
  Object.assign(stream, { text: '', isTTY: true, columns: 100, rows: 40 });
  return stream;
}

/**
 * `nexusctl commands watch` and `send --follow` (issue 17): the live display piped (plain
 * lines), jsonl, fan-out children and the summary, exit codes by outcome; the terminal
 * display (redrawn in place) on a fake TTY.
 */
describe('nexusctl follow', () => {
  const fx = useOrchestrator();
  const startAgent = useAgents();
  const ctl = (args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<CtlRun> =>
    nexusctl(args, { env: { NEXUS_ADDR: `127.0.0.1:${fx.port}`, NEXUS_TIMEOUT: '5' }, ...options });

  it('watch of a sleep 1500 (piped): the snapshot, progress lines, steps, the outcome; exit 0', async () => {
    await startAgent('fl-a1', fx.port);
    const sent = await ctl(['commands', 'send', '--target', 'fl-a1', '--type', 'sleep', '--payload', '1500', '--id', 'fl-sleep-1']);
    expect(sent.code, sent.stderr).toBe(0);
    const w = await ctl(['commands', 'watch', 'fl-sleep-1']);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/^fl-sleep-1: sleep on target fl-a1, \w+/m);
    const progress = w.stdout.split('\n').filter((l) => / progress \d+% slept \d+ of 1500 ms$/.test(l));
    expect(progress.length, w.stdout).toBeGreaterThanOrEqual(2);
    // Rising, and none after the end (a last report racing the result is not printed late).
    const percents = progress.map((l) => Number(/progress (\d+)%/.exec(l)?.[1]));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const lines = w.stdout.split('\n');
    const lastProgress = lines.map((l) => / progress \d+%/.test(l)).lastIndexOf(true);
    expect(lastProgress).toBeLessThan(lines.findIndex((l) => / succeeded on /.test(l)));
    expect(w.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} succeeded on \S+ attempt 1$/m);
    expect(w.stdout).toMatch(/^fl-sleep-1 succeeded after 1 attempt$/m);
    expect(w.stdout).toMatch(/^output: slept 1500 ms$/m);
    expect(w.stdout).not.toContain('\u001b[');

    // A finished command: the snapshot and the outcome at once; json is the command as it ended.
    const again = await ctl(['commands', 'watch', 'fl-sleep-1', '-o', 'json']);
    expect(again.code).toBe(0);
    expect(again.json<{ state: string; output: string }>()).toMatchObject({ state: 'COMMAND_STATE_SUCCEEDED', output: 'slept 1500 ms' });
  });

  it('watch -o jsonl: the raw messages, one per line; a failed command exits 1', async () => {
    await startAgent('fl-a2', fx.port, { fail: () => { throw new PermanentError('no such file'); } });
    const sent = await ctl(['commands', 'send', '--target', 'fl-a2', '--type', 'sleep', '--payload', '600', '--id', 'fl-sleep-2']);
    expect(sent.code).toBe(0);
    const w = await ctl(['commands', 'watch', 'fl-sleep-2', '-o', 'jsonl']);
    expect(w.code, w.stderr).toBe(0);
    const lines = w.lines<{ position: string; snapshot?: { commandId: string }; step?: { event: string }; progress?: { percent: number } }>();
    expect(lines[0].snapshot?.commandId).toBe('fl-sleep-2');
    expect(lines.every((l) => typeof l.position === 'string' && l.position !== '')).toBe(true);
    expect(lines.some((l) => l.progress)).toBe(true);
    expect(lines.filter((l) => l.step).at(-1)?.step?.event).toBe('succeeded');

    const failed = await ctl(['commands', 'send', '--target', 'fl-a2', '--type', 'fail', '--attempts', '1', '--follow']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} failed on \S+ attempt 1: no such file$/m);
    expect(failed.stdout).toMatch(/^\S+ failed after 1 attempt$/m);
    expect(failed.stdout).toMatch(/^error: .*no such file/m);
  });

  it('send -l ... --follow of a broadcast to 3 agents: a line per child and a summary; a failing child exits 1', async () => {
    for (const id of ['fl-b1', 'fl-b2', 'fl-b3']) {
      const handlers = id === 'fl-b3' ? { maybe: () => { throw new PermanentError('b3 says no'); } } : { maybe: () => 'yes' };
      await startAgent(id, fx.port, handlers, 4, { labels: { fleet: 'follow' } });
    }
    const r = await ctl(['commands', 'send', '-l', 'fleet=follow', '--type', 'sleep', '--payload', '300', '--batch', '2', '--id', 'fl-bc-1', '--follow']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('command fl-bc-1 sent');
    expect(r.stdout).toMatch(/^fl-bc-1: sleep on selector "fleet=follow" \(pick all\)/m);
    expect(r.stdout).toMatch(/^fan-out: 3 matched, 0 skipped, batch 2$/m);
    for (const agent of ['fl-b1', 'fl-b2', 'fl-b3']) expect(r.stdout).toMatch(new RegExp(`child ${agent} succeeded$`, 'm'));
    expect(r.stdout).toMatch(/^summary: fl-bc-1 succeeded: 3 succeeded, 0 failed, 0 dead, 0 cancelled, 0 skipped \(3 matched\)$/m);

    const bad = await ctl(['commands', 'send', '-l', 'fleet=follow', '--type', 'maybe', '--attempts', '1', '--id', 'fl-bc-2', '--follow']);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/child fl-b3 failed: .*b3 says no/);
    expect(bad.stdout).toMatch(/^summary: fl-bc-2 failed: 2 succeeded, 1 failed/m);

    const waited = await ctl(['commands', 'send', '-l', 'fleet=follow', '--type', 'maybe', '--attempts', '1', '--wait', '-o', 'json']);
    expect(waited.code).toBe(1);
    expect(waited.json<{ fanout: { succeeded: number; failed: number } }>().fanout).toMatchObject({ succeeded: 2, failed: 1 });
    const watchedAgain = await ctl(['commands', 'watch', 'fl-bc-1']);
    expect(watchedAgain.code).toBe(0);
    expect(watchedAgain.stdout).toMatch(/^summary: fl-bc-1 succeeded/m);
  });

  it('on a terminal: the region is redrawn in place, permanent lines above it', () => {
    const tty = fakeTty();
    const display = createDisplay(tty, true);
    expect(display.live).toBe(true);
    display.region(`${progressBar(10)} slept 150 of 1500 ms`);
    display.line('12:00:00.000 | a log line');
    display.region(`${progressBar(60)} slept 900 of 1500 ms`);
    display.done();
    display.line('done');
    // log-update erases the previous region (ESC[2K ESC[1A ...) before drawing the next one.
    expect(tty.text).toContain('\u001b[2K');
    expect(tty.text).toContain(' 10%');
    expect(tty.text.indexOf('a log line')).toBeGreaterThan(tty.text.indexOf(' 10%'));
    expect(tty.text.indexOf(' 60%')).toBeGreaterThan(tty.text.indexOf('a log line'));
    expect(tty.text.endsWith('done\n')).toBe(true);

    const piped = fakeTty();
    const plain = createDisplay(piped, false);
    plain.region('never shown');
    plain.line('a line');
    plain.done();
    expect(piped.text).toBe('a line\n');
    expect(progressBar(40, { width: 10, ascii: true })).toBe('[####------]  40%');
    expect(progressBar(Number.NaN, { width: 4, ascii: true })).toBe('[----]   0%');
    expect(progressBar(250, { width: 4, ascii: true })).toBe('[####] 100%');
  });
});
