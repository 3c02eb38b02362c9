import { describe, expect, it } from 'vitest';
import { fieldsForDeadLetter, parseIngressEntry, type EntryRules, type IngressRequest } from '../../src/redis-bridge/ingress-entry';

const rules: EntryRules = { maxPayloadBytes: 1024, defaultMaxAttempts: 3, defaultTtlMs: 3_600_000, maxTtlMs: 7 * 86_400_000 };
const ENTRY_ID = '1700000000000-0';

/** Entry fields as the consumer reads them (XREADGROUP with Buffer replies): name, value, ... */
function raw(...items: (string | Buffer)[]): Buffer[] {
  return items.map((i) => (typeof i === 'string' ? Buffer.from(i, 'utf8') : i));
}

function parse(...items: (string | Buffer)[]): IngressRequest {
  return parseIngressEntry(ENTRY_ID, raw(...items), rules);
}

/** A minimal valid command entry plus `extra` fields. */
function issue(...extra: (string | Buffer)[]): IngressRequest {
  return parse('target', 'agent-1', 'command_type', 'run', ...extra);
}

function invalid(request: IngressRequest): string {
  if (request.kind !== 'invalid') throw new Error(`expected an invalid entry, got ${JSON.stringify(request)}`);
  return request.error;
}

function command(request: IngressRequest) {
  if (request.kind !== 'issue') throw new Error(`expected an issued command, got ${JSON.stringify(request)}`);
  return request.command;
}

describe('parseIngressEntry: issuing a command', () => {
  it('accepts the seed command from the contract with its own id and the rule defaults', () => {
    const request = parse('type', 'command_issued', 'target', 'TEST-AGENT', 'command_id', 'test-001', 'command_type', 'test', 'priority', '5');
    expect(request).toEqual({
      kind: 'issue',
      command: {
        commandId: 'test-001',
        target: 'TEST-AGENT',
        commandType: 'test',
        payload: '',
        priority: 5,
        correlationId: '',
        maxAttempts: 3,
        ttlMs: 3_600_000,
        requestedBy: '',
        redriveOf: '',
        parentId: '',
      },
    });
  });

  it('keeps who asked (requested_by, as <role>/<name>) and refuses anything else there', () => {
    expect(command(issue('requested_by', 'operator/alice')).requestedBy).toBe('operator/alice');
    expect(parse('type', 'command_cancel', 'command_id', 'c1', 'requested_by', 'viewer/bob')).toEqual({ kind: 'cancel', commandId: 'c1', requestedBy: 'viewer/bob', reason: '' });
    expect(issue('requested_by', 'alice')).toEqual({ kind: 'invalid', error: 'requested_by must look like <role>/<name>, got "alice"' });
  });

  it('treats an entry without a type as command_issued', () => {
    expect(issue().kind).toBe('issue');
  });

  it('uses the stream entry id as command id when command_id is absent or empty', () => {
    expect(command(issue()).commandId).toBe(ENTRY_ID);
    expect(command(issue('command_id', '')).commandId).toBe(ENTRY_ID);
  });

  it('keeps payload and correlation_id as given', () => {
    const c = command(issue('payload', '{"x":"é"}', 'correlation_id', 'req-42'));
    expect(c.payload).toBe('{"x":"é"}');
    expect(c.correlationId).toBe('req-42');
  });

  it('ignores fields it does not know', () => {
    expect(command(issue('source', 'cli', 'note', 'hello there'))).toEqual(command(issue()));
  });

  it('does not depend on the order of fields', () => {
    expect(command(parse('command_type', 'run', 'priority', 'high', 'target', 'agent-1'))).toEqual(command(issue('priority', 'high')));
  });
});

describe('parseIngressEntry: priority', () => {
  it('accepts every whole number from 1 to 10', () => {
    for (let p = 1; p <= 10; p++) expect(command(issue('priority', String(p))).priority).toBe(p);
  });

  it('maps low, medium, high and critical to 2, 5, 8 and 10, in any letter case', () => {
    expect(['low', 'medium', 'high', 'critical'].map((p) => command(issue('priority', p)).priority)).toEqual([2, 5, 8, 10]);
    expect(['LOW', 'Medium', 'HiGh', 'CRITICAL'].map((p) => command(issue('priority', p)).priority)).toEqual([2, 5, 8, 10]);
  });

  it('defaults to 5 when priority is absent or empty', () => {
    expect(command(issue()).priority).toBe(5);
    expect(command(issue('priority', '')).priority).toBe(5);
  });

  it('rejects names and numbers outside the scale, naming the field and the value', () => {
    for (const bad of ['urgent', '0', '11', '5.5', '-1', ' 5', '1e1', 'five']) {
      expect(invalid(issue('priority', bad))).toBe(`priority must be 1..10 or low|medium|high|critical, got ${JSON.stringify(bad)}`);
    }
  });

  it('shows the exact message a user finds in the DLQ for priority "urgent"', () => {
    expect(invalid(issue('priority', 'urgent'))).toBe('priority must be 1..10 or low|medium|high|critical, got "urgent"');
  });
});

describe('parseIngressEntry: max_attempts and ttl_ms', () => {
  it('takes max_attempts from 1 to 100 and defaults to the rule when absent or empty', () => {
    expect(command(issue('max_attempts', '1')).maxAttempts).toBe(1);
    expect(command(issue('max_attempts', '100')).maxAttempts).toBe(100);
    expect(command(issue()).maxAttempts).toBe(rules.defaultMaxAttempts);
    expect(command(issue('max_attempts', '')).maxAttempts).toBe(rules.defaultMaxAttempts);
  });

  it('rejects max_attempts outside 1..100 or not a whole number', () => {
    for (const bad of ['0', '101', '2.5', '-3', 'three']) {
      expect(invalid(issue('max_attempts', bad))).toBe(`max_attempts must be a whole number in 1..100, got ${JSON.stringify(bad)}`);
    }
  });

  it('takes ttl_ms up to the rule maximum and defaults to the rule when absent or empty', () => {
    expect(command(issue('ttl_ms', '1')).ttlMs).toBe(1);
    expect(command(issue('ttl_ms', String(rules.maxTtlMs))).ttlMs).toBe(rules.maxTtlMs);
    expect(command(issue()).ttlMs).toBe(rules.defaultTtlMs);
    expect(command(issue('ttl_ms', '')).ttlMs).toBe(rules.defaultTtlMs);
  });

  it('rejects ttl_ms above the maximum, zero, or not a whole number', () => {
    for (const bad of [String(rules.maxTtlMs + 1), '0', '1e3', '60000ms', '-1']) {
      expect(invalid(issue('ttl_ms', bad))).toBe(`ttl_ms must be a whole number in 1..${rules.maxTtlMs}, got ${JSON.stringify(bad)}`);
    }
  });

  it('follows the maximum ttl it is given', () => {
    const tight = { ...rules, maxTtlMs: 1000 };
    expect(parseIngressEntry(ENTRY_ID, raw('target', 'a', 'command_type', 'run', 'ttl_ms', '1000'), tight).kind).toBe('issue');
    expect(invalid(parseIngressEntry(ENTRY_ID, raw('target', 'a', 'command_type', 'run', 'ttl_ms', '1001'), tight))).toBe('ttl_ms must be a whole number in 1..1000, got "1001"');
  });
});

describe('parseIngressEntry: required fields and names', () => {
  it('rejects a command without target or with an empty one', () => {
    expect(invalid(parse('command_type', 'run'))).toBe('target is required (or a selector)');
    expect(invalid(parse('target', '', 'command_type', 'run'))).toBe('target is required (or a selector)');
  });

  it('rejects a command without command_type or with an empty one', () => {
    expect(invalid(parse('target', 'agent-1'))).toBe('command_type is required');
    expect(invalid(parse('target', 'agent-1', 'command_type', ''))).toBe('command_type is required');
  });

  it('rejects a target that is not a valid agent id, naming target', () => {
    const charset = 'target: may hold only letters, digits and . _ : @ - (and must start with a letter or digit)';
    expect(invalid(parse('target', 'agent 1', 'command_type', 'run'))).toBe(charset);
    expect(invalid(parse('target', 'team/agent', 'command_type', 'run'))).toBe(charset);
    expect(invalid(parse('target', '-agent', 'command_type', 'run'))).toBe(charset);
    expect(invalid(parse('target', 'a'.repeat(129), 'command_type', 'run'))).toBe('target: is longer than 128 characters');
    expect(command(parse('target', 'a'.repeat(128), 'command_type', 'run')).target).toBe('a'.repeat(128));
  });

  it('rejects command_type and command_id with characters outside the name set or over 128 characters', () => {
    expect(invalid(issue('command_id', 'id with spaces'))).toBe('command_id "id with spaces" may hold only letters, digits and . _ : @ / -');
    expect(invalid(parse('target', 'agent-1', 'command_type', 'run!'))).toBe('command_type "run!" may hold only letters, digits and . _ : @ / -');
    expect(invalid(parse('target', 'agent-1', 'command_type', '.hidden'))).toBe('command_type ".hidden" may hold only letters, digits and . _ : @ / -');
    expect(invalid(issue('command_id', 'x'.repeat(129)))).toBe('command_id is longer than 128 characters');
    expect(invalid(parse('target', 'agent-1', 'command_type', 'x'.repeat(129)))).toBe('command_type is longer than 128 characters');
  });

  it('allows / in command_type and command_id (unlike an agent id)', () => {
    const c = command(parse('target', 'agent-1', 'command_type', 'shell/run', 'command_id', 'batch-7/item:3@x'));
    expect([c.commandType, c.commandId]).toEqual(['shell/run', 'batch-7/item:3@x']);
  });

  it('accepts correlation_id up to 256 characters and rejects a longer one', () => {
    expect(command(issue('correlation_id', 'c'.repeat(256))).correlationId).toHaveLength(256);
    expect(invalid(issue('correlation_id', 'c'.repeat(257)))).toBe('correlation_id is longer than 256 characters');
  });

  it('shortens a long offending value to 40 characters in the error', () => {
    expect(invalid(issue('command_id', `${'a'.repeat(50)} b`))).toBe(`command_id "${'a'.repeat(40)}..." may hold only letters, digits and . _ : @ / -`);
  });
});

describe('parseIngressEntry: entry type', () => {
  it('rejects a type other than command_issued or command_cancel, an empty one included', () => {
    expect(invalid(issue('type', 'command_exploded'))).toBe('type must be command_issued, command_cancel or command_redrive, got "command_exploded"');
    expect(invalid(issue('type', ''))).toBe('type must be command_issued, command_cancel or command_redrive, got ""');
  });

  it('reads command_cancel as a cancel of the named command, ignoring the other fields', () => {
    expect(parse('type', 'command_cancel', 'command_id', 'test-001')).toEqual({ kind: 'cancel', commandId: 'test-001', requestedBy: '', reason: '' });
    expect(parse('type', 'command_cancel', 'command_id', 'test-001', 'target', 'not a valid id', 'priority', 'urgent')).toEqual({ kind: 'cancel', commandId: 'test-001', requestedBy: '', reason: '' });
  });

  it('rejects a cancel without a command_id rather than cancelling the entry id', () => {
    expect(invalid(parse('type', 'command_cancel'))).toBe('command_id is required');
    expect(invalid(parse('type', 'command_cancel', 'command_id', 'a b'))).toBe('command_id "a b" may hold only letters, digits and . _ : @ / -');
  });
});

describe('parseIngressEntry: raw field bytes', () => {
  it('accepts a payload of exactly the byte limit and rejects one byte more', () => {
    expect(command(issue('payload', 'p'.repeat(rules.maxPayloadBytes))).payload).toHaveLength(rules.maxPayloadBytes);
    expect(invalid(issue('payload', 'p'.repeat(rules.maxPayloadBytes + 1)))).toBe(`payload is ${rules.maxPayloadBytes + 1} bytes; the limit is ${rules.maxPayloadBytes}`);
  });

  it('measures the payload limit in UTF-8 bytes, not characters', () => {
    // 600 two-byte characters: 600 characters but 1200 bytes.
    expect(invalid(issue('payload', 'é'.repeat(600)))).toBe(`payload is 1200 bytes; the limit is ${rules.maxPayloadBytes}`);
  });

  it('rejects any other field longer than 4096 bytes, unknown fields included', () => {
    expect(invalid(issue('note', 'n'.repeat(4097)))).toBe('field "note" is longer than 4096 bytes');
    expect(issue('note', 'n'.repeat(4096)).kind).toBe('issue');
  });

  it('rejects bytes that are not UTF-8, naming the field', () => {
    expect(invalid(issue('payload', Buffer.from([0x7b, 0xff, 0x7d])))).toBe('field "payload" is not valid UTF-8');
    expect(invalid(parse('target', Buffer.from([0x61, 0xc3]), 'command_type', 'run'))).toBe('field "target" is not valid UTF-8');
  });

  it('rejects a field given twice', () => {
    expect(invalid(issue('priority', '5', 'priority', '8'))).toBe('field "priority" is given more than once');
  });

  it('rejects an entry with an odd number of field items', () => {
    expect(invalid(parse('target', 'agent-1', 'command_type'))).toBe('entry has an odd number of field items');
  });
});

describe('fieldsForDeadLetter', () => {
  it('copies short fields as text', () => {
    expect(fieldsForDeadLetter(raw('target', 'agent-1', 'priority', 'urgent'), 16)).toEqual(['target', 'agent-1', 'priority', 'urgent']);
  });

  it('cuts a value to the cap and records its full size next to it', () => {
    expect(fieldsForDeadLetter(raw('payload', 'abcdefghij'), 4)).toEqual(['payload', 'abcd', 'payload_size', '10']);
  });

  it('replaces bytes that are not UTF-8 instead of dropping the field', () => {
    expect(fieldsForDeadLetter(raw('payload', Buffer.from([0x61, 0xff, 0x62])), 16)).toEqual(['payload', 'a\uFFFDb']);
  });

  it('drops a trailing name that has no value', () => {
    expect(fieldsForDeadLetter(raw('target', 'agent-1', 'orphan'), 16)).toEqual(['target', 'agent-1']);
  });
});
