import { describe, expect, it } from 'vitest';
import { redriveCommandId, redriveRequest } from '../../src/redis-bridge/dead-letter-redrive';
import { isEntryId, parseIngressEntry, type EntryRules } from '../../src/redis-bridge/ingress-entry';
import { idsOrFilter, pageStart, pageToken, selectorOf } from '../../src/orchestrator/dead-letter-query';
import { InvalidArgument } from '../../src/orchestrator/invalid-argument';

const rules: EntryRules = { maxPayloadBytes: 1024, defaultMaxAttempts: 3, defaultTtlMs: 3_600_000, maxTtlMs: 7 * 86_400_000 };
const expired = {
  id: '1700000000000-3',
  fields: {
    reason: 'expired', error: 'not delivered within ttl_ms=150', attempts: '0', source_id: '1699999999000-0', dead_at: '1700000000000', replica: 'r1',
    type: 'command_issued', target: 'later', command_id: 'late-3', command_type: 'echo', payload: 'three', priority: '8', correlation_id: 'corr-3', max_attempts: '2', ttl_ms: '150',
  },
};
const parse = (...items: string[]) => parseIngressEntry('1700000000009-0', items.map((i) => Buffer.from(i)), rules);
const filter = (reasons: string[] = [], target = '', commandType = '') => ({ reasons, target, commandType });

describe('the redis-cli redrive entry', () => {
  it('names the dead letter, and optionally the command id and who asked', () => {
    expect(parse('type', 'command_redrive', 'dead_letter_id', '1700000000000-3')).toEqual({ kind: 'redrive', deadLetterId: '1700000000000-3', commandId: '', requestedBy: '' });
    expect(parse('type', 'command_redrive', 'dead_letter_id', '5-0', 'command_id', 'again-1', 'requested_by', 'operator/alice')).toEqual({ kind: 'redrive', deadLetterId: '5-0', commandId: 'again-1', requestedBy: 'operator/alice' });
  });

  it('is invalid without a dead letter id, or with one that is not a stream entry id', () => {
    expect(parse('type', 'command_redrive')).toEqual({ kind: 'invalid', error: 'dead_letter_id is required' });
    expect(parse('type', 'command_redrive', 'dead_letter_id', 'latest')).toEqual({ kind: 'invalid', error: 'dead_letter_id must be a stream entry id (<ms>-<seq>), got "latest"' });
    expect(parse('type', 'command_redrive', 'dead_letter_id', '5-0', 'command_id', 'a b')).toMatchObject({ kind: 'invalid', error: expect.stringMatching(/^command_id/) });
  });
});

describe('redriveRequest', () => {
  it('rebuilds the command with the default TTL, redrive_of, who asked, and the derived id', () => {
    expect(redriveCommandId(expired)).toBe('late-3:redrive:1700000000000-3');
    expect(redriveRequest(expired, '', 'operator/bob', rules)).toEqual({
      kind: 'issue',
      command: {
        commandId: 'late-3:redrive:1700000000000-3', target: 'later', commandType: 'echo', payload: 'three', priority: 8, correlationId: 'corr-3',
        maxAttempts: 2, ttlMs: 3_600_000, requestedBy: 'operator/bob', redriveOf: '1700000000000-3', parentId: '',
      },
    });
    expect(redriveRequest(expired, 'mine', '', rules)).toMatchObject({ kind: 'issue', command: { commandId: 'mine' } });
  });

  it('uses the source entry id when the dead command had no id of its own', () => {
    const { command_id: _, ...fields } = expired.fields;
    expect(redriveCommandId({ id: expired.id, fields })).toBe('1699999999000-0:redrive:1700000000000-3');
  });

  it('refuses what cannot run again: a cut payload, a cancel, a missing field, an invalid entry, an id too long', () => {
    const err = (f: Record<string, string>, commandId = '') => {
      const r = redriveRequest({ id: '9-0', fields: f }, commandId, '', rules);
      return r.kind === 'invalid' ? r.error : 'ran';
    };
    expect(err({ ...expired.fields, payload_size: '9000' })).toBe('dead letter 9-0 kept only part of its payload (9000 bytes): submit it again in full');
    expect(err({ reason: 'cancelled_undeliverable', type: 'command_cancel', command_id: 'x' })).toBe('dead letter 9-0 is a command_cancel entry, not a command');
    expect(err({ reason: 'invalid', type: 'command_redrive', dead_letter_id: '1-0' })).toBe('dead letter 9-0 is a command_redrive entry, not a command');
    expect(err({ ...expired.fields, target: '' })).toBe('dead letter 9-0 has no target');
    expect(err({ ...expired.fields, priority: 'urgent' })).toMatch(/^dead letter 9-0: priority must be/);
    expect(err({ ...expired.fields, command_id: 'c'.repeat(120) })).toMatch(/^dead letter 9-0: command_id is longer than 128/);
  });
});

describe('dead-letter request checks', () => {
  it('takes ids or a filter, exactly one, and names the field that is wrong', () => {
    const bad = (f: () => unknown) => {
      try {
        f();
        return 'ok';
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidArgument);
        return (err as Error).message;
      }
    };
    expect(bad(() => idsOrFilter(['1-0'], filter(), 10))).toBe('ids and filter: give one of them, not both');
    expect(bad(() => idsOrFilter([], undefined, 10))).toMatch(/^ids or filter is required/);
    expect(bad(() => idsOrFilter(['1-0', 'x'], undefined, 10))).toBe('ids[1]: "x" is not a dead letter id (<ms>-<seq>)');
    expect(bad(() => idsOrFilter(['1-0', '2-0'], undefined, 1))).toBe('ids: at most 1 per request, got 2');
    expect(bad(() => selectorOf(filter(['expired', 'nope'])))).toMatch(/^filter\.reasons\[1\]: unknown reason "nope"/);
    expect(idsOrFilter(['1-0', '1-0', '2-0'], undefined, 10)).toEqual({ ids: ['1-0', '2-0'] });
    expect(idsOrFilter([], filter(['failed', 'expired', 'failed'], 'a'), 10)).toEqual({ selector: { reasons: ['expired', 'failed'], target: 'a', commandType: '' } });
  });

  it('binds a page token to its filter (the order of reasons does not matter)', () => {
    const s = selectorOf(filter(['failed', 'expired']));
    const token = pageToken('1700000000000-3', s);
    expect(pageStart(token, selectorOf(filter(['expired', 'failed'])))).toBe('1700000000000-3');
    expect(() => pageStart(token, selectorOf(filter(['expired'])))).toThrow(/^page_token was made for another filter/);
    expect(() => pageStart('garbage!', s)).toThrow(/^page_token is not a token/);
    expect(() => pageStart(Buffer.from(JSON.stringify({ a: '1; DROP', f: 'x' })).toString('base64url'), s)).toThrow(/^page_token is not a token/);
    expect(pageStart('', s)).toBe('');
  });
});

describe('isEntryId', () => {
  it('takes what Redis can hold: two unsigned 64-bit numbers', () => {
    expect(isEntryId('1700000000000-0')).toBe(true);
    expect(isEntryId('18446744073709551615-18446744073709551615')).toBe(true);
    expect(isEntryId('18446744073709551616-0')).toBe(false);
    expect(isEntryId('1700000000000')).toBe(false);
    expect(isEntryId('-1-0')).toBe(false);
  });
});
