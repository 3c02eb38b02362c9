import { describe, expect, it } from 'vitest';
import { CommandOutcome } from '../../src/generated/nexus/prime/pulse';
import type { Outgoing } from '../../src/redis-bridge/command-types';
import { RefusalCode, ResultCode } from '../../src/redis-bridge/reply-codes';
import { commandMessages, planApplied, refillWindow, resultOutcome, type SessionView } from '../../src/orchestrator/delivery-decisions';

const session = (over: Partial<SessionView> = {}): SessionView => ({ agentId: 'a1', state: 'live', window: 8, acceptsBatches: true, needsDrain: false, ...over });
const command = (id: string): Outgoing => ({ commandId: id, commandType: 'echo', payload: '', priority: 5, attempt: 1, correlationId: '', deadlineUnixMs: 0 });

describe('agent outcomes', () => {
  it('map to the store outcome; a result without one is ignored', () => {
    expect(resultOutcome(CommandOutcome.COMMAND_OUTCOME_SUCCEEDED)).toBe('succeeded');
    expect(resultOutcome(CommandOutcome.COMMAND_OUTCOME_FAILED)).toBe('failed');
    expect(resultOutcome(CommandOutcome.COMMAND_OUTCOME_CANCELLED)).toBe('cancelled');
    expect(resultOutcome(CommandOutcome.COMMAND_OUTCOME_UNSPECIFIED)).toBeUndefined();
  });
});

describe('refills', () => {
  it('may fill the whole window of a live session whose stream takes more', () => {
    expect(refillWindow(session())).toBe(8);
  });

  it('give nothing to a draining or closed session, or to a stream that needs to drain', () => {
    expect(refillWindow(session({ state: 'draining' }))).toBe(0);
    expect(refillWindow(session({ state: 'closed' }))).toBe(0);
    expect(refillWindow(session({ needsDrain: true }))).toBe(0);
  });
});

describe('commands on the wire', () => {
  it('go in one message to an agent that takes batches', () => {
    const messages = commandMessages([command('a'), command('b')], true);
    expect(messages).toHaveLength(1);
    expect(messages[0].kind).toEqual({ $case: 'commands', commands: { commands: [command('a'), command('b')] } });
  });

  it('go one per message to an agent that does not, and a single command never as a batch', () => {
    expect(commandMessages([command('a'), command('b')], false).map((m) => m.kind?.$case)).toEqual(['command', 'command']);
    expect(commandMessages([command('a')], true).map((m) => m.kind?.$case)).toEqual(['command']);
    expect(commandMessages([], true)).toEqual([]);
  });
});

describe('a result batch reply', () => {
  it('closes fenced sessions, wakes retries, counts what changed and keeps the session refills are for', () => {
    const s1 = session({ agentId: 'a1' });
    const s2 = session({ agentId: 'a2' });
    const old = session({ agentId: 'a3' });
    const plan = planApplied(
      [
        { session: s1, outcome: 'succeeded' },
        { session: s1, outcome: 'failed' },
        { session: s2, outcome: 'failed' },
        { session: old, outcome: 'succeeded' },
        { session: s2, outcome: 'cancelled' },
      ],
      [
        { code: ResultCode.Finished, retryInMs: 0 },
        { code: ResultCode.Retrying, retryInMs: 1000 },
        { code: ResultCode.Finished, retryInMs: 0 },
        { code: RefusalCode.Fenced, retryInMs: 0 },
        { code: ResultCode.Ignored, retryInMs: 0 },
      ],
    );
    expect([...plan.fenced]).toEqual([old]);
    expect(plan.retries).toEqual([{ agentId: 'a1', inMs: 1000 }]);
    // A failure that finished was dead-lettered; an ignored result counts nothing.
    expect(plan.counted).toEqual(['succeeded', 'retrying', 'dead']);
    expect([...plan.current.entries()]).toEqual([['a1', s1], ['a2', s2]]);
  });
});
