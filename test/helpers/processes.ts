import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../scripts/lib/free-port';
import { checkHealth, healthClient } from './grpc-clients';
import { waitFor } from './wait-for';

const ROOT = join(__dirname, '..', '..');
export const ORCHESTRATOR_BIN = join(ROOT, 'dist', 'src', 'orchestrator', 'main.js');
export const AGENT_BIN = join(ROOT, 'dist', 'src', 'agent', 'main.js');

/** Every child still running in this test file; see cleanup.ts. */
export const liveChildren = new Set<Child>();

/** A child process with its output kept for assertions and failure messages. */
export class Child {
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly name: string, readonly proc: ChildProcess) {
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n')) if (line) this.output.push(line);
      if (this.output.length > 5000) this.output.splice(0, this.output.length - 5000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    liveChildren.add(this);
    void this.exited.then(() => liveChildren.delete(this));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.proc.kill(sig);
  }

  /** SIGTERM and wait; SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Log lines parsed as JSON (non-JSON lines skipped). */
  json(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.output) {
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
    return out;
  }

  tail(n = 30): string {
    return this.output.slice(-n).join('\n');
  }
}

/** Settings that keep the suite fast (production values are in the README). */
export const FAST_ORCHESTRATOR_ENV = {
  LOG_LEVEL: 'info',
  STALENESS_THRESHOLD_SEC: '3',
  STALENESS_CHECK_INTERVAL: '0.25',
  REPLICA_BEAT_INTERVAL_MS: '250',
  HEARTBEAT_FLUSH_MS: '100',
  READINESS_PROBE_INTERVAL_MS: '100',
  READINESS_PROBE_TIMEOUT_MS: '300',
  KEEPALIVE_TIME_MS: '1000',
  KEEPALIVE_TIMEOUT_MS: '500',
  DRAIN_WINDOW_MS: '1000',
  SHUTDOWN_GRACE_MS: '5000',
  // Off unless a test asks for it: several replicas per test would all want port 8080.
  CONSOLE_PORT: '0',
  // Dampening bounds scaled like the thresholds above (docs/dampening.md).
  FAILOVER_GRACE_MS: '3000',
  DAMPEN_MAX_MS: '5000',
};

/**
 * Runs `node <script>`, or `<wrapper...> node <script>` (e.g. faketime), so signals reach a
 * real process tree the way they would in production.
 */
function node(script: string, env: NodeJS.ProcessEnv, wrapper: string[]): ChildProcess {
  const [command, ...args] = [...wrapper, process.execPath, script];
  return spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Spawns a replica from the build on free ports; resolves once its gRPC port accepts. */
export async function spawnReplica(redisUrl: string, env: Record<string, string> = {}, wrapper: string[] = []): Promise<Child & { port: number; metricsPort: number; replicaId: string }> {
  // A restarted replica keeps its address (GRPC_PORT/METRICS_PORT given), as a pod's would.
  const port = env.GRPC_PORT ? Number(env.GRPC_PORT) : await freePort();
  const metricsPort = env.METRICS_PORT ? Number(env.METRICS_PORT) : await freePort();
  const replicaId = env.REPLICA_ID ?? `r-${port}`;
  const proc = node(ORCHESTRATOR_BIN, {
    ...process.env, ...FAST_ORCHESTRATOR_ENV, REDIS_URL: redisUrl, GRPC_HOST: '127.0.0.1', ...env, GRPC_PORT: String(port), METRICS_PORT: String(metricsPort), REPLICA_ID: replicaId,
  }, wrapper);
  const child = Object.assign(new Child(replicaId, proc), { port, metricsPort, replicaId });
  const health = healthClient(port);
  try {
    await waitFor(`replica ${replicaId} to start`, async () => {
      if (!child.running) throw new Error(`replica exited early:\n${child.tail()}`);
      return (await checkHealth(health, '')) === 'SERVING';
    });
  } finally {
    health.close();
  }
  return child;
}

/** Spawns an agent process (or a swarm with AGENT_COUNT) from the build. */
export function spawnAgent(target: string, env: Record<string, string>, wrapper: string[] = []): Child {
  const proc = node(AGENT_BIN, {
    ...process.env, LOG_LEVEL: 'info', ORCHESTRATOR_HOST: target, HEARTBEAT_INTERVAL: '0.5', INITIAL_BACKOFF: '0.1', MAX_BACKOFF: '1', KEEPALIVE_TIME_MS: '1000', KEEPALIVE_TIMEOUT_MS: '500', ...env,
  }, wrapper);
  return new Child(env.AGENT_ID ?? 'agent', proc);
}

/** `ipv4:127.0.0.1:p1,127.0.0.1:p2,...`: stands in for a headless service's addresses. */
export function ipv4Target(ports: readonly number[]): string {
  return `ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
}
