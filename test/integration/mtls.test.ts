import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status, type ChannelCredentials, type StatusObject } from '@grpc/grpc-js';
import { Agent } from '../../src/agent/agent';
import { NexusPulseServiceClient, type AgentMessage, type OrchestratorMessage } from '../../src/generated/nexus/prime/pulse';
import type { Orchestrator } from '../../src/orchestrator/orchestrator';
import { createLogger } from '../../src/shared/logger';
import { TestPki } from '../helpers/certs';
import { allAgents } from '../helpers/grpc-clients';
import { startOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const hello = (agentId: string): AgentMessage => ({
  kind: { $case: 'hello', hello: { agentId, agentType: 't', displayName: '', capabilities: [], labels: {}, version: '1', maxConcurrency: 1, acceptsCommandBatches: false } },
});

/** Says hello with `creds`; resolves with the final status and every message received. */
function attempt(port: number, creds: ChannelCredentials, agentId: string): Promise<{ status: StatusObject; received: OrchestratorMessage[] }> {
  const client = new NexusPulseServiceClient(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'localhost' });
  const call = client.pulse();
  const received: OrchestratorMessage[] = [];
  call.on('data', (m: OrchestratorMessage) => {
    received.push(m);
    call.end();
  });
  call.on('error', () => undefined);
  call.write(hello(agentId));
  return new Promise((resolve) => call.on('status', (s) => {
    client.close();
    resolve({ status: s, received });
  }));
}

describe('mutual TLS: the certificate, not the hello, names the agent', () => {
  const redis = new RedisServer();
  const pki = new TestPki('nexus-ca');
  const foreign = new TestPki('foreign-ca');
  let orchestrator: Orchestrator;
  let port: number;
  const mine = (file: string) => credentials.createSsl(pki.read('nexus-ca.pem'), pki.read(`${file}.key`), pki.read(`${file}.pem`));

  beforeAll(async () => {
    await redis.start();
    const server = pki.issue('server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
    pki.issue('a1', 'ignored-cn', 'URI:spiffe://nexus/agent/A1');
    pki.issue('b1', 'B1');
    pki.issue('viewer', 'v', 'URI:spiffe://nexus/viewer/status-reader');
    foreign.issue('a1', 'A1', 'URI:spiffe://nexus/agent/A1');
    ({ orchestrator, grpcPort: port } = await startOrchestrator(redis.url, { TLS_CERT: server.cert, TLS_KEY: server.key, TLS_CA: pki.path('nexus-ca.pem') }));
  });

  afterAll(async () => {
    await orchestrator?.shutdown();
    await redis.destroy();
    pki.destroy();
    foreign.destroy();
  });

  it('accepts a hello whose agent_id matches the SAN URI, or the CN when there is no SAN URI', async () => {
    expect((await attempt(port, mine('a1'), 'A1')).received[0]?.kind?.$case).toBe('welcome');
    expect((await attempt(port, mine('b1'), 'B1')).received[0]?.kind?.$case).toBe('welcome');
  });

  it('refuses a certified agent claiming another id with PERMISSION_DENIED before any directive', async () => {
    const forged = await attempt(port, mine('a1'), 'A2');
    expect(forged.status.code).toBe(status.PERMISSION_DENIED);
    expect(forged.status.details).toMatch(/does not match the client certificate/);
    expect(forged.received).toEqual([]);
  });

  it.each([
    ['plaintext', () => credentials.createInsecure()],
    ['TLS without a client certificate', () => credentials.createSsl(pki.read('nexus-ca.pem'))],
    ['a client certificate from a foreign CA', () => credentials.createSsl(pki.read('nexus-ca.pem'), foreign.read('a1.key'), foreign.read('a1.pem'))],
  ])('refuses %s at the handshake', async (_name, creds) => {
    const refused = await attempt(port, creds(), 'A1');
    expect(refused.status.code).toBe(status.UNAVAILABLE);
    expect(refused.received).toEqual([]);
  });

  it('an agent with its certificate connects and shows up in status', async () => {
    const agent = new Agent(
      { agentId: 'A1', orchestrator: `127.0.0.1:${port}`, tls: { ca: pki.read('nexus-ca.pem'), cert: pki.read('a1.pem'), key: pki.read('a1.key'), serverName: 'localhost' } },
      { logger: createLogger('silent') },
    );
    const welcomed = new Promise((resolve) => agent.once('welcome', resolve));
    agent.start();
    await welcomed;
    // Status is a read RPC: a viewer certificate (an agent's may only pulse; docs/roles.md).
    const statusClient = new NexusPulseServiceClient(`127.0.0.1:${port}`, mine('viewer'), { 'grpc.ssl_target_name_override': 'localhost' });
    await waitFor('A1 online', async () => (await allAgents(statusClient, { agentIdPrefix: 'A1' }))[0]?.state === 1);
    statusClient.close();
    await agent.close();
  });
});
