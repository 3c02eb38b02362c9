import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status, type ChannelCredentials } from '@grpc/grpc-js';
import type { Orchestrator } from '../../src/orchestrator/orchestrator';
import { mayCall, rpcName, RPC_ROLES, type RpcKey } from '../../src/orchestrator/auth/rpc-roles';
import { TestPki } from '../helpers/certs';
import { startOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { AUTH_CODES, probeRpc } from '../helpers/rpc-probe';

/** Who calls: a certificate file of the test PKI (undefined: no client certificate at all). */
const CALLERS = [
  { who: 'agent A1', file: 'agent', role: 'agent', agentId: 'A1' },
  { who: 'agent by CN (B1)', file: 'cn-agent', role: 'agent', agentId: 'B1' },
  { who: 'viewer bob', file: 'viewer', role: 'viewer', agentId: 'bob' },
  { who: 'operator alice', file: 'operator', role: 'operator', agentId: 'stand-in-1' },
  { who: 'foreign role robot/r2', file: 'robot', role: 'robot', agentId: 'r2' },
  { who: 'a certificate naming nobody (no CN, no nexus SAN URI)', file: 'nobody', role: 'unknown', agentId: 'n' },
  { who: 'no client certificate', file: undefined, role: 'none', agentId: 'x' },
] as const;

const KEYS = Object.keys(RPC_ROLES) as RpcKey[];

describe('roles over real mutual TLS: every role against every RPC', () => {
  const redis = new RedisServer();
  const pki = new TestPki('nexus-ca');
  let orchestrator: Orchestrator;
  let address: string;
  const creds = (file: string | undefined): ChannelCredentials =>
    file ? credentials.createSsl(pki.read('nexus-ca.pem'), pki.read(`${file}.key`), pki.read(`${file}.pem`)) : credentials.createSsl(pki.read('nexus-ca.pem'));
  const channel = { 'grpc.ssl_target_name_override': 'localhost' };

  beforeAll(async () => {
    await redis.start();
    const server = pki.issue('server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
    pki.issue('agent', 'ignored-cn', 'URI:spiffe://nexus/agent/A1');
    pki.issue('cn-agent', 'B1');
    pki.issue('viewer', 'bob-cn', 'URI:spiffe://nexus/viewer/bob');
    pki.issue('operator', 'alice-cn', 'URI:spiffe://nexus/operator/alice');
    pki.issue('robot', 'r2-cn', 'URI:spiffe://nexus/robot/r2');
    pki.issue('nobody', '', 'DNS:nobody.example');
    let grpcPort: number;
    ({ orchestrator, grpcPort } = await startOrchestrator(redis.url, { TLS_CERT: server.cert, TLS_KEY: server.key, TLS_CA: pki.path('nexus-ca.pem') }));
    address = `127.0.0.1:${grpcPort}`;
  });

  afterAll(async () => {
    await orchestrator?.shutdown();
    await redis.destroy();
    pki.destroy();
  });

  for (const caller of CALLERS) {
    it(`${caller.who}: exactly the RPCs of the table`, async () => {
      const seen: Record<string, string> = {};
      const wanted: Record<string, string> = {};
      for (const key of KEYS) {
        const outcome = await probeRpc(address, creds(caller.file), key, { agentId: caller.agentId, channel });
        const through = !AUTH_CODES.includes(outcome.code) && outcome.code !== status.UNAVAILABLE;
        seen[rpcName(key)] = through ? 'through' : status[outcome.code];
        // Without a client certificate the handshake itself fails: UNAVAILABLE, before any RPC.
        wanted[rpcName(key)] = caller.file === undefined ? 'UNAVAILABLE' : mayCall(caller.role, key) ? 'through' : 'PERMISSION_DENIED';
        if (seen[rpcName(key)] === 'PERMISSION_DENIED') {
          expect(outcome.details).toContain(`role ${caller.role}`);
          expect(outcome.details).toContain(rpcName(key));
        }
      }
      expect(seen).toEqual(wanted);
    });
  }

  it('an agent certificate may pulse only as the agent it names; an operator may stand in for any', async () => {
    const forged = await probeRpc(address, creds('agent'), 'pulse', { agentId: 'A2', channel });
    expect(forged.code).toBe(status.PERMISSION_DENIED);
    expect(forged.details).toMatch(/does not match the client certificate identity/);
    expect((await probeRpc(address, creds('operator'), 'pulse', { agentId: 'stand-in-2', channel })).code).toBe(status.OK);
  });

  it('SubmitCommand from an agent certificate: PERMISSION_DENIED naming the role and the RPC', async () => {
    const refused = await probeRpc(address, creds('agent'), 'submitCommand', { channel });
    expect(refused).toEqual({ code: status.PERMISSION_DENIED, details: 'role agent (agent/A1) may not call SubmitCommand (needs operator)' });
  });
});
