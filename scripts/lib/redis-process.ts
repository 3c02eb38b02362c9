import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis, { type RedisOptions } from 'ioredis';
import { freePort } from './free-port';

/** Whether `redis-server` can be run from PATH. */
export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Resolves once a Redis at 127.0.0.1:port answers PING, or rejects after `timeoutMs`. */
export async function waitForRedis(port: number, timeoutMs = 10_000, options: RedisOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
    client.on('error', () => undefined); // refused until the server listens
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      client.disconnect();
    }
  }
}

/**
 * A private redis-server on a free loopback port, in its own temp dir (never the shared
 * 6379). `aof` = appendonly everysec, so a SIGKILL and a start on the same dir keep the data.
 */
export class RedisProcess {
  port = 0;
  readonly dir = mkdtempSync(join(tmpdir(), 'nexus-redis-'));
  private proc: ChildProcess | undefined;

  constructor(
    private readonly persistence: 'none' | 'aof' = 'none',
    /**
     * TLS only (no plaintext port), with these PEM files; `users` are ACL lines (`nexus on
     * >pass ~nexus:* ...`), and the default user is switched off when given. `probe` is how to
     * log in to check the server is up.
     */
    private readonly secure?: { cert: string; key: string; ca: string; users: string[]; probe: RedisOptions },
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /**
   * Starts (or restarts, on the same port and dir) and waits for PING. `onSpawn` hears the
   * PID as soon as the server exists, before it answers (a watchdog must know it from then).
   */
  async start(onSpawn?: (pid: number) => void): Promise<this> {
    if (!this.port) this.port = await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', ''];
    args.push(...(this.persistence === 'aof' ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no']));
    if (this.secure) {
      const s = this.secure;
      args.splice(0, 2, '--port', '0', '--tls-port', String(this.port));
      args.push('--tls-cert-file', s.cert, '--tls-key-file', s.key, '--tls-ca-cert-file', s.ca, '--tls-auth-clients', 'no');
      for (const user of ['default off', ...s.users]) args.push('--user', ...user.split(' '));
    }
    // detached: out of the terminal's process group, so Ctrl-C reaches only our parent.
    this.proc = spawn('redis-server', args, { stdio: 'ignore', detached: true });
    if (this.proc.pid) onSpawn?.(this.proc.pid);
    await waitForRedis(this.port, 10_000, this.secure?.probe);
    return this;
  }

  /** Stops the server: `signal` (SIGTERM by default), then SIGKILL after 2 s. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
