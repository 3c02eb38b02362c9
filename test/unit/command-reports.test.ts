import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LOG_LINES_PER_MESSAGE, MAX_BUFFERED_LINES, MAX_LINE_BYTES, REPORT_INTERVAL_MS } from '../../src/agent/command-reports';
import { CommandRunner } from '../../src/agent/command-runner';
import { builtinHandlers, SLEEP_PROGRESS_EVERY_MS, type CommandHandler } from '../../src/agent/handlers';
import { HostMetricsSampler } from '../../src/agent/host-metrics';
import { ResultCache } from '../../src/agent/result-cache';
import { CommandOutcome, type AgentMessage, type Command } from '../../src/generated/nexus/prime/pulse';
import { cutUtf8 } from '../../src/shared/cut-utf8';
import { createLogger } from '../../src/shared/logger';

function setup(extra: Record<string, CommandHandler>, reporting = true) {
  const sent: AgentMessage[] = [];
  const handlers = new Map(Object.entries({ ...builtinHandlers(new HostMetricsSampler()), ...extra }));
  const runner = new CommandRunner('A1', 4, handlers, new ResultCache(100), (m) => sent.push(m), createLogger('silent'));
  runner.setReporting(reporting);
  const kinds = (): string[] => sent.map((m) => m.kind?.$case ?? '').filter((k) => k !== 'commandAck');
  const logs = () => sent.flatMap((m) => (m.kind?.$case === 'commandLog' ? [m.kind.commandLog] : []));
  const progress = () => sent.flatMap((m) => (m.kind?.$case === 'commandProgress' ? [m.kind.commandProgress] : []));
  return { runner, sent, kinds, logs, progress };
}

function command(commandId: string, commandType: string, payload = '', attempt = 1): Command {
  return { commandId, commandType, payload, priority: 5, attempt, correlationId: '', deadlineUnixMs: 0 };
}

/** Lets the handler's promise chain settle (fake timers do not fake setImmediate here). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ctx.progress and ctx.log (agent-side coalescing)', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('a tight loop of 100,000 ctx.log calls sends a bounded number of messages and lines, the rest counted as dropped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { runner, logs, kinds } = setup({
      chatty: async (ctx) => {
        for (let i = 0; i < 100_000; i++) ctx.log(`line ${i}`);
        await gate;
        return 'done';
      },
    });
    runner.receive(command('c1', 'chatty'));
    await settle();
    expect(logs()).toEqual([]); // nothing before the first interval
    vi.advanceTimersByTime(REPORT_INTERVAL_MS);
    expect(logs()).toHaveLength(1);
    expect(logs()[0].lines).toHaveLength(LOG_LINES_PER_MESSAGE);
    expect(logs()[0].lines[0]).toBe('line 0');
    expect(logs()[0].dropped).toBe(100_000 - MAX_BUFFERED_LINES);
    // One message per interval while lines wait: at most 400 lines a second.
    vi.advanceTimersByTime(REPORT_INTERVAL_MS * 3);
    expect(logs()).toHaveLength(4);
    release();
    await settle();
    await settle();
    // The result flushes the rest first, in messages of at most 100 lines.
    const all = logs();
    expect(all.reduce((n, l) => n + l.lines.length, 0)).toBe(MAX_BUFFERED_LINES);
    expect(all.every((l) => l.lines.length <= LOG_LINES_PER_MESSAGE)).toBe(true);
    expect(all.length).toBe(MAX_BUFFERED_LINES / LOG_LINES_PER_MESSAGE);
    expect(all.reduce((n, l) => n + l.dropped, 0)).toBe(100_000 - MAX_BUFFERED_LINES);
    expect(all.at(-1)!.lines.at(-1)).toBe(`line ${MAX_BUFFERED_LINES - 1}`);
    expect(kinds().at(-1)).toBe('commandResult');
    // Nothing is left behind: no timer keeps running.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps only the newest progress, sends at most one per interval, clamps out-of-range and NaN', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let step!: (p: number, m?: string) => void;
    const { runner, progress } = setup({
      steps: async (ctx) => {
        step = (p, m) => ctx.progress(p, m);
        await gate;
        return 'ok';
      },
    });
    runner.receive(command('c1', 'steps', '', 2));
    await settle();
    for (let i = 0; i <= 1000; i++) step(i / 10, `at ${i}`);
    vi.advanceTimersByTime(REPORT_INTERVAL_MS - 1);
    expect(progress()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(progress()).toEqual([{ commandId: 'c1', attempt: 2, percent: 100, message: 'at 1000' }]);
    step(250);
    vi.advanceTimersByTime(REPORT_INTERVAL_MS);
    step(-3, 'x'.repeat(5000));
    vi.advanceTimersByTime(REPORT_INTERVAL_MS);
    step(Number.NaN);
    release();
    await settle();
    await settle();
    expect(progress().map((p) => p.percent)).toEqual([100, 100, 0, 0]);
    expect(progress()[2].message).toHaveLength(MAX_LINE_BYTES);
  });

  it('flushes pending progress and lines before the result, in stream order', async () => {
    const { runner, kinds, logs } = setup({
      quick: (ctx) => {
        ctx.progress(50, 'half');
        ctx.log('one');
        ctx.log('two');
        return 'done';
      },
    });
    runner.receive(command('c1', 'quick'));
    await settle();
    expect(kinds()).toEqual(['commandProgress', 'commandLog', 'commandResult']);
    expect(logs()[0]).toEqual({ commandId: 'c1', attempt: 1, lines: ['one', 'two'], dropped: 0 });
  });

  it('drops what is pending when the command ends without a result to send (agent closing)', async () => {
    const { runner, kinds } = setup({
      forever: (ctx) => {
        ctx.log('started');
        return new Promise<string>(() => undefined);
      },
    });
    runner.receive(command('c1', 'forever'));
    await settle();
    runner.abortAll();
    vi.advanceTimersByTime(REPORT_INTERVAL_MS * 4);
    expect(kinds()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ignores reports made after the result was sent (a leaked background loop)', async () => {
    let leaked!: (line: string) => void;
    const { runner, kinds } = setup({
      leaky: (ctx) => {
        leaked = (line) => {
          ctx.log(line);
          ctx.progress(99);
        };
        return 'done';
      },
    });
    runner.receive(command('c1', 'leaky'));
    await settle();
    leaked('after the end');
    vi.advanceTimersByTime(REPORT_INTERVAL_MS * 4);
    expect(kinds()).toEqual(['commandResult']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is a no-op when the Welcome lacks accepts_progress', async () => {
    const { runner, kinds } = setup({
      chatty: (ctx) => {
        for (let i = 0; i < 100_000; i++) ctx.log(`line ${i}`);
        ctx.progress(42);
        return 'done';
      },
    }, false);
    runner.receive(command('c1', 'chatty'));
    await settle();
    vi.advanceTimersByTime(REPORT_INTERVAL_MS * 4);
    expect(kinds()).toEqual(['commandResult']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('built-in sleep reports progress at least once a second, increasing, with a message', async () => {
    const { runner, progress, sent } = setup({});
    runner.receive(command('s1', 'sleep', '3000'));
    await settle();
    for (let t = 0; t < 3000; t += SLEEP_PROGRESS_EVERY_MS) {
      await vi.advanceTimersByTimeAsync(SLEEP_PROGRESS_EVERY_MS);
    }
    await settle();
    await settle();
    const percents = progress().map((p) => p.percent);
    expect(percents.length).toBeGreaterThanOrEqual(4);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    expect(percents.at(-1)).toBe(100);
    expect(progress().at(-1)!.message).toBe('slept 3000 of 3000 ms');
    const result = sent.at(-1)!.kind;
    expect(result?.$case === 'commandResult' && result.commandResult.outcome).toBe(CommandOutcome.COMMAND_OUTCOME_SUCCEEDED);
  });
});

describe('cutUtf8', () => {
  it('cuts at a character boundary, never beyond the byte limit', () => {
    expect(cutUtf8('short', 1024)).toBe('short');
    const euro = '€'.repeat(400); // 3 bytes each
    const cut = cutUtf8(euro, 1024);
    expect(Buffer.byteLength(cut)).toBe(1023);
    expect(cut).toBe('€'.repeat(341));
    const emoji = '😀'.repeat(300); // 4 bytes each
    expect(cutUtf8(emoji, 1024)).toBe('😀'.repeat(256));
    expect(cutUtf8('a' + '😀'.repeat(300), 1024)).toBe('a' + '😀'.repeat(255));
  });
});
