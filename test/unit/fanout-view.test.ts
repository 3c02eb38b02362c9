import { describe, expect, it } from 'vitest';
import { CommandState, SubmitCommandRequest } from '../../src/generated/nexus/prime/pulse';
import { ingressFields } from '../../src/orchestrator/command-service';
import { childrenPage, encodeChildrenToken, fanoutSummary, isFanoutParent } from '../../src/orchestrator/fanout-view';
import { InvalidArgument } from '../../src/orchestrator/invalid-argument';
import { childOutcomeOf, stepOf } from '../../src/orchestrator/watch/event-entries';

describe('fan-out summary', () => {
  it('turns the parent counters into counts by state: running, pending, cancelled with the never launched', () => {
    const s = fanoutSummary(
      {
        fanout: '1', matched: '10', skipped: '2', launched: '7', finished: '5', n_succeeded: '3', n_failed: '1', n_dead: '1', n_cancelled: '0',
        not_started: '1', batch: '3', batch_spec: '30%', max_failures: '2', batch_wait_ms: '500', include_offline: '0', stop_reason: 'max_failures reached',
      },
      ['off-1', 'off-2'],
    );
    expect(s).toMatchObject({
      matched: 10, skipped: 2, launched: 7, finished: 5,
      running: 2, // launched - finished
      pending: 2, // matched - launched - not_started
      succeeded: 3, failed: 1, dead: 1,
      cancelled: 1, // n_cancelled + not_started
      notStarted: 1, batch: 3, batchSpec: '30%', maxFailures: 2, batchWaitMs: 500, includeOffline: false, stopReason: 'max_failures reached',
      skippedAgents: ['off-1', 'off-2'], children: [], childrenNextPageToken: '',
    });
  });

  it('reads a fresh parent (counters absent) as zeros, never negative when counters are caught between steps', () => {
    expect(fanoutSummary({ fanout: '1' })).toMatchObject({ matched: 0, launched: 0, running: 0, pending: 0, cancelled: 0, includeOffline: false, batchSpec: '', stopReason: '' });
    // finished ahead of launched, launched ahead of matched: clamped at 0.
    expect(fanoutSummary({ matched: '2', launched: '3', finished: '4', not_started: '1' })).toMatchObject({ running: 0, pending: 0, cancelled: 1 });
    expect(fanoutSummary({ include_offline: '1', matched: 'x', batch_wait_ms: '-5' })).toMatchObject({ includeOffline: true, matched: 0, batchWaitMs: 0 });
    expect(isFanoutParent({ fanout: '1' })).toBe(true);
    expect(isFanoutParent({ fanout: '0' })).toBe(false);
    expect(isFanoutParent({})).toBe(false);
  });
});

describe('children page tokens', () => {
  it('round-trips an offset for the same parent; size defaults to 100, at most 1000', () => {
    expect(childrenPage('p', 0, '')).toEqual({ offset: 0, size: 100 });
    expect(childrenPage('p', 1000, encodeChildrenToken('p', 250))).toEqual({ offset: 250, size: 1000 });
  });

  it('refuses a token of another parent, a broken token and a page too large, naming the field', () => {
    const refused = (size: number, token: string) => {
      try {
        childrenPage('p', size, token);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidArgument);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(refused(0, encodeChildrenToken('q', 10))).toMatch(/^children_page_token: belongs to another command/);
    expect(refused(0, 'not-a-token')).toMatch(/^children_page_token: malformed/);
    expect(refused(0, Buffer.from(JSON.stringify({ p: -1, f: 'x' })).toString('base64url'))).toMatch(/^children_page_token: /);
    expect(refused(1001, '')).toMatch(/^children_page_size: at most 1000/);
  });
});

describe('child outcomes', () => {
  const ev = (fields: Record<string, string>) => ({ id: '5-0', fields: { ts: '1700', replica: 'r1', ...fields } });

  it('maps a child terminal event to its state, agent and error', () => {
    expect(childOutcomeOf(ev({ type: 'command_succeeded', command_id: 'p/a1', agent_id: 'a1', parent_id: 'p' }), 'p')).toEqual({
      commandId: 'p/a1', agentId: 'a1', state: CommandState.COMMAND_STATE_SUCCEEDED, error: '', atUnixMs: 1700, replicaId: 'r1',
    });
    // command_dead carries no agent_id: the part of the child id after `<parent>/`.
    expect(childOutcomeOf(ev({ type: 'command_dead', command_id: 'p/x:y', reason: 'failed', error: 'boom', parent_id: 'p' }), 'p')).toMatchObject({ agentId: 'x:y', state: CommandState.COMMAND_STATE_FAILED, error: 'boom' });
    expect(childOutcomeOf(ev({ type: 'command_dead', command_id: 'p/a3', reason: 'expired', parent_id: 'p' }), 'p')).toMatchObject({ state: CommandState.COMMAND_STATE_DEAD, error: 'expired' });
    expect(childOutcomeOf(ev({ type: 'command_cancelled', command_id: 'p/a4', agent_id: 'a4', parent_id: 'p' }), 'p')).toMatchObject({ state: CommandState.COMMAND_STATE_CANCELLED });
  });

  it("shows a parent's plan and summary as step details", () => {
    expect(stepOf(ev({ type: 'command_queued', command_id: 'p', agent_id: '', selector: 'env=prod', matched: '3', skipped: '1' })).detail).toBe('selector env=prod: 3 matched, 1 skipped');
    expect(stepOf(ev({ type: 'command_failed', command_id: 'p', agent_id: '', summary: '2 succeeded, 1 failed' })).detail).toBe('2 succeeded, 1 failed');
  });
});

describe('SubmitCommand ingress fields', () => {
  const pairs = (fields: string[]) => Object.fromEntries(fields.flatMap((f, i) => (i % 2 === 0 ? [[f, fields[i + 1]]] : [])));

  it('passes the selector and rollout fields only when set, and no empty target beside a selector', () => {
    const fanout = ingressFields(SubmitCommandRequest.fromPartial({ selector: 'env=prod', commandType: 'echo', pick: 'all', batch: '10%', batchWaitMs: 500, maxFailures: 2, includeOffline: true }), 'operator/alice');
    expect(pairs(fanout)).toEqual({
      type: 'command_issued', command_type: 'echo', selector: 'env=prod', pick: 'all', batch: '10%', batch_wait_ms: '500', max_failures: '2', include_offline: 'true', requested_by: 'operator/alice',
    });
    const plain = ingressFields(SubmitCommandRequest.fromPartial({ target: 'a1', commandType: 'echo' }), '');
    expect(plain).toEqual(['type', 'command_issued', 'target', 'a1', 'command_type', 'echo']);
    // Neither: the empty target goes in, and the ingress validation says it is required.
    expect(pairs(ingressFields(SubmitCommandRequest.fromPartial({ commandType: 'echo' }), ''))).toMatchObject({ target: '' });
  });
});
