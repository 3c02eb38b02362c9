import type { Server } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent';
import type { AgentMessage } from '../../src/generated/nexus/prime/pulse';
import { createLogger } from '../../src/shared/logger';
import { freePort } from '../../scripts/lib/free-port';
import { pulseServer, welcome } from '../helpers/fake-pulse';
import { waitFor } from '../helpers/wait-for';

/*
 * A drain's reconnect_to (rebalancing, docs/balancing.md): the agent tries the named replica
 * once, and falls back to its own target at once when that replica cannot be reached.
 */

interface Fake { server: Server; port: number; hellos: number }

/** Pulse that welcomes, and on the first hello only, drains the agent towards `reconnectTo()`. */
async function replica(name: string, reconnectTo?: () => string): Promise<Fake> {
  const state = { hellos: 0 } as Fake;
  const served = await pulseServer((call) => {
    call.on('data', (m: AgentMessage) => {
      if (m.kind?.$case !== 'hello') return;
      state.hellos++;
      call.write(welcome(name, state.hellos));
      if (reconnectTo && state.hellos === 1) call.write({ kind: { $case: 'drain', drain: { reconnectAfterMs: 0, reason: 'rebalance', reconnectTo: reconnectTo() } } });
    });
    call.on('error', () => undefined);
  });
  return Object.assign(state, served);
}

describe('agent: reconnect hints', () => {
  const servers: Server[] = [];
  const agents: Agent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
    for (const s of servers.splice(0)) s.forceShutdown();
  });

  function agent(target: string, reconnectHints = true): Agent {
    // Backoff of 10 s: a reconnect that came quicker did not go through the backoff.
    const a = new Agent({ agentId: 'hinted', orchestrator: target, initialBackoffMs: 10_000, maxBackoffMs: 10_000, reconnectHints }, { logger: createLogger('silent') });
    agents.push(a);
    a.start();
    return a;
  }

  it('goes to the replica the drain names, though it is not in its own target', async () => {
    const light = await replica('light');
    const heavy = await replica('heavy', () => `127.0.0.1:${light.port}`);
    servers.push(light.server, heavy.server);
    const a = agent(`127.0.0.1:${heavy.port}`);
    await waitFor('agent on the light replica', () => a.replicaId === 'light');
    expect(heavy.hellos).toBe(1);
    expect(light.hellos).toBe(1);
  });

  it('falls back to its own target at once when the named replica is not reachable', async () => {
    const closed = await freePort();
    const heavy = await replica('heavy', () => `127.0.0.1:${closed}`);
    servers.push(heavy.server);
    const a = agent(`127.0.0.1:${heavy.port}`);
    await waitFor('agent back on its target', () => heavy.hellos === 2 && a.replicaId === 'heavy', { timeoutMs: 5000 });
    expect(a.failures).toBe(0);
  });

  it('ignores the hint with RECONNECT_HINTS off, and a hint that is not host:port', async () => {
    const light = await replica('light');
    const heavy = await replica('heavy', () => `127.0.0.1:${light.port}`);
    const odd = await replica('odd', () => `dns:///127.0.0.1:${light.port}`);
    servers.push(light.server, heavy.server, odd.server);
    const off = agent(`127.0.0.1:${heavy.port}`, false);
    const bad = agent(`127.0.0.1:${odd.port}`);
    await waitFor('both back on their targets', () => heavy.hellos === 2 && odd.hellos === 2);
    expect(light.hellos).toBe(0);
    expect([off.replicaId, bad.replicaId]).toEqual(['heavy', 'odd']);
  });
});
