import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { useAgents } from '../helpers/agents';
import { useOrchestrator } from '../helpers/in-process';
import { getStatus, statusClient } from '../helpers/grpc-clients';
import { waitFor } from '../helpers/wait-for';

describe('targeting by selector, basics', () => {
  const fx = useOrchestrator();
  const startAgent = useAgents();

  it('broadcasts to every agent: one child each, the parent succeeds with the counts', async () => {
    const db = fx.redis.client();
    try {
      for (let i = 1; i <= 5; i++) await startAgent(`a${i}`, fx.port);
      await db.xadd('nexus:commands:stream', '*', 'selector', '*', 'command_id', 'b1', 'command_type', 'echo', 'payload', 'hi');
      await waitFor('parent finished', async () => (await db.hget('nexus:command:b1', 'state')) === 'succeeded', { timeoutMs: 10_000 });
      const parent = await db.hgetall('nexus:command:b1');
      expect([parent.matched, parent.launched, parent.finished, parent.n_succeeded]).toEqual(['5', '5', '5', '5']);
      for (let i = 1; i <= 5; i++) {
        expect(await db.hmget(`nexus:command:b1/a${i}`, 'state', 'output', 'parent_id')).toEqual(['succeeded', 'hi', 'b1']);
      }
    } finally {
      db.disconnect();
    }
  });

  it('GetSystemStatus lists the agents a selector matches, and names the position of a bad one', async () => {
    await startAgent('s-eu', fx.port, {}, 4, { labels: { env: 'prod', region: 'eu' } });
    await startAgent('s-us', fx.port, {}, 4, { labels: { env: 'prod', region: 'us' } });
    await startAgent('s-dev', fx.port, {}, 4, { labels: { env: 'dev', region: 'eu' } });
    const client = statusClient(fx.port);
    try {
      const ids = async (selector: string) => (await getStatus(client, { selector, agentIdPrefix: 's-' })).agents.map((a) => a.agentId).sort();
      expect(await ids('env=prod')).toEqual(['s-eu', 's-us']);
      expect(await ids('region=eu,env!=prod')).toEqual(['s-dev']);
      expect(await ids('region in (us,ap)')).toEqual(['s-us']);
      await expect(getStatus(client, { selector: 'env in (eu' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^selector: at position \d+/) });
    } finally {
      client.close();
    }
  });
});
