import { describe, expect, it, vi } from 'vitest';
import { AGENT_ACK_HOLD_MS, CommandRunner } from '../../src/agent/command-runner';
import { builtinHandlers, type CommandHandler } from '../../src/agent/handlers';
import { HostMetricsSampler } from '../../src/agent/host-metrics';
import { ResultCache } from '../../src/agent/result-cache';
import { CommandOutcome, type AgentMessage, type Command, type CommandResult } from '../../src/generated/nexus/prime/pulse';
import { createLogger } from '../../src/shared/logger';
import { waitFor } from '../helpers/wait-for';

function setup(extra: Record<string, CommandHandler> = {}, maxConcurrency = 2) {
  const sent: AgentMessage[] = [];
  const handlers = new Map(Object.entries({ ...builtinHandlers(new HostMetricsSampler()), ...extra }));
  const runner = new CommandRunner('A1', maxConcurrency, handlers, new ResultCache(100), (m) => sent.push(m), createLogger('silent'));
  const results = (): CommandResult[] => sent.flatMap((m) => (m.kind?.$case === 'commandResult' ? [m.kind.commandResult] : []));
  const acks = (): string[] => sent.flatMap((m) => (m.kind?.$case === 'commandAck' ? [m.kind.commandAck.commandId] : []));
  const result = (id: string) => waitFor(`result of ${id}`, () => results().find((r) => r.commandId === id));
  return { runner, results, acks, result };
}

function command(commandId: string, commandType: string, payload = '', attempt = 1): Command {
  return { commandId, commandType, payload, priority: 5, attempt, correlationId: '', deadlineUnixMs: 0 };
}

describe('command runner', () => {
  it('runs echo and returns the payload; the result stands for the ack', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { runner, acks, results } = setup();
      runner.receive(command('c1', 'echo', 'hello'));
      await new Promise((r) => setImmediate(r)); // the handler's promise chain settles
      expect(results()).toMatchObject([{ outcome: CommandOutcome.COMMAND_OUTCOME_SUCCEEDED, output: 'hello', attempt: 1 }]);
      // Past the hold, still no ack: the result went first.
      vi.advanceTimersByTime(AGENT_ACK_HOLD_MS);
      expect(acks()).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('acks a command that is still running after the hold, before its result', async () => {
    const { runner, acks, results, result } = setup();
    runner.receive(command('c1', 'sleep', '200'));
    await waitFor('ack of c1', () => acks().length === 1);
    expect(acks()).toEqual(['c1']);
    expect(results()).toEqual([]);
    await result('c1');
  });

  it('returns real host metrics for sysinfo', async () => {
    const { runner, result } = setup();
    runner.receive(command('c1', 'sysinfo'));
    const metrics = JSON.parse((await result('c1')).output) as { memoryTotalBytes: number; uptimeSeconds: number };
    expect(metrics.memoryTotalBytes).toBeGreaterThan(0);
    expect(metrics.uptimeSeconds).toBeGreaterThan(0);
  });

  it('fails an unknown type permanently and a bad sleep payload permanently', async () => {
    const { runner, result } = setup();
    runner.receive(command('c1', 'format-disk'));
    runner.receive(command('c2', 'sleep', 'soon'));
    expect(await result('c1')).toMatchObject({ outcome: CommandOutcome.COMMAND_OUTCOME_FAILED, permanent: true, error: expect.stringMatching(/unknown command type/) });
    expect(await result('c2')).toMatchObject({ outcome: CommandOutcome.COMMAND_OUTCOME_FAILED, permanent: true });
  });

  it('reports a thrown error as a retryable failure', async () => {
    const { runner, result } = setup({ flaky: () => { throw new Error('disk busy'); } });
    runner.receive(command('c1', 'flaky'));
    expect(await result('c1')).toMatchObject({ outcome: CommandOutcome.COMMAND_OUTCOME_FAILED, permanent: false, error: 'disk busy' });
  });

  it('cancels a running sleep', async () => {
    const { runner, result } = setup();
    runner.receive(command('c1', 'sleep', '60000'));
    runner.cancel('c1', 'operator said stop');
    expect(await result('c1')).toMatchObject({ outcome: CommandOutcome.COMMAND_OUTCOME_CANCELLED });
  });

  it('gives a handler that reads its signal only after a cancel an aborted signal', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { runner, result } = setup({
      late: async (ctx) => {
        await gate; // the cancel arrives before the signal is first read
        if (ctx.signal.aborted) throw ctx.signal.reason as Error;
        return 'ran to the end';
      },
    });
    runner.receive(command('c1', 'late'));
    await waitFor('c1 running', () => runner.active === 1);
    runner.cancel('c1', 'operator said stop');
    release();
    expect(await result('c1')).toMatchObject({ outcome: CommandOutcome.COMMAND_OUTCOME_CANCELLED, error: 'operator said stop' });
  });

  it('runs a redelivered command once and answers with the remembered result', async () => {
    let runs = 0;
    const { runner, results, acks, result } = setup({ count: () => String(++runs) });
    runner.receive(command('c1', 'count'));
    runner.receive(command('c1', 'count', '', 2)); // redelivered while running
    await result('c1');
    runner.receive(command('c1', 'count', '', 3)); // redelivered after it finished
    await waitFor('remembered result', () => results().length === 2);
    expect(runs).toBe(1);
    // Only attempt 2 goes unanswered long enough to be acked: attempt 1's and 3's results stand for theirs.
    await waitFor('ack of attempt 2', () => acks().length === 1);
    expect(acks()).toEqual(['c1']);
    expect(results().map((r) => [r.output, r.attempt])).toEqual([['1', 1], ['1', 3]]);
  });

  it('runs at most maxConcurrency at once and queues the rest', async () => {
    let active = 0;
    let peak = 0;
    const slow: CommandHandler = async () => {
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, 20));
      active--;
      return 'ok';
    };
    const { runner, results } = setup({ slow }, 2);
    for (let i = 0; i < 6; i++) runner.receive(command(`c${i}`, 'slow'));
    expect(runner.active).toBe(2);
    await waitFor('all results', () => results().length === 6);
    expect(peak).toBe(2);
  });
});
