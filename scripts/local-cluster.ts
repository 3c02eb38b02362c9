#!/usr/bin/env node
/**
 * `npm start`: a working local Nexus cluster on this machine. Redis from REDIS_URL, or a
 * private redis-server (temp dir, free port); three replicas on 50051-50053; three demo
 * agents. Prints where everything is; Ctrl-C stops it all within 10 s and leaves nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import Redis from 'ioredis';
import { NexusPulseServiceClient, type GetSystemStatusResponse } from '../src/generated/nexus/prime/pulse';
import { redactUrl } from '../src/shared/logger';
import { portIsFree } from './lib/free-port';
import { RedisProcess, redisServerAvailable } from './lib/redis-process';

const BASE_PORT = Number(process.env.NEXUS_BASE_PORT ?? 50051);
const METRICS_BASE_PORT = Number(process.env.NEXUS_METRICS_BASE_PORT ?? 9090);
const REPLICAS = 3;
const DEMO_AGENTS = 3;
const STOP_DEADLINE_MS = 9000;
const DIST = join(__dirname, '..', 'src');

interface Proc { name: string; child: ChildProcess }
const procs: Proc[] = [];
let redis: RedisProcess | undefined;
let stopping: Promise<void> | undefined;

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** One compact line per JSON log line of a child: `12:00:01 r1     info  agent connected agentId=A1`. */
function relay(name: string, chunk: Buffer): void {
  for (const line of chunk.toString().split('\n')) {
    if (!line.trim()) continue;
    try {
      const { time, level, msg, pid: _p, replica: _r, component: _c, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      say(`${String(time).slice(11, 19)} ${name.padEnd(6)} ${String(level).padEnd(5)} ${msg} ${fields}`);
    } catch {
      say(`${name.padEnd(15)} ${line}`);
    }
  }
}

function launch(name: string, script: string, env: Record<string, string>): void {
  // detached: a terminal's Ctrl-C signals the whole foreground process group; the children
  // must hear only our orderly SIGTERM, not the SIGINT as well.
  const child = spawn(process.execPath, [join(DIST, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout?.on('data', (c: Buffer) => relay(name, c));
  child.stderr?.on('data', (c: Buffer) => relay(name, c));
  child.on('exit', (code, signal) => {
    if (!stopping) say(`!! ${name} exited unexpectedly (code ${code}, signal ${signal}); the rest keeps running`);
  });
  procs.push({ name, child });
}

async function resolveRedis(): Promise<string> {
  const url = process.env.REDIS_URL;
  if (url) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      throw new Error(`REDIS_URL=${redactUrl(url)} is not reachable: ${(err as Error).message}`);
    } finally {
      client.disconnect();
    }
    return url;
  }
  if (!redisServerAvailable()) {
    throw new Error([
      'No Redis: set REDIS_URL=redis://host:port, or install redis-server so this script can start a private one:',
      '  Debian/Ubuntu: sudo apt-get install -y redis-server',
      '  macOS:         brew install redis',
    ].join('\n'));
  }
  redis = await new RedisProcess('aof').start();
  return redis.url;
}

function status(port: number): Promise<GetSystemStatusResponse> {
  const client = new NexusPulseServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const request = { state: 0, replicaId: '', agentType: '', agentIdPrefix: '', pageSize: 0, pageToken: '', summaryOnly: false };
  return new Promise<GetSystemStatusResponse>((resolve, reject) => {
    client.getSystemStatus(request, (err, res) => (err ? reject(err) : resolve(res)));
  }).finally(() => client.close());
}

async function waitForCluster(port: number, agents: number, timeoutMs: number): Promise<GetSystemStatusResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = await status(port);
      if (s.replicas.filter((r) => r.ready).length === REPLICAS && s.agentCounts?.online === agents) return s;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the cluster did not come up within ${timeoutMs / 1000} s (see the log lines above)`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Agents first (they say goodbye), then replicas (drain), then Redis; SIGKILL at the deadline. */
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    say('\nstopping the local cluster ...');
    const killer = setTimeout(() => procs.forEach((p) => p.child.kill('SIGKILL')), STOP_DEADLINE_MS - 1500);
    const exit = (p: Proc) => (p.child.exitCode !== null || p.child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.child.once('exit', () => r())));
    for (const group of [procs.filter((p) => p.name.startsWith('agents')), procs.filter((p) => !p.name.startsWith('agents'))]) {
      group.forEach((p) => p.child.kill('SIGTERM'));
      await Promise.all(group.map(exit));
    }
    clearTimeout(killer);
    await redis?.destroy();
    say('stopped: no processes or temp dirs left behind.');
  })();
  return stopping;
}

async function main(): Promise<void> {
  const ports = Array.from({ length: REPLICAS }, (_, i) => BASE_PORT + i);
  const metricsPorts = Array.from({ length: REPLICAS }, (_, i) => METRICS_BASE_PORT + i);
  for (const port of [...ports, ...metricsPorts]) {
    if (!(await portIsFree(port))) throw new Error(`port ${port} is in use: stop what holds it, or set NEXUS_BASE_PORT / NEXUS_METRICS_BASE_PORT`);
  }
  const redisUrl = await resolveRedis();
  ports.forEach((port, i) =>
    launch(`r${i + 1}`, 'orchestrator/main.js', {
      REDIS_URL: redisUrl,
      GRPC_PORT: String(port),
      METRICS_PORT: String(metricsPorts[i]),
      REPLICA_ID: `r${i + 1}`,
      ADVERTISE_ADDRESS: `localhost:${port}`,
      // Quick demo timings: a Ctrl-C must finish within 10 s.
      DRAIN_WINDOW_MS: '1000',
      SHUTDOWN_GRACE_MS: '4000',
      STALENESS_THRESHOLD_SEC: '15',
      STALENESS_CHECK_INTERVAL: '5',
    }),
  );
  await waitForCluster(ports[0], 0, 30_000);
  launch('agents', 'agent/main.js', {
    AGENT_ID: 'demo-agent',
    AGENT_COUNT: String(DEMO_AGENTS),
    AGENT_TYPE: 'demo',
    ORCHESTRATOR_HOST: `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    HEARTBEAT_INTERVAL: '5',
  });
  const s = await waitForCluster(ports[0], DEMO_AGENTS, 30_000);
  const redisPort = new URL(redisUrl).port || '6379';
  const redisHost = new URL(redisUrl).hostname;
  say([
    '',
    '=== Nexus local cluster is up ===',
    `Redis     ${redactUrl(redisUrl)}${redis ? `  (private, data in ${redis.dir})` : ''}`,
    ...ports.map((port, i) => `Replica   r${i + 1}  gRPC localhost:${port}  metrics http://localhost:${metricsPorts[i]}/metrics`),
    `Agents    ${s.agents.map((a) => `${a.agentId}@${a.replicaId}`).join('  ')}`,
    '',
    'Try (grpcurl, grpc_health_probe and redis-cli from your PATH):',
    `  grpcurl -plaintext localhost:${ports[0]} list`,
    `  grpcurl -plaintext -d '{}' localhost:${ports[1]} nexus.prime.NexusPulseService/GetSystemStatus`,
    `  grpc_health_probe -addr=localhost:${ports[2]} -service=nexus.prime.NexusPulseService`,
    `  redis-cli -h ${redisHost} -p ${redisPort} XADD nexus:commands:stream '*' target ${s.agents[0]?.agentId ?? 'demo-agent-1'} command_id hello-1 command_type echo payload hello`,
    `  grpcurl -plaintext -d '{"commandId":"hello-1"}' localhost:${ports[0]} nexus.prime.NexusPulseService/GetCommand`,
    `  redis-cli -h ${redisHost} -p ${redisPort} XREVRANGE nexus:commands:dlq + - COUNT 5`,
    `  redis-cli -h ${redisHost} -p ${redisPort} XREVRANGE nexus:events:stream + - COUNT 5`,
    `  redis-cli -h ${redisHost} -p ${redisPort} XREAD BLOCK 0 STREAMS nexus:events:stream '$'`,
    `  curl -s localhost:${metricsPorts[0]}/metrics | grep ^nexus_`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n'));
}

process.on('SIGINT', () => void stopAll().then(() => process.exit(0)));
process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));
main().catch(async (err: Error) => {
  process.stderr.write(`nexus local cluster: ${err.message}\n`);
  await stopAll();
  process.exit(1);
});
