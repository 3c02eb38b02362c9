import { existsSync, readFileSync } from 'node:fs';
import type Redis from 'ioredis';
import type { Workload } from './workload';

/** Terminal states of a command record. */
const TERMINAL = new Set(['succeeded', 'failed', 'dead', 'cancelled']);

export interface CheckResult {
  acknowledged: number;
  /** Acknowledged but with no terminal outcome: must be 0. */
  lost: string[];
  /** Outcomes for commands never attempted: must be 0. */
  unexpected: string[];
  /** Executed more than once (agent execution logs): must be 0 unless the agent itself crashed. */
  duplicated: string[];
  /** Not acknowledged, yet completed (fine). */
  recovered: number;
  outcomes: Record<string, number>;
}

/** Terminal outcome per command id (record state, else a dead letter). */
export async function outcomes(redis: Redis, ids: Iterable<string>): Promise<Map<string, string>> {
  const list = [...ids];
  const out = new Map<string, string>();
  for (let i = 0; i < list.length; i += 500) {
    const pipeline = redis.pipeline();
    for (const id of list.slice(i, i + 500)) pipeline.hget(`nexus:command:${id}`, 'state');
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([, state], j) => {
      if (typeof state === 'string' && TERMINAL.has(state)) out.set(list[i + j], state);
    });
  }
  for (const [, fields] of await redis.xrange('nexus:commands:dlq', '-', '+')) {
    const id = fields[fields.indexOf('command_id') + 1];
    if (id && !out.has(id)) out.set(id, `dlq:${fields[fields.indexOf('reason') + 1]}`);
  }
  return out;
}

/** Executions per command id from JSONL execution logs. */
export function executions(files: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const file of files) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const { command_id: id } = JSON.parse(line) as { command_id: string };
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

/** Jepsen's total-queue check over a workload. */
export async function check(redis: Redis, workload: Workload, executionLogs: string[]): Promise<CheckResult> {
  const done = await outcomes(redis, workload.attempted);
  const runs = executions(executionLogs);
  const byOutcome: Record<string, number> = {};
  for (const o of done.values()) byOutcome[o] = (byOutcome[o] ?? 0) + 1;
  return {
    acknowledged: workload.acknowledged.size,
    lost: [...workload.acknowledged].filter((id) => !done.has(id)),
    unexpected: [...runs.keys()].filter((id) => id.startsWith(workload.prefix) && !workload.attempted.has(id)),
    duplicated: [...runs.entries()].filter(([, n]) => n > 1).map(([id]) => id),
    recovered: [...done.keys()].filter((id) => !workload.acknowledged.has(id)).length,
    outcomes: byOutcome,
  };
}

/** Waits until every acknowledged command has an outcome (or the deadline passes). */
export async function settled(redis: Redis, workload: Workload, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await outcomes(redis, workload.acknowledged);
    if (done.size >= workload.acknowledged.size || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
