import { describe, expect, it } from 'vitest';
import { checkWatchEvents } from '../../src/orchestrator/watch/watch-events';
import { checkWatchCommand } from '../../src/orchestrator/watch/watch-command';
import { compareStreamIds, formatPosition, normalizeStreamId, parsePosition, streamIdBefore } from '../../src/orchestrator/watch/stream-ids';
import { stepOf } from '../../src/orchestrator/watch/event-entries';

describe('watch positions', () => {
  it('normalizes and orders stream ids numerically, not as text', () => {
    expect(normalizeStreamId('0017-02')).toBe('17-2');
    expect(normalizeStreamId('17')).toBe('17-0');
    for (const bad of ['', '-', '1-', 'a-1', '1-2-3', '18446744073709551616-0', ' 1-1']) expect(normalizeStreamId(bad)).toBeUndefined();
    expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-9', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('10-10', '10-10')).toBe(0);
    expect(streamIdBefore('10-3')).toBe('10-2');
    expect(streamIdBefore('10-0')).toBe('9-18446744073709551615');
    expect(compareStreamIds(streamIdBefore('10-0'), '10-0')).toBeLessThan(0);
  });

  it('round-trips a command position and refuses anything else', () => {
    const p = { events: '1700000000000-3', log: '0-0' };
    expect(parsePosition(formatPosition(p))).toEqual(p);
    for (const bad of ['1-1', '1-1/2-2/3-3', '/', 'x/1-1']) expect(parsePosition(bad)).toBeUndefined();
  });

  it('names the bad field of a watch request', () => {
    expect(checkWatchEvents({ types: ['command_dead', 'command_exploded'], agentId: '', commandId: '', after: '' })).toMatch(/^types\[1\]: /);
    expect(checkWatchEvents({ types: [], agentId: '', commandId: '', after: 'yesterday' })).toMatch(/^after: /);
    expect(checkWatchEvents({ types: ['agent_stale'], agentId: '', commandId: '', after: '5' })).toEqual({ types: new Set(['agent_stale']), after: '5-0' });
    expect(checkWatchCommand({ commandId: '', after: '' })).toMatch(/^command_id: /);
    expect(checkWatchCommand({ commandId: 'c', after: '1-1' })).toMatch(/^after: /);
  });

  it('maps command events to timeline steps', () => {
    expect(stepOf({ id: '1-0', fields: { type: 'command_dead', command_id: 'c', reason: 'failed', error: 'boom', replica: 'r1', ts: '5' } }))
      .toEqual({ event: 'dead', atUnixMs: 5, replicaId: 'r1', attempt: 0, detail: 'failed: boom' });
    expect(stepOf({ id: '1-0', fields: { type: 'command_queued', command_id: 'c', by: 'operator/ann', replica: 'r1', ts: '5' } }).detail).toBe('by operator/ann');
  });
});
