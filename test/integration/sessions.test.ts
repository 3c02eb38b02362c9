import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status } from '@grpc/grpc-js';
import { Agent } from '../../src/agent/agent';
import type { SessionOutcome } from '../../src/agent/pulse-session';
import { AgentState, NexusPulseServiceClient, type AgentMessage, type OrchestratorMessage } from '../../src/generated/nexus/prime/pulse';
import type { Orchestrator } from '../../src/orchestrator/orchestrator';
import { createLogger } from '../../src/shared/logger';
import { allAgents, statusClient } from '../helpers/grpc-clients';
import { startOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const quiet = { logger: createLogger('silent') };

function agent(id: string, port: number): Agent {
  return new Agent({ agentId: id, orchestrator: `127.0.0.1:${port}`, heartbeatIntervalMs: 200, initialBackoffMs: 50, maxBackoffMs: 200 }, quiet);
}

function welcomed(a: Agent): Promise<unknown> {
  return new Promise((resolve) => a.once('welcome', resolve));
}

function disconnected(a: Agent): Promise<SessionOutcome> {
  return new Promise((resolve) => a.once('disconnected', resolve));
}

/** Opens a raw Pulse stream, sends `messages`, and resolves with how the stream ended. */
function rawPulse(port: number, messages: AgentMessage[]): Promise<{ code: number; details: string; received: OrchestratorMessage[] }> {
  const client = new NexusPulseServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const call = client.pulse();
  const received: OrchestratorMessage[] = [];
  call.on('data', (m: OrchestratorMessage) => received.push(m));
  for (const m of messages) call.write(m);
  return new Promise((resolve) => {
    call.on('error', () => undefined);
    call.on('status', (s) => {
      client.close();
      resolve({ code: s.code, details: s.details, received });
    });
  });
}

const hello = (agentId: string, extra: Partial<{ displayName: string }> = {}): AgentMessage => ({
  kind: { $case: 'hello', hello: { agentId, agentType: 't', displayName: '', capabilities: [], labels: {}, version: '1', maxConcurrency: 1, acceptsCommandBatches: false, ...extra } },
});

describe('sessions', () => {
  const redis = new RedisServer();
  let r1: Orchestrator;
  let r2: Orchestrator;
  let p1: number;
  let p2: number;
  const agents: Agent[] = [];

  beforeAll(async () => {
    await redis.start();
    ({ orchestrator: r1, grpcPort: p1 } = await startOrchestrator(redis.url, { REPLICA_ID: 'r1', HELLO_TIMEOUT_MS: '300' }));
    ({ orchestrator: r2, grpcPort: p2 } = await startOrchestrator(redis.url, { REPLICA_ID: 'r2' }));
  });

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
  });

  afterAll(async () => {
    await Promise.all([r1?.shutdown(), r2?.shutdown()]);
    await redis.destroy();
  });

  it('a second session with the same id on another replica replaces the first', async () => {
    const first = agent('dup', p1);
    agents.push(first);
    first.start();
    await welcomed(first);
    const firstLeft = disconnected(first);

    const second = agent('dup', p2);
    agents.push(second);
    second.start();
    await welcomed(second);
    const outcome = await firstLeft;
    await first.close(); // a real duplicate would fight back; this test checks one takeover
    // Replaced is not healthy: a duplicate's backoff keeps growing instead of resetting.
    expect(outcome).toMatchObject({ kind: 'failed', code: status.ABORTED, healthy: false });

    const client = statusClient(p1);
    await waitFor('dup held by r2 only', async () => {
      const [a] = await allAgents(client, { agentIdPrefix: 'dup' });
      return a?.replicaId === 'r2' && a.state === AgentState.AGENT_STATE_ONLINE && r1.sessions.get('dup') === undefined && r2.sessions.get('dup') !== undefined;
    });
    client.close();
  });

  it('a second session with the same id on the same replica replaces the first', async () => {
    const first = agent('twin', p1);
    const second = agent('twin', p1);
    agents.push(first, second);
    first.start();
    await welcomed(first);
    const firstLeft = disconnected(first);
    second.start();
    await welcomed(second);
    expect(await firstLeft).toMatchObject({ kind: 'failed', code: status.ABORTED });
    await first.close();
    expect(r1.sessions.size).toBeGreaterThan(0);
    const session = r1.sessions.get('twin');
    const [record] = await allAgents(statusClient(p1), { agentIdPrefix: 'twin' });
    expect(record.sessionId).toBe(session?.sessionId);
  });

  it.each([
    ['a stream that does not start with hello', [{ kind: { $case: 'heartbeat', heartbeat: { metrics: undefined, activeCommands: 0 } } }], status.FAILED_PRECONDITION, /first message/],
    ['an empty agent id', [hello('')], status.INVALID_ARGUMENT, /empty/],
    ['an oversized agent id', [hello('x'.repeat(200))], status.INVALID_ARGUMENT, /longer than/],
    ['an agent id with spaces', [hello('a b')], status.INVALID_ARGUMENT, /letters/],
    ['no hello at all (deadline)', [], status.FAILED_PRECONDITION, /no hello within/],
    ['a message above the size limit', [hello('big', { displayName: 'x'.repeat(2 * 1024 * 1024) })], status.RESOURCE_EXHAUSTED, /./],
  ] as [string, AgentMessage[], number, RegExp][])('ends %s with a status and keeps serving', async (_name, messages, code, details) => {
    const ended = await rawPulse(p1, messages);
    expect(ended.code).toBe(code);
    expect(ended.details).toMatch(details);
    expect(ended.received).toEqual([]);
    // The replica still serves: a normal agent connects.
    const ok = agent('after-bad-input', p1);
    agents.push(ok);
    ok.start();
    await welcomed(ok);
  });

  it('answers a second hello on a live stream with FAILED_PRECONDITION', async () => {
    const ended = await rawPulse(p1, [hello('double'), hello('double')]);
    expect(ended.code).toBe(status.FAILED_PRECONDITION);
    expect(ended.received[0]?.kind?.$case).toBe('welcome');
  });
});
