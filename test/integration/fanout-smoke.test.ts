import { describe, expect, it } from 'vitest';
import { useAgents } from '../helpers/agents';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';
import { readEvents } from '../helpers/events';

describe('fan-out smoke', () => {
  const fx = useOrchestrator();
  const startAgent = useAgents();
  it('broadcasts to matching agents', async () => {
    const db = fx.redis.client();
    for (let i = 1; i <= 5; i++) {
      const { agent } = await startAgent(`a${i}`, fx.port);
      void agent;
    }
    await db.xadd('nexus:commands:stream', '*', 'selector', '*', 'command_id', 'b1', 'command_type', 'echo', 'payload', 'hi');
    await waitFor('parent finished', async () => (await db.hget('nexus:command:b1', 'state')) === 'succeeded', { timeoutMs: 10_000 }).catch(async (e) => {
      console.log(await db.hgetall('nexus:command:b1'));
      console.log(await readEvents(db));
      throw e;
    });
    const parent = await db.hgetall('nexus:command:b1');
    console.log(parent);
    expect(parent.n_succeeded).toBe('5');
    db.disconnect();
  });
});
