import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RedisProcess } from './redis-process';

const STOP_DEADLINE_MS = 9000;
const KILL_WAIT_MS = 2000;
const REAPER = join(__dirname, 'cluster-reaper.js');

interface Proc { name: string; child: ChildProcess }

/**
 * Starts and ends the local cluster's processes, so that no ending leaves one behind:
 * - stop(): the orderly end (agents, then replicas drained, then Redis, within 10 s);
 * - kill(): the impatient end (a second Ctrl-C): SIGKILL to everything at once;
 * - neither (this process SIGKILLed or crashed): every Nexus child watches a stdin pipe from
 *   this process (NEXUS_PARENT_WATCH) and stops itself when it ends; the reaper, a watchdog
 *   started first, does the same for Redis and the temp dir (see cluster-reaper.ts).
 */
export class ClusterSupervisor {
  redis: RedisProcess | undefined;
  private readonly procs: Proc[] = [];
  private readonly reaper: ChildProcess;
  private redisStarting: Promise<unknown> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly say: (text: string) => void) {
    // detached: its own session, so neither Ctrl-C nor a closing terminal reaches it.
    this.reaper = spawn(process.execPath, [REAPER], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    this.reaper.stdin?.on('error', () => undefined);
  }

  /** Whether stop() or kill() has begun: nothing new is started from then on. */
  get ending(): boolean {
    return this.stopping !== undefined;
  }

  /** Starts the private redis-server (temp dir, free port); the reaper knows both from the start. */
  /** Starts the private Redis on `port` (0 = a free one). */
  async startRedis(port = 0): Promise<RedisProcess> {
    const redis = new RedisProcess('aof');
    redis.port = port;
    this.redis = redis;
    this.tell(`dir ${redis.dir}`);
    this.redisStarting = redis.start((pid) => this.tell(`redis ${pid}`));
    await this.redisStarting;
    return redis;
  }

  /** Runs `node <dist/src/script>` with its log lines relayed as `name`. */
  launch(name: string, script: string, env: Record<string, string>): void {
    if (this.ending) return;
    // detached: a terminal's Ctrl-C signals the whole foreground process group; the children
    // must hear only our orderly SIGTERM, not the SIGINT as well. stdin: the parent watch.
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'src', script)], {
      env: { ...process.env, ...env, NEXUS_PARENT_WATCH: 'stdin' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdin?.on('error', () => undefined);
    child.stdout?.on('data', (c: Buffer) => this.relay(name, c));
    child.stderr?.on('data', (c: Buffer) => this.relay(name, c));
    if (child.pid) this.tell(`child ${child.pid}`);
    child.on('exit', (code, signal) => {
      this.tell(`exited ${child.pid}`);
      if (!this.ending) this.say(`!! ${name} exited unexpectedly (code ${code}, signal ${signal}); the rest keeps running`);
    });
    this.procs.push({ name, child });
  }

  /** Agents first (they say goodbye), then replicas (drain), then Redis; SIGKILL at the deadline. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.say('\nstopping the local cluster ...');
      const killer = setTimeout(() => this.procs.forEach((p) => p.child.kill('SIGKILL')), STOP_DEADLINE_MS - 1500);
      for (const group of [this.procs.filter((p) => p.name.startsWith('agents')), this.procs.filter((p) => !p.name.startsWith('agents'))]) {
        group.forEach((p) => p.child.kill('SIGTERM'));
        await Promise.all(group.map(exited));
      }
      clearTimeout(killer);
      await this.redisStarting?.catch(() => undefined);
      const pid = this.redis?.pid;
      await this.redis?.destroy();
      if (pid) this.tell(`exited ${pid}`);
      this.say('stopped: no processes or temp dirs left behind.');
    })();
    return this.stopping;
  }

  /** SIGKILL to every child (and its process group) now; removes the temp dir. */
  async kill(): Promise<void> {
    this.stopping ??= Promise.resolve();
    this.say('second signal: killing every process of the local cluster now');
    for (const { child } of this.procs) {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const redisPid = this.redis?.pid;
    const redisGone = this.redis?.stop('SIGKILL').then(() => redisPid && this.tell(`exited ${redisPid}`));
    const all = Promise.all([...this.procs.map(exited), redisGone]);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, KILL_WAIT_MS))]);
    if (this.redis) rmSync(this.redis.dir, { recursive: true, force: true });
  }

  /** One line to the reaper; if it is gone there is no one to tell. */
  private tell(line: string): void {
    try {
      this.reaper.stdin?.write(`${line}\n`);
    } catch {
      // reaper gone
    }
  }

  /** One compact line per JSON log line of a child: `12:00:01 r1     info  agent connected agentId=A1`. */
  private relay(name: string, chunk: Buffer): void {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      try {
        const { time, level, msg, pid: _p, replica: _r, component: _c, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
        this.say(`${String(time).slice(11, 19)} ${name.padEnd(6)} ${String(level).padEnd(5)} ${msg} ${fields}`);
      } catch {
        this.say(`${name.padEnd(15)} ${line}`);
      }
    }
  }
}

function exited({ child }: Proc): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
}
