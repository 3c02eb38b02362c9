import { describe, expect, it } from 'vitest';
import { agentIdProblem, MAX_AGENT_ID_LENGTH } from '../../src/shared/agent-id';

const CHARSET = 'agent_id may hold only letters, digits and . _ : @ - (and must start with a letter or digit)';

describe('agentIdProblem', () => {
  it('accepts letters, digits and . _ : @ - after a leading letter or digit', () => {
    for (const id of ['a', '7', 'TEST-AGENT', 'worker_01.eu-west:3@host', '0.0.0', 'A-'.padEnd(20, '_')]) {
      expect(agentIdProblem(id)).toBeUndefined();
    }
  });

  it('rejects an empty id', () => {
    expect(agentIdProblem('')).toBe('agent_id is empty');
  });

  it('accepts 128 characters and rejects 129', () => {
    expect(MAX_AGENT_ID_LENGTH).toBe(128);
    expect(agentIdProblem('a'.repeat(128))).toBeUndefined();
    expect(agentIdProblem('a'.repeat(129))).toBe('agent_id is longer than 128 characters');
  });

  it('reports the length before the characters when an id is both too long and odd', () => {
    expect(agentIdProblem(' '.repeat(129))).toBe('agent_id is longer than 128 characters');
  });

  it('rejects an id starting with punctuation', () => {
    for (const id of ['-agent', '.agent', '_agent', ':agent', '@agent']) expect(agentIdProblem(id)).toBe(CHARSET);
  });

  it('rejects spaces, slashes, control characters, wildcards and non-ASCII letters', () => {
    for (const id of ['agent 1', 'team/agent', 'agent\n', 'agent\t1', 'agent*', 'nexus{x}', 'agent,1', 'agént', 'агент']) {
      expect(agentIdProblem(id)).toBe(CHARSET);
    }
  });
});
