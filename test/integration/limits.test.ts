import { describe, expect, it } from 'vitest';
import { credentials, status, type StatusObject } from '@grpc/grpc-js';
import { Agent } from '../../src/agent/agent';
import type { SessionOutcome } from '../../src/agent/pulse-session';
import { NexusPulseServiceClient, type AgentMessage } from '../../src/generated/nexus/prime/pulse';
import { createLogger } from '../../src/shared/logger';
import { useOrchestrator } from '../helpers/in-process';

const hello = (agentId: string): AgentMessage => ({
  kind: { $case: 'hello', hello: { agentId, agentType: 't', displayName: '', capabilities: [], labels: {}, version: '1', maxConcurrency: 1, acceptsCommandBatches: false } },
});

/** Says hello, waits for the welcome (or the end), then ends the stream; resolves with the status. */
function session(port: number, agentId: string): Promise<StatusObject> {
  const client = new NexusPulseServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const call = client.pulse();
  call.on('data', () => call.end());
  call.on('error', () => undefined);
  call.write(hello(agentId));
  return new Promise((resolve) => call.on('status', (s) => {
    client.close();
    resolve(s);
  }));
}

describe('per agent id session limit (cluster-wide, in Redis)', () => {
  const fx = useOrchestrator({ AGENT_RECONNECT_LIMIT: '3', AGENT_RECONNECT_WINDOW_MS: '60000' });

  it('refuses the 4th session of one id within the window with RESOURCE_EXHAUSTED and a retry delay', async () => {
    for (let i = 0; i < 3; i++) expect((await session(fx.port, 'looper')).code).toBe(status.OK);
    const refused = await session(fx.port, 'looper');
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(/started too many sessions/);
    const retryAfter = Number(refused.metadata.get('retry-after-ms')[0]);
    expect(retryAfter).toBeGreaterThan(50_000);
    expect(retryAfter).toBeLessThanOrEqual(60_000);
    // Other ids are not affected.
    expect((await session(fx.port, 'bystander')).code).toBe(status.OK);
  });

  it('the agent honours the retry delay instead of hammering', async () => {
    const agent = new Agent({ agentId: 'looper', orchestrator: `127.0.0.1:${fx.port}`, initialBackoffMs: 10, maxBackoffMs: 20 }, { logger: createLogger('silent') });
    const outcome = new Promise<SessionOutcome>((resolve) => agent.once('disconnected', resolve));
    const waiting = new Promise<number>((resolve) => agent.once('waiting', resolve));
    agent.start();
    expect(await outcome).toMatchObject({ kind: 'failed', code: status.RESOURCE_EXHAUSTED, retryAfterMs: expect.any(Number) });
    // It waits out the delay (about a minute here) on top of its own 10-20 ms backoff.
    expect(await waiting).toBeGreaterThan(50_000);
    expect(agent.failures).toBe(1);
    await agent.close();
  });
});

describe('session admission (token bucket per replica)', () => {
  const fx = useOrchestrator({ SESSION_ADMISSION_RATE: '5' });

  it('pushes back a burst above the rate with RESOURCE_EXHAUSTED and a short retry delay', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => session(fx.port, `burst-${i}`)));
    const refused = results.filter((s) => s.code === status.RESOURCE_EXHAUSTED);
    const admitted = results.filter((s) => s.code === status.OK);
    expect(admitted.length).toBeGreaterThanOrEqual(5);
    expect(admitted.length).toBeLessThan(10);
    expect(refused.length).toBe(20 - admitted.length);
    for (const r of refused) {
      const retryAfter = Number(r.metadata.get('retry-after-ms')[0]);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(1000);
    }
  });
});
