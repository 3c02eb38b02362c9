import { describe, expect, it } from 'vitest';
import type { Hello } from '../../src/generated/nexus/prime/pulse';
import { helloProblem, MAX_CONCURRENCY, MAX_HELLO_FIELD, MAX_HELLO_LIST, toProfile } from '../../src/orchestrator/hello-validation';

function hello(overrides: Partial<Hello> = {}): Hello {
  return {
    agentId: 'agent-1',
    agentType: 'worker',
    displayName: 'Worker one',
    capabilities: ['shell', 'http'],
    labels: { zone: 'eu-west-1', tier: 'gold' },
    version: '1.2.3',
    maxConcurrency: 4,
    acceptsCommandBatches: true,
    ...overrides,
  };
}

const long = 'x'.repeat(MAX_HELLO_FIELD + 1);
const atLimit = 'x'.repeat(MAX_HELLO_FIELD);

describe('helloProblem', () => {
  it('accepts a complete hello', () => {
    expect(helloProblem(hello())).toBeUndefined();
  });

  it('accepts a hello with only an agent id (every other field empty)', () => {
    expect(helloProblem(hello({ agentType: '', displayName: '', capabilities: [], labels: {}, version: '', maxConcurrency: 0 }))).toBeUndefined();
  });

  it('reports the agent id problem first, before anything else that is wrong', () => {
    expect(helloProblem(hello({ agentId: '' }))).toBe('agent_id is empty');
    expect(helloProblem(hello({ agentId: 'a'.repeat(129), agentType: long }))).toBe('agent_id is longer than 128 characters');
    expect(helloProblem(hello({ agentId: 'bad id', maxConcurrency: MAX_CONCURRENCY + 1 }))).toBe(
      'agent_id may hold only letters, digits and . _ : @ - (and must start with a letter or digit)',
    );
  });

  it('names each text field that is longer than 256 characters', () => {
    expect(MAX_HELLO_FIELD).toBe(256);
    expect(helloProblem(hello({ agentType: long }))).toBe('agent_type is longer than 256 characters');
    expect(helloProblem(hello({ displayName: long }))).toBe('display_name is longer than 256 characters');
    expect(helloProblem(hello({ version: long }))).toBe('version is longer than 256 characters');
  });

  it('accepts text fields of exactly 256 characters', () => {
    expect(helloProblem(hello({ agentType: atLimit, displayName: atLimit, version: atLimit }))).toBeUndefined();
  });

  it('accepts 64 capabilities and rejects 65', () => {
    expect(MAX_HELLO_LIST).toBe(64);
    const caps = (n: number): string[] => Array.from({ length: n }, (_, i) => `cap-${i}`);
    expect(helloProblem(hello({ capabilities: caps(64) }))).toBeUndefined();
    expect(helloProblem(hello({ capabilities: caps(65) }))).toBe('more than 64 capabilities');
  });

  it('rejects a capability over 256 characters or containing a comma (capabilities are stored comma-joined)', () => {
    expect(helloProblem(hello({ capabilities: ['shell', atLimit] }))).toBeUndefined();
    expect(helloProblem(hello({ capabilities: ['shell', long] }))).toBe('a capability is too long or contains a comma');
    expect(helloProblem(hello({ capabilities: ['shell,http'] }))).toBe('a capability is too long or contains a comma');
  });

  it('accepts 64 labels and rejects 65', () => {
    const labels = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    expect(helloProblem(hello({ labels: labels(64) }))).toBeUndefined();
    expect(helloProblem(hello({ labels: labels(65) }))).toBe('more than 64 labels');
  });

  it('rejects a label whose key or value is over 256 characters', () => {
    expect(helloProblem(hello({ labels: { [atLimit]: atLimit } }))).toBeUndefined();
    expect(helloProblem(hello({ labels: { [long]: 'v' } }))).toBe('a label is longer than 256 characters');
    expect(helloProblem(hello({ labels: { zone: long } }))).toBe('a label is longer than 256 characters');
  });

  it('accepts max_concurrency up to 10000 and rejects more', () => {
    expect(MAX_CONCURRENCY).toBe(10000);
    expect(helloProblem(hello({ maxConcurrency: 10000 }))).toBeUndefined();
    expect(helloProblem(hello({ maxConcurrency: 10001 }))).toBe('max_concurrency is above 10000');
  });

  it('checks text fields before list sizes, and capabilities before labels', () => {
    const caps = Array.from({ length: 65 }, (_, i) => `c${i}`);
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(helloProblem(hello({ version: long, capabilities: caps, labels }))).toBe('version is longer than 256 characters');
    expect(helloProblem(hello({ capabilities: caps, labels }))).toBe('more than 64 capabilities');
  });
});

describe('toProfile', () => {
  it('keeps the hello fields an agent record stores, without the agent id or batch flag', () => {
    expect(toProfile(hello())).toEqual({
      agentType: 'worker',
      displayName: 'Worker one',
      capabilities: ['shell', 'http'],
      labels: { zone: 'eu-west-1', tier: 'gold' },
      version: '1.2.3',
      maxConcurrency: 4,
    });
  });

  it('shows the agent id as display name when the agent gives none', () => {
    expect(toProfile(hello({ displayName: '' })).displayName).toBe('agent-1');
  });
});
