import { describe, expect, it } from 'vitest';
import { attemptTarget } from '../../src/agent/channel';

describe('attemptTarget', () => {
  it('puts every address of an ipv4: list first about equally often', () => {
    const target = 'ipv4:127.0.0.1:1,127.0.0.1:2,127.0.0.1:3';
    const first = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const shuffled = attemptTarget(target);
      expect(shuffled.slice(5).split(',').sort()).toEqual(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']);
      const head = shuffled.slice(5).split(',')[0];
      first.set(head, (first.get(head) ?? 0) + 1);
    }
    // Uniform: 1,000 each. (grpc-js's own shuffle gives the second address 0.)
    for (const port of ['1', '2', '3']) {
      expect(first.get(`127.0.0.1:${port}`)).toBeGreaterThan(850);
      expect(first.get(`127.0.0.1:${port}`)).toBeLessThan(1150);
    }
  });

  it('leaves other targets alone', () => {
    expect(attemptTarget('dns:///nexus-orchestrator:50051')).toBe('dns:///nexus-orchestrator:50051');
    expect(attemptTarget('localhost:50051')).toBe('localhost:50051');
    expect(attemptTarget('ipv4:127.0.0.1:1')).toBe('ipv4:127.0.0.1:1');
  });
});
