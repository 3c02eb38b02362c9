/**
 * Nexus as its users' tools see it: grpc_health_probe and grpcurl (through the C-core stand-in
 * in ../shared/tools/grpcprobe.py) and a Go client loading reflection descriptors exactly as
 * grpcurl does (../shared/tools/reflectcheck). Run by `npm run test:clients` (and CI), which
 * needs Debian's python3-grpcio and golang packages; `.ci/run` installs them.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../helpers/redis-server';
import { spawnAgent, spawnReplica, type Child } from '../helpers/processes';
import { allAgents, statusClient } from '../helpers/grpc-clients';
import { waitFor } from '../helpers/wait-for';

const run = promisify(execFile);
const TOOLS = join(__dirname, '..', '..', '..', 'shared', 'tools');
const PROBE = join(TOOLS, 'grpcprobe.py');

/** Runs a tool; resolves with exit code and output whatever the code. */
async function tool(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { timeout: 120_000, ...options });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('external clients', () => {
  const redis = new RedisServer();
  let replica: Awaited<ReturnType<typeof spawnReplica>>;
  let agent: Child;
  let addr: string;

  beforeAll(async () => {
    if (!existsSync(PROBE)) throw new Error(`${PROBE} not found: run with ../shared beside the checkout`);
    await redis.start();
    replica = await spawnReplica(redis.url, { REPLICA_ID: 'ext' });
    addr = `127.0.0.1:${replica.port}`;
    agent = spawnAgent(addr, { AGENT_ID: 'ext-agent' });
    const client = statusClient(replica.port);
    await waitFor('agent online', async () => (await allAgents(client)).length === 1);
    client.close();
  });

  afterAll(async () => {
    await agent?.stop();
    await replica?.stop();
    await redis.destroy();
  });

  it('grpc_health_probe: liveness and readiness SERVING, unknown service fails', async () => {
    expect(await tool(PROBE, ['grpc_health_probe', `-addr=${addr}`])).toMatchObject({ code: 0, out: expect.stringContaining('status: SERVING') });
    expect(await tool(PROBE, ['grpc_health_probe', `-addr=${addr}`, '-service=nexus.prime.NexusPulseService'])).toMatchObject({ code: 0 });
    expect((await tool(PROBE, ['grpc_health_probe', `-addr=${addr}`, '-service=nope.Service'])).code).toBe(3);
  });

  it('grpcurl (strict, like the real one): list, describe and call through reflection', async () => {
    const list = await tool(PROBE, ['grpcurl', '-plaintext', addr, 'list']);
    expect(list.code).toBe(0);
    expect(list.out).toContain('nexus.prime.NexusPulseService');
    const describe = await tool(PROBE, ['grpcurl', '-plaintext', addr, 'describe', 'nexus.prime.Hello']);
    expect(describe).toMatchObject({ code: 0, out: expect.stringContaining('map<string, string> labels') });
    expect(describe.out).not.toContain('warning');
    const call = await tool(PROBE, ['grpcurl', '-plaintext', '-d', '{"agentIdPrefix": "ext"}', addr, 'nexus.prime.NexusPulseService/GetSystemStatus']);
    expect(call.code).toBe(0);
    expect(JSON.parse(call.out.slice(call.out.indexOf('{')))).toMatchObject({ answeredBy: 'ext', agents: [{ agentId: 'ext-agent', state: 'AGENT_STATE_ONLINE' }] });
  });

  it('a Go client (protodesc.NewFiles, as grpcurl) accepts the reflection descriptors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflectcheck-'));
    mkdirSync(join(dir, 'src', 'reflectcheck'), { recursive: true });
    cpSync(join(TOOLS, 'reflectcheck', 'main.go'), join(dir, 'src', 'reflectcheck', 'main.go'));
    const env = { ...process.env, GO111MODULE: 'off', GOPATH: `${dir}:/usr/share/gocode`, GOPROXY: 'off', GOCACHE: join(tmpdir(), 'nexus-go-cache') };
    const built = await tool('go', ['build', '-o', join(dir, 'reflectcheck'), '.'], { cwd: join(dir, 'src', 'reflectcheck'), env });
    expect(built).toMatchObject({ code: 0 });
    for (const symbol of ['nexus.prime.NexusPulseService', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']) {
      expect(await tool(join(dir, 'reflectcheck'), [addr, symbol])).toMatchObject({ code: 0, out: expect.stringContaining('ok') });
    }
  });
});
