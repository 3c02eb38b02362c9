import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import Redis from 'ioredis';
import { ServerReflectionClient, type ServerReflectionResponse } from '../../src/generated/grpc/reflection/v1/reflection';
import { GetCommandRequest, NexusPulseServiceClient, SubmitCommandRequest, type GetCommandResponse } from '../../src/generated/nexus/prime/pulse';
import { mayCall, rpcName, RPC_ROLES, type RpcKey } from '../../src/orchestrator/auth/rpc-roles';
import { checkHealth, healthClient } from '../helpers/grpc-clients';
import { readEvents } from '../helpers/events';
import { AGENT_BIN, ORCHESTRATOR_BIN, spawnAgent, spawnReplica, type Child } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { AUTH_CODES, probeRpc } from '../helpers/rpc-probe';
import { waitFor } from '../helpers/wait-for';

const run = promisify(execFile);
const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const KEYS = Object.keys(RPC_ROLES) as RpcKey[];

/** Tokens of the test file: long random-looking values, so finding one in a log is meaningful. */
const TOKENS = { agent: 'tok-agent-7f3a9c1e5b', viewer: 'tok-viewer-2d8e4f6a0c', operator: 'tok-operator-9b1c3e5d7f', stranger: 'tok-stranger-4a6c8e0b2d' };

const CALLERS = [
  { who: 'agent agent-1', token: TOKENS.agent, role: 'agent', agentId: 'agent-1' },
  { who: 'viewer bob', token: TOKENS.viewer, role: 'viewer', agentId: 'bob' },
  { who: 'operator alice', token: TOKENS.operator, role: 'operator', agentId: 'stand-in-1' },
  { who: 'an unknown token', token: TOKENS.stranger, role: 'stranger', agentId: 'x' },
  { who: 'no token', token: undefined, role: 'none', agentId: 'x' },
] as const;

/** Runs a built binary to its exit; a non-zero exit is returned, not thrown. */
async function runBin(bin: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [bin], { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stderr: e.stderr ?? '' };
  }
}

async function metric(port: number, name: string): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
}

describe('roles over bearer tokens (AUTH_TOKENS_FILE, plaintext gRPC)', () => {
  const redis = new RedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'nexus-tokens-'));
  let replica: Child & { port: number; metricsPort: number };
  let agent: Child | undefined;
  let address: string;
  let client: NexusPulseServiceClient;
  const bearer = (token: string) => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${token}`);
    return m;
  };

  beforeAll(async () => {
    await redis.start();
    writeFileSync(join(dir, 'tokens'), [
      '# role name sha256-of-token',
      `agent agent-1 ${sha(TOKENS.agent)}`,
      '',
      `viewer bob ${sha(TOKENS.viewer)}`,
      `operator alice ${sha(TOKENS.operator)}`,
    ].join('\n'));
    writeFileSync(join(dir, 'agent-token'), `${TOKENS.agent}\n`);
    replica = await spawnReplica(redis.url, { AUTH_TOKENS_FILE: join(dir, 'tokens'), LOG_LEVEL: 'debug' });
    address = `127.0.0.1:${replica.port}`;
    client = new NexusPulseServiceClient(address, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await agent?.stop();
    await replica?.stop();
    await redis.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const caller of CALLERS) {
    it(`${caller.who}: exactly the RPCs of the table`, async () => {
      const seen: Record<string, string> = {};
      const wanted: Record<string, string> = {};
      for (const key of KEYS) {
        const outcome = await probeRpc(address, credentials.createInsecure(), key, { token: caller.token, agentId: caller.agentId });
        seen[rpcName(key)] = AUTH_CODES.includes(outcome.code) ? status[outcome.code] : 'through';
        wanted[rpcName(key)] = caller.role === 'none' || caller.role === 'stranger' ? 'UNAUTHENTICATED' : mayCall(caller.role, key) ? 'through' : 'PERMISSION_DENIED';
        if (outcome.code === status.PERMISSION_DENIED) expect(outcome.details).toContain(`role ${caller.role} (${caller.role}/`);
        if (outcome.code === status.UNAUTHENTICATED) expect(outcome.details).toMatch(caller.token ? /unknown bearer token/ : /missing "authorization: Bearer <token>"/);
      }
      expect(seen).toEqual(wanted);
    });
  }

  it('an agent token may pulse only as the agent it names', async () => {
    const forged = await probeRpc(address, credentials.createInsecure(), 'pulse', { token: TOKENS.agent, agentId: 'agent-2' });
    expect(forged).toEqual({ code: status.PERMISSION_DENIED, details: "agent_id agent-2 does not match the bearer token's name" });
  });

  it('health and reflection stay open', async () => {
    const health = healthClient(replica.port);
    expect(await checkHealth(health, '')).toBe('SERVING');
    health.close();
    const reflection = new ServerReflectionClient(address, credentials.createInsecure());
    const listed = await new Promise<ServerReflectionResponse>((resolve, reject) => {
      const call = reflection.serverReflectionInfo();
      call.on('data', (r: ServerReflectionResponse) => {
        resolve(r);
        call.end();
      });
      call.on('error', reject);
      call.write({ host: '', messageRequest: { $case: 'listServices', listServices: '' } });
    });
    reflection.close();
    expect(listed.messageResponse?.$case).toBe('listServicesResponse');
  });

  it('the agent binary sends the token of AUTH_TOKEN_FILE and is welcomed', async () => {
    agent = spawnAgent(`127.0.0.1:${replica.port}`, { AGENT_ID: 'agent-1', AUTH_TOKEN_FILE: join(dir, 'agent-token'), LOG_LEVEL: 'debug' });
    await waitFor('agent-1 online', async () => {
      const res = await new Promise<number | undefined>((resolve, reject) =>
        client.getSystemStatus({ state: 0, replicaId: '', agentType: '', agentIdPrefix: 'agent-1', pageSize: 0, pageToken: '', summaryOnly: false, selector: '' }, bearer(TOKENS.viewer), (err, r) => (err ? reject(err) : resolve(r.agents[0]?.state))));
      return res === 1;
    });
  });

  it('SubmitCommand by an operator records "by operator/alice" in the timeline and the command_queued event', async () => {
    const submitted = await new Promise<string>((resolve, reject) =>
      client.submitCommand(SubmitCommandRequest.fromPartial({ target: 'agent-1', commandType: 'echo', commandId: 'by-alice-1', payload: 'hi' }), bearer(TOKENS.operator), (err, r) => (err ? reject(err) : resolve(r.commandId))));
    expect(submitted).toBe('by-alice-1');
    const getCommand = () => new Promise<GetCommandResponse>((resolve, reject) => client.getCommand(GetCommandRequest.fromPartial({ commandId: 'by-alice-1' }), bearer(TOKENS.viewer), (err, r) => (err ? reject(err) : resolve(r))));
    const record = await waitFor('by-alice-1 queued', async () => {
      try {
        const r = await getCommand();
        return r.timeline.some((s) => s.event === 'queued') ? r : undefined;
      } catch (err) {
        if ((err as { code?: number }).code === status.NOT_FOUND) return undefined;
        throw err;
      }
    });
    expect(record.timeline.find((s) => s.event === 'queued')?.detail).toBe('by operator/alice');
    expect(record.submittedBy).toBe('operator/alice');
    const reader = new Redis(redis.url);
    const events = await readEvents(reader);
    reader.disconnect();
    expect(events.filter((e) => e.type === 'command_queued' && e.command_id === 'by-alice-1').map((e) => e.by)).toEqual(['operator/alice']);
  });

  it('exports nexus_auth_open 0 and counts refusals; no token and no hash ever appears in the logs', async () => {
    expect(await metric(replica.metricsPort, 'nexus_auth_open')).toEqual([expect.stringMatching(/^nexus_auth_open\{.*\} 0$/)]);
    expect((await metric(replica.metricsPort, 'nexus_auth_denied_total')).join('\n')).toMatch(/code="PERMISSION_DENIED".* \d+/);
    const logs = [...replica.output, ...(agent?.output ?? [])].join('\n');
    expect(logs).toContain('auth by bearer tokens');
    for (const token of Object.values(TOKENS)) {
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(sha(token));
    }
  });
});

describe('an open replica (neither TLS_CA nor AUTH_TOKENS_FILE)', () => {
  const redis = new RedisServer();
  let replica: Child & { port: number; metricsPort: number };

  beforeAll(async () => {
    await redis.start();
    replica = await spawnReplica(redis.url, {});
  });

  afterAll(async () => {
    await replica?.stop();
    await redis.destroy();
  });

  it('says so once at start with a warning, exports nexus_auth_open 1, and lets anyone call anything', async () => {
    const warnings = replica.json().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('auth is open'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].level).toBe('warn');
    expect(await metric(replica.metricsPort, 'nexus_auth_open')).toEqual([expect.stringMatching(/^nexus_auth_open\{.*\} 1$/)]);
    for (const key of KEYS) expect([key, AUTH_CODES.includes((await probeRpc(`127.0.0.1:${replica.port}`, credentials.createInsecure(), key)).code)]).toEqual([key, false]);
  });
});

describe('a bad tokens file stops the process at start, naming AUTH_TOKENS_FILE and the line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-badtokens-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['an unknown role', `viewer bob ${sha('b')}\nroot eve ${sha('e')}\n`, 'AUTH_TOKENS_FILE: line 2: unknown role "root" (one of agent, viewer, operator)'],
    ['a bad hash', `# tokens\n\noperator alice not-a-hash\n`, 'AUTH_TOKENS_FILE: line 3: the hash must be 64 hex digits (printf %s "$TOKEN" | sha256sum)'],
    ['a bad line', `operator alice\n`, 'AUTH_TOKENS_FILE: line 1: expected "<role> <name> <sha256 hex>", got 2 field(s)'],
  ])('%s', async (_name, text, message) => {
    const file = join(dir, `t-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, text);
    const result = await runBin(ORCHESTRATOR_BIN, { AUTH_TOKENS_FILE: file, GRPC_PORT: '0', METRICS_PORT: '0' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`nexus-orchestrator: invalid configuration: ${message}`);
  });

  it('an unreadable file, and an agent whose AUTH_TOKEN_FILE is missing', async () => {
    const orchestrator = await runBin(ORCHESTRATOR_BIN, { AUTH_TOKENS_FILE: join(dir, 'missing'), GRPC_PORT: '0', METRICS_PORT: '0' });
    expect([orchestrator.code, orchestrator.stderr.trim()]).toEqual([1, `nexus-orchestrator: invalid configuration: AUTH_TOKENS_FILE: cannot read ${join(dir, 'missing')}: ENOENT`]);
    const agent = await runBin(AGENT_BIN, { AUTH_TOKEN_FILE: join(dir, 'missing') });
    expect([agent.code, agent.stderr.trim()]).toEqual([1, `nexus-agent: invalid configuration: AUTH_TOKEN_FILE: cannot read ${join(dir, 'missing')}: ENOENT`]);
  });
});
