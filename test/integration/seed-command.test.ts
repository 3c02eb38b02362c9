import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent';
import type { Command } from '../../src/generated/nexus/prime/pulse';
import { createLogger } from '../../src/shared/logger';
import { DLQ, groupState } from '../helpers/commands';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';

const run = promisify(execFile);

describe('the seed command from the design, exactly as written', () => {
  const fx = useOrchestrator();

  it('is handled with pending 0 and lag 0, an empty DLQ, and reaches TEST-AGENT when it connects', async () => {
    const { stdout } = await run('redis-cli', ['-p', String(fx.redis.port), 'XADD', 'nexus:commands:stream', '*', 'type', 'command_issued', 'target', 'TEST-AGENT', 'command_id', 'test-001', 'command_type', 'test', 'priority', '5']);
    expect(stdout.trim()).toMatch(/^\d+-\d+$/);
    const db = fx.redis.client();
    await waitFor('pending 0 and lag 0', async () => {
      const g = await groupState(db);
      return g.pending === 0 && g.lag === 0;
    });
    expect(await db.xlen(DLQ)).toBe(0);

    const received: Command[] = [];
    const agent = new Agent({ agentId: 'TEST-AGENT', orchestrator: `127.0.0.1:${fx.port}`, heartbeatIntervalMs: 500 }, { logger: createLogger('silent') });
    agent.handle('test', (ctx) => `ran ${ctx.commandId}`);
    agent.on('execute', (c: Command) => received.push(c));
    agent.start();
    await waitFor('test-001 received', () => received.length > 0);
    expect(received.map((c) => [c.commandId, c.commandType, c.priority, c.attempt])).toEqual([['test-001', 'test', 5, 1]]);
    await waitFor('succeeded', async () => (await db.hget('nexus:command:test-001', 'state')) === 'succeeded');
    expect(await db.hget('nexus:command:test-001', 'output')).toBe('ran test-001');
    expect(await db.xlen(DLQ)).toBe(0);
    await agent.close();
    db.disconnect();
  });
});
