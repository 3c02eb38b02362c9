import { afterEach } from 'vitest';
import { Agent } from '../../src/agent/agent';
import type { AgentOptions } from '../../src/agent/agent-options';
import type { CommandHandler } from '../../src/agent/handlers';
import type { Command } from '../../src/generated/nexus/prime/pulse';
import { createLogger } from '../../src/shared/logger';
import { waitFor } from './wait-for';

/** An in-process agent plus the commands its handlers started, in order. */
export interface TestAgent {
  agent: Agent;
  runs: Command[];
}

/**
 * Returns a starter for in-process agents (fast heartbeats and backoff; `options` for labels, type, ...) that are all closed
 * after each test.
 */
export function useAgents(): (id: string, port: number, handlers?: Record<string, CommandHandler>, maxConcurrency?: number, options?: Partial<AgentOptions>) => Promise<TestAgent> {
  const started: Agent[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((a) => a.close()));
  });
  return async (id, port, handlers = {}, maxConcurrency = 4, options = {}) => {
    const agent = new Agent(
      { agentId: id, orchestrator: `127.0.0.1:${port}`, heartbeatIntervalMs: 300, initialBackoffMs: 20, maxBackoffMs: 100, maxConcurrency, ...options },
      { logger: createLogger('silent') },
    );
    for (const [type, handler] of Object.entries(handlers)) agent.handle(type, handler);
    const runs: Command[] = [];
    agent.on('execute', (c: Command) => runs.push(c));
    let welcomed = false;
    agent.once('welcome', () => (welcomed = true));
    started.push(agent);
    agent.start();
    await waitFor(`${id} welcomed`, () => welcomed);
    return { agent, runs };
  };
}
