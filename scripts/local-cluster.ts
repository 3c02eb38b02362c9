#!/usr/bin/env node
/**
 * `npm start`: a working local Nexus cluster on this machine. Redis from REDIS_URL, or a
 * private redis-server (temp dir, port 6390); three replicas on 50051-50053 (web consoles on
 * 8080-8082); three demo agents. Prints where everything is; Ctrl-C (or a closing terminal, or kill) stops it all
 * within 10 s and leaves nothing; so does every other ending (see lib/cluster-supervisor.ts).
 */
import { credentials } from '@grpc/grpc-js';
import Redis from 'ioredis';
import { NexusPulseServiceClient, type GetSystemStatusResponse } from '../src/generated/nexus/prime/pulse';
import { redactUrl } from '../src/shared/logger';
import { ClusterSupervisor } from './lib/cluster-supervisor';
import { portIsFree } from './lib/free-port';
import { redisServerAvailable } from './lib/redis-process';
import { exit, guardOutput, say } from './lib/terminal';

const BASE_PORT = Number(process.env.NEXUS_BASE_PORT ?? 50051);
const METRICS_BASE_PORT = Number(process.env.NEXUS_METRICS_BASE_PORT ?? 9090);
const CONSOLE_BASE_PORT = Number(process.env.NEXUS_CONSOLE_BASE_PORT ?? 8080);
/** The private Redis' port: fixed, so the lines in the README paste as they are. */
const REDIS_PORT = Number(process.env.NEXUS_REDIS_PORT ?? 6390);
const REPLICAS = 3;
const DEMO_AGENTS = 3;

// A closed terminal (SIGHUP) must never stop a cleanup: output to it fails from then on.
guardOutput();
const cluster = new ClusterSupervisor(say);

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
  return (await cluster.startRedis(REDIS_PORT)).url;
}

function status(port: number): Promise<GetSystemStatusResponse> {
  const client = new NexusPulseServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const request = { state: 0, replicaId: '', agentType: '', agentIdPrefix: '', pageSize: 0, pageToken: '', summaryOnly: false, selector: '' };
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
    if (cluster.ending) throw new Error('stopping');
    if (Date.now() > deadline) throw new Error(`the cluster did not come up within ${timeoutMs / 1000} s (see the log lines above)`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function main(): Promise<void> {
  const ports = Array.from({ length: REPLICAS }, (_, i) => BASE_PORT + i);
  const metricsPorts = Array.from({ length: REPLICAS }, (_, i) => METRICS_BASE_PORT + i);
  const consolePorts = Array.from({ length: REPLICAS }, (_, i) => CONSOLE_BASE_PORT + i);
  for (const port of [...ports, ...metricsPorts, ...consolePorts]) {
    if (!(await portIsFree(port))) throw new Error(`port ${port} is in use: stop what holds it, or set NEXUS_BASE_PORT / NEXUS_METRICS_BASE_PORT / NEXUS_CONSOLE_BASE_PORT`);
  }
  if (!process.env.REDIS_URL && !(await portIsFree(REDIS_PORT))) {
    throw new Error(`port ${REDIS_PORT} (the private Redis) is in use: stop what holds it, or set NEXUS_REDIS_PORT`);
  }
  const redisUrl = await resolveRedis();
  ports.forEach((port, i) =>
    cluster.launch(`r${i + 1}`, 'orchestrator/main.js', {
      REDIS_URL: redisUrl,
      GRPC_PORT: String(port),
      METRICS_PORT: String(metricsPorts[i]),
      CONSOLE_PORT: String(consolePorts[i]),
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
  cluster.launch('agents', 'agent/main.js', {
    AGENT_ID: 'demo-agent',
    AGENT_COUNT: String(DEMO_AGENTS),
    AGENT_TYPE: 'demo',
    ORCHESTRATOR_HOST: `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    HEARTBEAT_INTERVAL: '5',
  });
  const s = await waitForCluster(ports[0], DEMO_AGENTS, 30_000);
  const { hostname, port: redisPort } = new URL(redisUrl);
  // redis-cli's own default host is 127.0.0.1: name the host only when it is another.
  const cli = `redis-cli${hostname === '127.0.0.1' || hostname === 'localhost' ? '' : ` -h ${hostname}`} -p ${redisPort || '6379'}`;
  // nexusctl's default server is localhost:50051: name the replica only when it is another.
  const ctl = `npx nexusctl${ports[0] === 50051 ? '' : ` -s localhost:${ports[0]}`}`;
  say([
    '',
    '=== Nexus local cluster is up ===',
    `Redis     ${redactUrl(redisUrl)}${cluster.redis ? `  (private, data in ${cluster.redis.dir})` : ''}`,
    ...ports.map((port, i) => `Replica   r${i + 1}  gRPC localhost:${port}  metrics http://localhost:${metricsPorts[i]}/metrics  console http://localhost:${consolePorts[i]}/`),
    `Agents    ${s.agents.map((a) => `${a.agentId}@${a.replicaId}`).join('  ')}`,
    '',
    'Try it in another terminal: the status, a command and its answer, its timeline',
    `  ${ctl} status`,
    `  ${ctl} commands send --target ${s.agents[0]?.agentId ?? 'demo-agent-1'} --type echo --payload hello --id hello-1 --wait`,
    `  ${ctl} commands get hello-1`,
    'More (the last ones with redis-cli, grpcurl, grpc_health_probe and curl from your PATH):',
    `  ${ctl} commands send -l agent_type=demo --type sysinfo --follow`,
    `  ${ctl} agents`,
    `  ${ctl} events -f`,
    `  ${cli} XADD nexus:commands:stream '*' target ${s.agents[0]?.agentId ?? 'demo-agent-1'} command_id hello-2 command_type echo payload hello`,
    `  grpcurl -plaintext -d '{"commandId":"hello-2"}' localhost:${ports[1]} nexus.prime.NexusPulseService/GetCommand`,
    `  grpc_health_probe -addr=localhost:${ports[2]} -service=nexus.prime.NexusPulseService`,
    `  curl -s localhost:${metricsPorts[0]}/metrics | grep ^nexus_`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n'));
}

/**
 * The first signal (Ctrl-C, a closing terminal, kill) stops everything in order; a second one
 * during that stop kills everything at once. The same signal again within REPEAT_MS is the
 * same event: npm forwards the terminal's Ctrl-C to its child, and when the shell has exec'd
 * this script (bash does), that child is this process, which then gets one Ctrl-C twice.
 */
const REPEAT_MS = 1000;
let first: { signal: NodeJS.Signals; at: number } | undefined;
// Set by the second signal: the orderly stop, which the kill lets finish early, must not exit 0.
let killed = false;
const onSignal = (signal: NodeJS.Signals): void => {
  if (!first) {
    first = { signal, at: Date.now() };
    setTimeout(() => say('(Ctrl-C again kills everything at once)'), REPEAT_MS).unref();
    void cluster.stop().then(() => exit(killed ? 1 : 0));
  } else if (signal !== first.signal || Date.now() - first.at >= REPEAT_MS) {
    killed = true;
    void cluster.kill().finally(() => exit(1));
  }
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
main().catch(async (err: Error) => {
  if (cluster.ending) return; // a signal is ending the cluster; its handler exits
  process.stderr.write(`nexus local cluster: ${err.message}\n`);
  await cluster.stop();
  exit(1);
});
