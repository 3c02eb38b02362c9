import { describe, expect, it } from 'vitest';
import { RefusalCode, ResultCode } from '../../src/redis-bridge/reply-codes';
import {
  decodeCancelReply, decodeCompleteReply, decodeConnectReply, decodeDeliverReply, decodeFlag, decodeHeartbeatReply,
  decodeRejectReply, decodeRouteReply, decodeSweepReply,
} from '../../src/redis-bridge/script-replies';
import { ScriptReplyError } from '../../src/redis-bridge/script-reply-error';

// Replies as ioredis hands them over: Lua numbers arrive as numbers, Lua strings as strings.
const cmd = (id: string) => [id, 'echo', 'hi', '5', '1', 'corr', '1800000000000'];

describe('route replies', () => {
  it('read each entry outcome, with epoch and expiry only for a delivered one', () => {
    const reply = ['delivered', 'r1', '7', '1800000000000', 'queued', 'r2', '', '', 'error', 'WRONGTYPE Operation', '', ''];
    expect(decodeRouteReply(reply, 3)).toEqual([
      { outcome: 'delivered', owner: 'r1', epoch: 7, expireAt: 1800000000000 },
      { outcome: 'queued', owner: 'r2', epoch: 0, expireAt: 0 },
      { outcome: 'error', owner: '', epoch: 0, expireAt: 0, reason: 'WRONGTYPE Operation' },
    ]);
  });

  it('refuse an unknown outcome or a count that does not match the entries, naming the script', () => {
    expect(() => decodeRouteReply(['teleported', '', '', ''], 1)).toThrow('routeCommands: unexpected reply: unknown outcome "teleported"');
    expect(() => decodeRouteReply(['queued', '', '', ''], 2)).toThrow(ScriptReplyError);
    expect(() => decodeRouteReply('OK', 1)).toThrow('expected an array');
  });
});

describe('deliver replies', () => {
  it('read commands, cancels and the next retry', () => {
    const reply = [1, 250, 2, ...cmd('a'), ...cmd('b'), 1, 'c'];
    const pick = decodeDeliverReply(reply);
    expect(pick.fenced).toBe(false);
    expect(pick.nextRetryInMs).toBe(250);
    expect(pick.commands.map((c) => c.commandId)).toEqual(['a', 'b']);
    expect(pick.commands[0]).toEqual({ commandId: 'a', commandType: 'echo', payload: 'hi', priority: 5, attempt: 1, correlationId: 'corr', deadlineUnixMs: 1800000000000 });
    expect(pick.cancels).toEqual(['c']);
  });

  it('say fenced, with nothing to send, for the fenced code', () => {
    expect(decodeDeliverReply([RefusalCode.Fenced])).toEqual({ fenced: true, commands: [], cancels: [], nextRetryInMs: 0 });
  });

  it('refuse a reply shorter than the commands it announces', () => {
    expect(() => decodeDeliverReply([1, 0, 2, ...cmd('a'), 0])).toThrow('deliverCommands: unexpected reply: 2 commands announced');
  });
});

describe('complete replies', () => {
  it('read per-result codes, then each refill', () => {
    const reply = [ResultCode.Finished, 0, ResultCode.Retrying, 2000, RefusalCode.Fenced, 0, ResultCode.Ignored, 0, 1, 'agent-1', 0, 1, ...cmd('next')];
    const out = decodeCompleteReply(reply, 4);
    expect(out.applied).toEqual([
      { code: ResultCode.Finished, retryInMs: 0 },
      { code: ResultCode.Retrying, retryInMs: 2000 },
      { code: RefusalCode.Fenced, retryInMs: 0 },
      { code: ResultCode.Ignored, retryInMs: 0 },
    ]);
    expect(out.refills).toEqual([{ agentId: 'agent-1', nextRetryInMs: 0, commands: [expect.objectContaining({ commandId: 'next' })] }]);
  });

  it('refuse an unknown result code and values left over', () => {
    expect(() => decodeCompleteReply([7, 0, 0], 1)).toThrow('result code 7');
    expect(() => decodeCompleteReply([1, 0, 0, 'extra'], 1)).toThrow('1 values left over');
  });
});

describe('small replies', () => {
  it('connect: the epoch and the previous owner, or the session limit with its delay', () => {
    expect(decodeConnectReply([12, 'r2', 's-1', 'online', 1800000000000])).toEqual({
      overLimit: false, epoch: 12, previousReplica: 'r2', previousSession: 's-1', previousState: 'online', nowMs: 1800000000000,
    });
    expect(decodeConnectReply([RefusalCode.OverSessionLimit, 900, '', '', 0])).toEqual({ overLimit: true, retryAfterMs: 900 });
    expect(() => decodeConnectReply([-1, 900, '', '', 0])).toThrow('connectAgent: unexpected reply: epoch -1');
  });

  it('heartbeat: ok, fenced, missing', () => {
    expect(decodeHeartbeatReply(1)).toBe('ok');
    expect(decodeHeartbeatReply(RefusalCode.Fenced)).toBe('fenced');
    expect(decodeHeartbeatReply(RefusalCode.NoRecord)).toBe('missing');
    expect(() => decodeHeartbeatReply(RefusalCode.NotPending)).toThrow('recordHeartbeat: unexpected reply: code -4');
  });

  it('reject: done, or not pending any more', () => {
    expect(decodeRejectReply(1)).toBe(true);
    expect(decodeRejectReply(RefusalCode.NotPending)).toBe(false);
    expect(() => decodeRejectReply(0)).toThrow('rejectEntry');
  });

  it('flags, cancels and sweeps', () => {
    expect(decodeFlag('ackCommand', 1)).toBe(true);
    expect(decodeFlag('ackCommand', 0)).toBe(false);
    expect(() => decodeFlag('ackCommand', 'OK')).toThrow('ackCommand: unexpected reply: code is not an integer: "OK"');
    expect(decodeCancelReply(['cancel_requested', 'r3'])).toEqual({ outcome: 'cancel_requested', owner: 'r3' });
    expect(() => decodeCancelReply(['gone', ''])).toThrow('unknown outcome "gone"');
    expect(decodeSweepReply([1, 2, 3, 4, '', 1, '*'])).toEqual({ stale: 1, offline: 2, forgotten: 3, held: 4, gap: '', activeHolds: 1, holdsEnded: ['*'] });
    expect(decodeSweepReply([0, 0, 0, 0, 'sweep_gap', 1])).toMatchObject({ gap: 'sweep_gap', activeHolds: 1, holdsEnded: [] });
    expect(() => decodeSweepReply([1, 2, 3])).toThrow('sweepAgents: unexpected reply: 3 values');
  });
});
