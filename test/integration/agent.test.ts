import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Server } from '@grpc/grpc-js';
import { Agent } from '../../src/agent/agent';
import type { SessionOutcome } from '../../src/agent/pulse-session';
import type { AgentMessage } from '../../src/generated/nexus/prime/pulse';
import { pulseServer, welcome } from '../helpers/fake-pulse';
import { createLogger } from '../../src/shared/logger';
import { allAgents, statusClient } from '../helpers/grpc-clients';
import { freePort } from '../../scripts/lib/free-port';
import { useOrchestrator } from '../helpers/in-process';
import { Child, ORCHESTRATOR_BIN, spawnAgent } from '../helpers/processes';
import { waitFor } from '../helpers/wait-for';

/** Pulse welcomes and then never says another word. */
async function silentOrchestrator(): Promise<{ server: Server; port: number; sessions: number[] }> {
  const sessions: number[] = [];
  const served = await pulseServer((call) => {
    call.once('data', () => {
      sessions.push(Date.now());
      call.write(welcome('silent', sessions.length));
    });
    call.on('error', () => undefined);
  });
  return { ...served, sessions };
}

/** Pulse welcomes, answers every heartbeat with a ping and sends one `hog` command: a live replica minus Redis. */
async function answeringOrchestrator(): Promise<{ server: Server; port: number; sessions: number; heartbeats: number; results: string[] }> {
  const state = { server: undefined as unknown as Server, port: 0, sessions: 0, heartbeats: 0, results: [] as string[] };
  const served = await pulseServer((call) => {
    call.on('data', (m: AgentMessage) => {
      const kind = m.kind;
      if (kind?.$case === 'hello') {
        state.sessions++;
        call.write(welcome('live', state.sessions));
        call.write({ kind: { $case: 'command', command: { commandId: 'hog-1', commandType: 'hog', payload: '', priority: 0, attempt: 1, correlationId: '', deadlineUnixMs: 0 } } });
      } else if (kind?.$case === 'heartbeat') {
        state.heartbeats++;
        call.write({ kind: { $case: 'ping', ping: { sentAtUnixMs: Date.now() } } });
      } else if (kind?.$case === 'commandResult') {
        state.results.push(kind.commandResult.output);
      }
    });
    call.on('error', () => undefined);
  });
  return Object.assign(state, served);
}

describe('agent', () => {
  it('recreates its channel after hearing nothing for 3 heartbeat intervals', async () => {
    const silent = await silentOrchestrator();
    const agent = new Agent({ agentId: 'listener', orchestrator: `127.0.0.1:${silent.port}`, heartbeatIntervalMs: 100, initialBackoffMs: 10, maxBackoffMs: 20 }, { logger: createLogger('silent') });
    const outcomes: SessionOutcome[] = [];
    agent.on('disconnected', (o: SessionOutcome) => outcomes.push(o));
    agent.start();
    await waitFor('two reconnects', () => silent.sessions.length >= 3);
    await agent.close();
    silent.server.forceShutdown();
    expect(outcomes[0]).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/heard nothing for \d+ ms/) });
    // Each session lasted about 3 intervals (300 ms), not the keepalive timeout.
    const gap = silent.sessions[1] - silent.sessions[0];
    expect(gap).toBeGreaterThanOrEqual(300);
    expect(gap).toBeLessThan(2000);
  });

  it('keeps a live session through its own event-loop stall longer than the silence limit', async () => {
    const live = await answeringOrchestrator();
    const agent = new Agent({ agentId: 'hogger', orchestrator: `127.0.0.1:${live.port}`, heartbeatIntervalMs: 100, initialBackoffMs: 10, maxBackoffMs: 20 }, { logger: createLogger('silent') });
    // A handler that blocks the event loop for 6 heartbeat intervals (twice the limit) right
    // after a message was heard: stands in for a busy swarm process or a CPU-bound handler.
    agent.handle('hog', () => {
      const until = performance.now() + 600;
      while (performance.now() < until) Math.sqrt(Math.random());
      return 'done';
    });
    const outcomes: SessionOutcome[] = [];
    agent.on('disconnected', (o: SessionOutcome) => outcomes.push(o));
    agent.start();
    await waitFor('the hog result', () => live.results.length >= 1);
    const heartbeats = live.heartbeats;
    await waitFor('5 more heartbeats answered', () => live.heartbeats >= heartbeats + 5);
    await agent.close();
    live.server.forceShutdown();
    expect(live.results).toEqual(['done']);
    expect(outcomes).toEqual([]);
    expect(live.sessions).toBe(1);
  });

  it.each([
    [true, ['commandResults']],
    [false, ['commandResult', 'commandResult', 'commandResult']],
  ])('answers a batch of commands with one batch of results only when the welcome accepts them (%s)', async (accepts, expected) => {
    const sent: AgentMessage[] = [];
    const served = await pulseServer((call) => {
      call.on('data', (m: AgentMessage) => {
        if (m.kind?.$case === 'hello') {
          expect(m.kind.hello.acceptsCommandBatches).toBe(true);
          call.write({ kind: { $case: 'welcome', welcome: { replicaId: 'b', sessionId: '1', heartbeatIntervalMs: 0, epoch: 1, acceptsResultBatches: accepts, acceptsProgress: false } } });
          const command = (n: number) => ({ commandId: `e-${n}`, commandType: 'echo', payload: `p${n}`, priority: 5, attempt: 1, correlationId: '', deadlineUnixMs: 0 });
          call.write({ kind: { $case: 'commands', commands: { commands: [command(1), command(2), command(3)] } } });
        } else if (m.kind?.$case === 'commandResult' || m.kind?.$case === 'commandResults') {
          sent.push(m);
        }
      });
      call.on('error', () => undefined);
    });
    const agent = new Agent({ agentId: 'batcher', orchestrator: `127.0.0.1:${served.port}`, heartbeatIntervalMs: 1000 }, { logger: createLogger('silent') });
    agent.start();
    const outputs = () => sent.flatMap((m) => (m.kind?.$case === 'commandResults' ? m.kind.commandResults.results : m.kind?.$case === 'commandResult' ? [m.kind.commandResult] : []));
    await waitFor('three results', () => outputs().length === 3);
    await agent.close();
    served.server.forceShutdown();
    expect(sent.map((m) => m.kind?.$case)).toEqual(expected);
    expect(outputs().map((r) => r.output).sort()).toEqual(['p1', 'p2', 'p3']);
  });

  it('waits its initial delay before the first attempt, and close() ends the wait', async () => {
    const live = await answeringOrchestrator();
    const options = { orchestrator: `127.0.0.1:${live.port}`, heartbeatIntervalMs: 100 };
    const waiting = new Agent({ agentId: 'late', ...options }, { logger: createLogger('silent') });
    waiting.start(600_000);
    const closing = Date.now();
    await waiting.close();
    expect(Date.now() - closing).toBeLessThan(5_000);
    expect(waiting.state).toBe('closed');
    const soon = new Agent({ agentId: 'soon', ...options }, { logger: createLogger('silent') });
    soon.start(50);
    await waitFor('welcomed after its delay', () => soon.state === 'connected');
    await soon.close();
    live.server.forceShutdown();
    expect(live.sessions).toBe(1);
  });

  it('gives up after MAX_RETRIES consecutive failures and the CLI exits 1', async () => {
    const closed = await freePort();
    const cli = spawnAgent(`127.0.0.1:${closed}`, { AGENT_ID: 'quitter', MAX_RETRIES: '2', INITIAL_BACKOFF: '0.02', MAX_BACKOFF: '0.05' });
    const exit = await cli.exited;
    expect(exit.code).toBe(1);
    const attempts = cli.json().filter((l) => l.msg === 'session ended; reconnecting').map((l) => l.attempt);
    expect(attempts).toEqual([1, 2]);
    expect(cli.output.join('\n')).toMatch(/gave up after 3 failed attempts \(MAX_RETRIES=2\)/);
  });

  it.each([
    [{ HEARTBEAT_INTERVAL: 'soon' }, /HEARTBEAT_INTERVAL: "soon" is not a number of seconds/],
    [{ AGENT_ID: 'no spaces please' }, /AGENT_ID: /],
    [{ MAX_BACKOFF: '0.5', INITIAL_BACKOFF: '2' }, /MAX_BACKOFF: must be at least INITIAL_BACKOFF/],
  ])('stops at start naming the bad variable: %o', async (env, message) => {
    const cli = spawnAgent('127.0.0.1:1', { AGENT_ID: 'ok', ...env });
    expect((await cli.exited).code).toBe(1);
    expect(cli.output.join('\n')).toMatch(message);
  });
});

describe('agent CLI ids', () => {
  const fx = useOrchestrator();

  it('runs one agent named exactly AGENT_ID, or AGENT_COUNT agents named <AGENT_ID>-1..N', async () => {
    const port = fx.port;
    const single = spawnAgent(`127.0.0.1:${port}`, { AGENT_ID: 'solo' });
    const swarm = spawnAgent(`127.0.0.1:${port}`, { AGENT_ID: 'bee', AGENT_COUNT: '3' });
    const client = statusClient(port);
    try {
      await waitFor('four agents', async () => (await allAgents(client)).length === 4);
      expect((await allAgents(client)).map((a) => a.agentId)).toEqual(['bee-1', 'bee-2', 'bee-3', 'solo']);
    } finally {
      client.close();
      await Promise.all([single.stop(), swarm.stop()]);
    }
    expect((await single.exited).code).toBe(0);
    expect((await swarm.exited).code).toBe(0);
  });
});

describe('orchestrator CLI', () => {
  it.each([
    [{ GRPC_PORT: 'fifty' }, /GRPC_PORT: "fifty" is not an integer/],
    [{ REDIS_URL: 'http://nope' }, /REDIS_URL: protocol must be one of redis:, rediss:/],
  ])('stops at start naming the bad variable: %o', async (env, message) => {
    const child = new Child('bad', spawn(process.execPath, [ORCHESTRATOR_BIN], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
    expect((await child.exited).code).toBe(1);
    expect(child.output.join('\n')).toMatch(message);
  });
});
