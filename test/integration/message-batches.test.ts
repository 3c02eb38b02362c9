import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import { CommandOutcome, NexusPulseServiceClient, type Command, type OrchestratorMessage } from '../../src/generated/nexus/prime/pulse';
import type { Orchestrator } from '../../src/orchestrator/orchestrator';
import { xaddMany } from '../helpers/commands';
import { startOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

/**
 * Several commands in one message go only to agents whose hello says they take them, and an
 * orchestrator that says so in its welcome applies a batch of results like single ones.
 */
describe('command and result batches on the Pulse stream', () => {
  const redis = new RedisServer();
  let orchestrator: Orchestrator;
  let port: number;
  let db: Redis;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    ({ orchestrator, grpcPort: port } = await startOrchestrator(redis.url, { REPLICA_ID: 'r1' }));
  });

  afterAll(async () => {
    await orchestrator?.shutdown();
    db?.disconnect();
    await redis.destroy();
  });

  /** A raw Pulse stream for `agentId`; collects what the orchestrator sends. */
  function connect(agentId: string, acceptsCommandBatches: boolean) {
    const client = new NexusPulseServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    const call = client.pulse();
    const received: OrchestratorMessage[] = [];
    call.on('data', (m: OrchestratorMessage) => received.push(m));
    call.on('error', () => undefined);
    call.write({ kind: { $case: 'hello', hello: { agentId, agentType: 't', displayName: '', capabilities: [], labels: {}, version: '1', maxConcurrency: 4, acceptsCommandBatches } } });
    const commands = () => received.flatMap((m) => (m.kind?.$case === 'command' ? [m.kind.command] : m.kind?.$case === 'commands' ? m.kind.commands.commands : []));
    return { client, call, received, commands };
  }

  const succeeded = (c: Command) => ({ commandId: c.commandId, attempt: c.attempt, outcome: CommandOutcome.COMMAND_OUTCOME_SUCCEEDED, output: 'done', error: '', durationMs: 1, permanent: false });

  it('batches commands only for an agent that takes them, and applies a batch of results', async () => {
    const issue = (target: string, id: string) => ['target', target, 'command_id', id, 'command_type', 'echo'];
    await xaddMany(db, [issue('batchy', 'b-1'), issue('batchy', 'b-2'), issue('batchy', 'b-3'), issue('plain', 'p-1'), issue('plain', 'p-2'), issue('plain', 'p-3')]);
    await waitFor('all six queued', async () => Number(await db.hget('nexus:commands:counts', 'queued')) === 6);

    const batchy = connect('batchy', true);
    const plain = connect('plain', false);
    try {
      await waitFor('three commands each', () => batchy.commands().length === 3 && plain.commands().length === 3);
      const kinds = (received: OrchestratorMessage[]) => received.map((m) => m.kind?.$case).filter((k) => k !== 'welcome' && k !== 'ping');
      expect(batchy.received.find((m) => m.kind?.$case === 'welcome')?.kind).toMatchObject({ welcome: { acceptsResultBatches: true } });
      expect(kinds(batchy.received)).toEqual(['commands']);
      expect(kinds(plain.received)).toEqual(['command', 'command', 'command']);
      expect(batchy.commands().map((c) => c.commandId).sort()).toEqual(['b-1', 'b-2', 'b-3']);

      batchy.call.write({ kind: { $case: 'commandResults', commandResults: { results: batchy.commands().map(succeeded) } } });
      for (const c of plain.commands()) plain.call.write({ kind: { $case: 'commandResult', commandResult: succeeded(c) } });
      await waitFor('all six succeeded', async () => Number(await db.hget('nexus:commands:counts', 'succeeded')) === 6);
      expect(await db.hget('nexus:command:b-2', 'output')).toBe('done');
    } finally {
      for (const { call, client } of [batchy, plain]) {
        call.end();
        client.close();
      }
    }
  });
});
