/**
 * The yardstick for the fleet scenario: a bare grpc-js server with one bidi method that
 * answers every heartbeat with a ping, and a client process holding N such streams. It speaks
 * the Nexus Pulse messages (the generated service), so codec and message sizes match and the
 * difference to a replica is what Nexus does per session and per heartbeat.
 *   node bare-grpc.js server                            (IPC: {port}; answers 'stats' with BareStats)
 *   node bare-grpc.js client <port,...> <streams> <ms>  (one connection per stream, like agents)
 * As many server processes run as Nexus runs replicas: a process' CPU per message falls as its
 * message rate rises (more arrive per event-loop wake-up; here 10/s cost ~600 µs each, 1,000/s
 * ~55 µs), so one server taking all the streams would be measured at a cheaper rate.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { credentials, Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import { CommandOutcome, NexusPulseServiceClient, NexusPulseServiceService, type AgentMessage, type OrchestratorMessage } from '../../../src/generated/nexus/prime/pulse';
import type { FanoutTimes } from '../fanout';
import { measureFleet, measureIdle, type FleetRun, type FleetTiming } from '../fleet';
import { killAndWait } from '../nexus-cluster';
import { sleep, waitUntil } from '../wait-until';

/** What the server counted so far. */
interface BareStats {
  streams: number;
  heartbeats: number;
}

// The same keepalive as a replica and an agent (both default to 20 s / 10 s, idle pings allowed).
const KEEPALIVE = { 'grpc.keepalive_time_ms': 20_000, 'grpc.keepalive_timeout_ms': 10_000, 'grpc.keepalive_permit_without_calls': 1 };

/** Fan-out on the bare server: IPC `{ fanout: t0 }` pushes one command to every open stream; `'times'` returns result times. */
interface FanoutRequest {
  fanout: number;
}

function serve(): void {
  const stats: BareStats = { streams: 0, heartbeats: 0 };
  const calls: ServerDuplexStream<AgentMessage, OrchestratorMessage>[] = [];
  /** ms from the parent's t0 (Date.now()) to each command result received here. */
  const results: number[] = [];
  let t0 = 0;
  const unimplemented = (_call: unknown, callback: (err: { code: status }) => void) => callback({ code: status.UNIMPLEMENTED });
  const server = new Server(KEEPALIVE);
  server.addService(NexusPulseServiceService, {
    pulse: (call: ServerDuplexStream<AgentMessage, OrchestratorMessage>) => {
      stats.streams++;
      calls.push(call);
      call.on('data', (message: AgentMessage) => {
        if (message.kind?.$case === 'commandResult') results.push(Date.now() - t0);
        if (message.kind?.$case !== 'heartbeat') return;
        stats.heartbeats++;
        call.write({ kind: { $case: 'ping', ping: { sentAtUnixMs: Date.now() } } });
      });
      call.on('error', () => undefined);
      call.on('end', () => call.end());
    },
    getSystemStatus: unimplemented,
    getCommand: unimplemented,
    submitCommand: unimplemented,
  });
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.send!({ port });
  });
  process.on('message', (m: unknown) => {
    if (m === 'times') return process.send!(results);
    const request = m as FanoutRequest | undefined;
    if (typeof request?.fanout === 'number') {
      t0 = request.fanout;
      calls.forEach((call, i) => call.write({ kind: { $case: 'command', command: { commandId: `fan-${i}`, commandType: 'echo', payload: 'x', priority: 5, attempt: 1, correlationId: '', deadlineUnixMs: 0 } } }));
      return process.send!(stats);
    }
    process.send!(stats);
  });
}

function connect(ports: number[], streams: number, intervalMs: number): void {
  // Sizes as a real agent sends them (its host metrics change between beats, the size hardly).
  const heartbeat: AgentMessage = {
    kind: { $case: 'heartbeat', heartbeat: { activeCommands: 0, metrics: { cpuPercent: 12.34, memoryUsedBytes: 8_123_456_789, memoryTotalBytes: 25_769_803_776, loadAverage1m: 1.23, uptimeSeconds: 123_456 } } },
  };
  for (let i = 0; i < streams; i++) {
    // Own connection per stream, as every Nexus agent has (grpc.use_local_subchannel_pool).
    const client = new NexusPulseServiceClient(`127.0.0.1:${ports[i % ports.length]}`, credentials.createInsecure(), { ...KEEPALIVE, 'grpc.use_local_subchannel_pool': 1 });
    const call = client.pulse();
    // A command is answered at once with its result (an echo), as an agent's echo handler does.
    call.on('data', (message: OrchestratorMessage) => {
      if (message.kind?.$case !== 'command') return;
      const { commandId, attempt, payload } = message.kind.command;
      call.write({ kind: { $case: 'commandResult', commandResult: { commandId, attempt, outcome: CommandOutcome.COMMAND_OUTCOME_SUCCEEDED, output: payload, error: '', durationMs: 0, permanent: false } } });
    });
    call.on('error', () => undefined);
    call.write(heartbeat);
    if (intervalMs <= 0) continue; // fan-out: no periodic heartbeats
    // Spread the beats over the interval, as agents that connected at different times are.
    setTimeout(() => setInterval(() => call.write(heartbeat), intervalMs), Math.random() * intervalMs);
  }
}

if (require.main === module) {
  const [role, ports, streams, intervalMs] = process.argv.slice(2);
  if (role === 'server') serve();
  else connect(ports.split(',').map(Number), Number(streams), Number(intervalMs));
}

/** Asks the server process for its counts (IPC). */
function stats(server: ChildProcess): Promise<BareStats> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare grpc server did not answer stats within 2 s')), 2000);
    server.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as BareStats);
    });
    server.send('stats');
  });
}

/** Starts one server process; resolves with it and its port. */
async function startServer(): Promise<{ proc: ChildProcess; port: number }> {
  const proc = fork(__filename, ['server'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare grpc server did not start within 10 s')), 10_000);
    proc.once('message', (m) => {
      clearTimeout(timer);
      resolve((m as { port: number }).port);
    });
  });
  return { proc, port };
}

/** Starts `count` server processes one after another; each is added to `children` (to be killed) as it starts. */
async function startServers(count: number, children: ChildProcess[]): Promise<{ proc: ChildProcess; port: number }[]> {
  const started: { proc: ChildProcess; port: number }[] = [];
  for (let i = 0; i < count; i++) {
    const server = await startServer();
    children.push(server.proc);
    started.push(server);
  }
  return started;
}

/** The bare peer's fleet figures on `servers` server processes, measured exactly as the replicas' (see measureFleet). */
export async function bareGrpcFleet(streams: number, heartbeatS: number, servers: number, timing: FleetTiming): Promise<FleetRun> {
  const children: ChildProcess[] = [];
  try {
    const started = await startServers(servers, children);
    const pids = started.map((s) => s.proc.pid!);
    const counts = async () => {
      const all = await Promise.all(started.map((s) => stats(s.proc)));
      return { heartbeats: all.reduce((a, c) => a + c.heartbeats, 0), sessions: all.reduce((a, c) => a + c.streams, 0) };
    };
    await sleep(timing.startMs); // the same start-up allowance as the replicas get
    const idle = await measureIdle(pids, timing.idleMs);
    const connecting = performance.now();
    const client = fork(__filename, ['client', started.map((s) => s.port).join(','), String(streams), String(heartbeatS * 1000)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.push(client);
    let open = 0;
    await waitUntil(() => `${streams} bare grpc streams open (${open} are)`, async () => (open = (await counts()).sessions) >= streams, 120_000, 100);
    const connectMs = performance.now() - connecting;
    await sleep(timing.settleMs);
    return await measureFleet({ server: pids, client: [client.pid!] }, streams, connectMs, idle, counts, timing.windowMs);
  } finally {
    await Promise.all(children.map((p) => killAndWait(p)));
  }
}

/** Forks one client process that opens `streams` streams over `started` (no periodic beats); resolves once the servers hold them all. */
async function openStreams(started: { proc: ChildProcess; port: number }[], streams: number, children: ChildProcess[]): Promise<void> {
  const client = fork(__filename, ['client', started.map((s) => s.port).join(','), String(streams), '0'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(client);
  let open = 0;
  await waitUntil(() => `${streams} bare grpc streams open (${open} are)`, async () => (open = (await Promise.all(started.map((s) => stats(s.proc)))).reduce((a, c) => a + c.streams, 0)) >= streams, 120_000, 50);
}

/**
 * The machine's bare connect rate, for the storm: `streams` bidi streams (own connection each,
 * one client process, one message each) opened on `servers` bare grpc-js server processes.
 * Resolves with the time from the client's start until the servers hold them all.
 */
export async function bareGrpcConnect(streams: number, servers: number): Promise<{ streams: number; connectMs: number }> {
  const children: ChildProcess[] = [];
  try {
    const started = await startServers(servers, children);
    const connecting = performance.now();
    await openStreams(started, streams, children);
    return { streams, connectMs: performance.now() - connecting };
  } finally {
    await Promise.all(children.map((p) => killAndWait(p)));
  }
}

/** Asks a server process for something over IPC and resolves with its answer. */
function ask<T>(server: ChildProcess, message: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare grpc server did not answer within 2 s')), 2000);
    server.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as T);
    });
    server.send(message as string);
  });
}

/**
 * The yardstick for the fan-out scenario: `streams` bidi streams (own connection each, one
 * client process) on `servers` bare grpc-js server processes; at t0 each server writes one
 * `command` to each of its streams, the client answers each with a `commandResult` at once.
 * Times run from t0 (Date.now() in this process, sent to the servers) to each result received
 * by a server: the floor of pushing one message to N streams and hearing back, with no
 * Redis, routing or bookkeeping.
 */
export async function bareGrpcFanout(streams: number, servers: number): Promise<FanoutTimes & { agents: number }> {
  const children: ChildProcess[] = [];
  try {
    const started = await startServers(servers, children);
    await openStreams(started, streams, children);
    await sleep(1000); // as for Nexus: measure the fan-out, not the bring-up
    const t0 = Date.now();
    await Promise.all(started.map((s) => ask<BareStats>(s.proc, { fanout: t0 })));
    let got = 0;
    let times: number[] = [];
    await waitUntil(() => `${streams} bare grpc fan-out results (${got} arrived)`, async () => {
      times = (await Promise.all(started.map((s) => ask<number[]>(s.proc, 'times')))).flat();
      return (got = times.length) >= streams;
    }, 60_000, 20);
    times.sort((a, b) => a - b);
    return { agents: streams, firstResultMs: times[0], medianResultMs: times[Math.floor(times.length / 2)], lastResultMs: times[times.length - 1] };
  } finally {
    await Promise.all(children.map((p) => killAndWait(p)));
  }
}
