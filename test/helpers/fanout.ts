import type Redis from 'ioredis';
import { afterEach } from 'vitest';
import { Agent } from '../../src/agent/agent';
import type { AgentOptions } from '../../src/agent/agent-options';
import type { CommandHandler } from '../../src/agent/handlers';
import { createLogger } from '../../src/shared/logger';
import { readEvents } from './events';
import { waitFor } from './wait-for';

export const TERMINAL = new Set(['succeeded', 'failed', 'dead', 'cancelled']);

/** An in-process agent with labels/type/capabilities, and the command ids its handlers started. */
export interface LabelledAgent {
  agent: Agent;
  runs: string[];
}

/** Starter for in-process agents with any AgentOptions; all are closed after each test. */
export function useLabelledAgents(): (port: number, options: AgentOptions & { agentId: string }, handlers?: Record<string, CommandHandler>) => Promise<LabelledAgent> {
  const started: Agent[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((a) => a.close()));
  });
  return async (port, options, handlers = {}) => {
    const agent = new Agent(
      { orchestrator: `127.0.0.1:${port}`, heartbeatIntervalMs: 300, initialBackoffMs: 20, maxBackoffMs: 100, ...options },
      { logger: createLogger('silent') },
    );
    for (const [type, handler] of Object.entries(handlers)) agent.handle(type, handler);
    const runs: string[] = [];
    agent.on('execute', (c: { commandId: string }) => runs.push(c.commandId));
    let welcomed = false;
    agent.once('welcome', () => (welcomed = true));
    started.push(agent);
    agent.start();
    await waitFor(`${options.agentId} welcomed`, () => welcomed);
    return { agent, runs };
  };
}

/** The parent's record once its state is terminal (dumps record and events on timeout). */
export async function parentTerminal(db: Redis, id: string, timeoutMs = 15_000): Promise<Record<string, string>> {
  try {
    return await waitFor(`parent ${id} terminal`, async () => {
      const rec = await db.hgetall(`nexus:command:${id}`);
      return TERMINAL.has(rec.state) ? rec : undefined;
    }, { timeoutMs });
  } catch (err) {
    const rec = await db.hgetall(`nexus:command:${id}`);
    const events = (await readEvents(db)).filter((e) => e.command_id === id || e.parent_id === id).slice(-20);
    throw new Error(`${(err as Error).message}\nrecord: ${JSON.stringify(rec)}\nlast events: ${JSON.stringify(events)}`);
  }
}

/** Child command ids of a parent (the idx:parent zset). */
export async function childIds(db: Redis, parentId: string): Promise<string[]> {
  return (await db.zrange(`nexus:idx:parent:${parentId}`, '0', '-1')).sort();
}

/** Child records of a parent. */
export async function childRecords(db: Redis, parentId: string): Promise<Record<string, string>[]> {
  const ids = await childIds(db, parentId);
  const p = db.pipeline();
  for (const id of ids) p.hgetall(`nexus:command:${id}`);
  return ((await p.exec()) ?? []).map(([, r]) => r as Record<string, string>);
}
