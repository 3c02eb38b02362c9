import type Redis from 'ioredis';
import type { Agent } from '../../src/agent/agent';
import type { AgentOptions } from '../../src/agent/agent-options';
import type { CommandHandler } from '../../src/agent/handlers';
import { useAgents } from './agents';
import { readEvents } from './events';
import { waitFor } from './wait-for';

export const TERMINAL = new Set(['succeeded', 'failed', 'dead', 'cancelled']);

/** An in-process agent with labels/type/capabilities, and the command ids its handlers started. */
export interface LabelledAgent {
  agent: Agent;
  readonly runs: string[];
}

/** useAgents with the options first (labels, type, capabilities, ...); all are closed after each test. */
export function useLabelledAgents(): (port: number, options: AgentOptions & { agentId: string }, handlers?: Record<string, CommandHandler>) => Promise<LabelledAgent> {
  const start = useAgents();
  return async (port, { agentId, maxConcurrency, ...options }, handlers = {}) => {
    const { agent, runs } = await start(agentId, port, handlers, maxConcurrency, options);
    return {
      agent,
      get runs() {
        return runs.map((c) => c.commandId);
      },
    };
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
