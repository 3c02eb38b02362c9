import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACK_RECORD_DELAY_MS, AckHolder } from '../../src/orchestrator/ack-holder';
import { RetryTimers } from '../../src/orchestrator/retry-timers';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('retry timers', () => {
  it('keep one timer per agent, for the earliest retry', () => {
    const due: [string, boolean][] = [];
    const timers = new RetryTimers((agentId, resend) => due.push([agentId, resend]));
    timers.schedule('a1', 1000);
    timers.schedule('a1', 5000); // later: the first run finds it
    timers.schedule('a1', 200); // earlier: replaces the timer
    expect(timers.size).toBe(1);
    vi.advanceTimersByTime(210);
    expect(due).toEqual([['a1', false]]);
    vi.advanceTimersByTime(10_000);
    expect(due).toHaveLength(1);
  });

  it('keep a resend asked for by any schedule of the agent', () => {
    const due: [string, boolean][] = [];
    const timers = new RetryTimers((agentId, resend) => due.push([agentId, resend]));
    timers.schedule('a1', 500, true);
    timers.schedule('a1', 100); // earlier, without resend: the resend is kept
    timers.schedule('a2', 100);
    timers.schedule('a2', 900, true); // later, with resend: it sticks to the earlier timer
    vi.advanceTimersByTime(1000);
    expect(due.sort()).toEqual([['a1', true], ['a2', true]]);
  });

  it('stop on close and ignore schedules after it', () => {
    const due: string[] = [];
    const timers = new RetryTimers((agentId) => due.push(agentId));
    timers.schedule('a1', 100);
    timers.close();
    timers.schedule('a2', 100);
    vi.advanceTimersByTime(1000);
    expect(due).toEqual([]);
    expect(timers.size).toBe(0);
    timers.close();
  });
});

describe('held acks', () => {
  it('are recorded after the delay when no result came', () => {
    const recorded: string[] = [];
    const acks = new AckHolder((agentId, ack) => recorded.push(`${agentId}/${ack.commandId}/${ack.attempt}`));
    acks.hold('a1', { commandId: 'c1', attempt: 2 });
    vi.advanceTimersByTime(ACK_RECORD_DELAY_MS - 1);
    expect(recorded).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(recorded).toEqual(['a1/c1/2']);
    expect(acks.size).toBe(0);
  });

  it('are dropped when the result comes first (the result records the receipt)', () => {
    const recorded: string[] = [];
    const acks = new AckHolder((_agentId, ack) => recorded.push(ack.commandId));
    acks.hold('a1', { commandId: 'c1', attempt: 1 });
    acks.hold('a2', { commandId: 'c1', attempt: 1 }); // same command id, another agent
    acks.settle('a1', 'c1');
    acks.settle('a1', 'unknown');
    vi.advanceTimersByTime(ACK_RECORD_DELAY_MS);
    expect(recorded).toEqual(['c1']);
  });

  it('are all dropped on close', () => {
    const recorded: string[] = [];
    const acks = new AckHolder((_agentId, ack) => recorded.push(ack.commandId));
    acks.hold('a1', { commandId: 'c1', attempt: 1 });
    acks.close();
    vi.advanceTimersByTime(ACK_RECORD_DELAY_MS * 2);
    expect(recorded).toEqual([]);
  });
});
