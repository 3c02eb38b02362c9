import type Redis from 'ioredis';
import type { NexusKeys } from './keys';

/** Which commands (every field given must match; states: any of them). Record state names. */
export interface CommandQuery {
  readonly states: readonly string[];
  readonly target: string;
  readonly commandType: string;
  readonly correlationId: string;
  readonly parentId: string;
  /** Created at or after (Unix ms); 0 = no bound. */
  readonly createdAfter: number;
  /** Created before (Unix ms); 0 = no bound. */
  readonly createdBefore: number;
}

/** Where a page ended: the last command examined (newest first: by score, then id, descending). */
export interface IndexCursor {
  readonly score: number;
  readonly id: string;
}

/** The fields a list row shows, as the record holds them. */
export const SUMMARY_FIELDS = [
  'command_id', 'state', 'target', 'command_type', 'priority', 'attempt', 'correlation_id', 'parent_id',
  'queued_at', 'finished_at', 'dead_reason', 'error', 'progress_percent', 'progress_message', 'progress_at', 'progress_attempt',
] as const;
export type CommandSummaryRecord = Record<(typeof SUMMARY_FIELDS)[number], string | null>;

/** Most index entries one page examines, however selective the filter: a page's cost is bounded. */
export const SCAN_LIMIT = 5000;

/**
 * Reads the command index (scripts/includes/commandIndex.lua) a page at a time. A page reads
 * the smallest index set the query names (parent, correlation id, target, type, the states'
 * sets, or with no filter all of them), newest first within the created-time range, and checks the other
 * criteria on the records themselves. It examines at most SCAN_LIMIT entries, so its cost
 * does not grow with the number of commands retained; a sparse match returns a short page
 * and a cursor to go on from. Ids whose record has expired are dropped from the set read.
 */
export class CommandIndex {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
  ) {}

  /** Up to `pageSize` matching records after `cursor`, and where to go on (undefined at the end). */
  async page(q: CommandQuery, pageSize: number, cursor?: IndexCursor): Promise<{ rows: CommandSummaryRecord[]; next?: IndexCursor }> {
    const sets = await this.setsFor(q);
    const rows: CommandSummaryRecord[] = [];
    let at = cursor;
    let examined = 0;
    for (;;) {
      const want = Math.min(SCAN_LIMIT - examined, Math.max(pageSize - rows.length + 16, 64));
      const batch = await this.candidates(sets, q, want, at);
      if (batch.length === 0) return { rows };
      examined += batch.length;
      const records = await this.read(batch.map((c) => c.id));
      const gone: string[] = [];
      for (let i = 0; i < batch.length; i++) {
        const r = records[i];
        at = batch[i];
        if (!r) {
          gone.push(batch[i].id);
          continue;
        }
        if (matches(r, q)) rows.push(r);
        if (rows.length === pageSize) {
          this.forget(sets, gone);
          // More may follow: the caller asks again from here (an empty last page is possible).
          return { rows, next: at };
        }
      }
      this.forget(sets, gone);
      if (batch.length < want) return { rows };
      if (examined >= SCAN_LIMIT) return { rows, next: at };
    }
  }

  /**
   * The index sets to read: of those the query names (parent, correlation id, target, type,
   * and the states' sets together), the one with the fewest ids (ZCARD is O(1)); every state
   * set when it names none.
   */
  private async setsFor(q: CommandQuery): Promise<string[]> {
    const p = this.keys.indexPrefix;
    const options: string[][] = [];
    if (q.parentId) options.push([`${p}parent:${q.parentId}`]);
    if (q.correlationId) options.push([`${p}corr:${q.correlationId}`]);
    if (q.target) options.push([`${p}target:${q.target}`]);
    if (q.commandType) options.push([`${p}type:${q.commandType}`]);
    if (q.states.length > 0) options.push([...new Set(q.states)].map((s) => `${p}state:${s}`));
    // No filter: every command is in exactly one state set.
    if (options.length === 0) return fixedIndexSets(this.keys);
    if (options.length === 1) return options[0];
    const pipeline = this.redis.pipeline();
    for (const sets of options) for (const key of sets) pipeline.zcard(key);
    const cards = ((await pipeline.exec()) ?? []).map(([err, n]) => {
      if (err) throw err;
      return Number(n);
    });
    let best = options[0];
    let bestSize = Infinity;
    let i = 0;
    for (const sets of options) {
      let size = 0;
      for (let k = 0; k < sets.length; k++) size += cards[i++];
      if (size < bestSize) [best, bestSize] = [sets, size];
    }
    return best;
  }

  /**
   * The next `count` entries after `cursor` over `sets`, newest first (merged when there are
   * several: one per state asked for).
   */
  private async candidates(sets: string[], q: CommandQuery, count: number, cursor?: IndexCursor): Promise<IndexCursor[]> {
    // After a cursor: the rest of its own millisecond (one route call records up to 100
    // commands at one time), then strictly older ones.
    const max = cursor ? `(${cursor.score}` : q.createdBefore > 0 ? `(${q.createdBefore}` : '+inf';
    const min = q.createdAfter > 0 ? String(q.createdAfter) : '-inf';
    const pipeline = this.redis.pipeline();
    for (const key of sets) {
      if (cursor && cursor.score >= (q.createdAfter || -Infinity)) pipeline.zrange(key, String(cursor.score), String(cursor.score), 'BYSCORE', 'REV', 'WITHSCORES');
      pipeline.zrange(key, max, min, 'BYSCORE', 'REV', 'LIMIT', 0, count, 'WITHSCORES');
    }
    const replies = (await pipeline.exec()) ?? [];
    const all: IndexCursor[] = [];
    for (const [err, flat] of replies) {
      if (err) throw err;
      const values = flat as string[];
      for (let i = 0; i < values.length; i += 2) {
        const entry = { id: values[i], score: Number(values[i + 1]) };
        if (!cursor || before(entry, cursor)) all.push(entry);
      }
    }
    all.sort((a, b) => (before(a, b) ? 1 : before(b, a) ? -1 : 0));
    const unique = all.filter((e, i) => i === 0 || e.id !== all[i - 1].id || e.score !== all[i - 1].score);
    return unique.slice(0, count);
  }

  private async read(ids: string[]): Promise<(CommandSummaryRecord | undefined)[]> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.command(id), ...SUMMARY_FIELDS);
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, values]) => {
      if (err) throw err;
      const v = values as (string | null)[];
      if (v[0] === null) return undefined;
      const r = {} as CommandSummaryRecord;
      SUMMARY_FIELDS.forEach((f, i) => (r[f] = v[i]));
      return r;
    });
  }

  /** Drops ids whose record expired from the sets just read; best effort. */
  private forget(sets: string[], ids: string[]): void {
    if (ids.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const key of sets) pipeline.zrem(key, ...ids);
    pipeline.exec().catch(() => undefined);
  }
}

/** The index sets with no TTL of their own (by state; together every command): trimmed by age. */
export function fixedIndexSets(keys: NexusKeys): string[] {
  return ['queued', 'delivered', 'retrying', 'succeeded', 'failed', 'dead', 'cancelled'].map((s) => `${keys.indexPrefix}state:${s}`);
}

/**
 * Drops from the fixed sets the ids created more than `lifeMs` ago: no record lives that long
 * (the largest TTL plus retention), so they are certainly gone. Returns how many went.
 */
export async function trimIndex(redis: Redis, keys: NexusKeys, lifeMs: number, nowMs = Date.now()): Promise<number> {
  const pipeline = redis.pipeline();
  for (const key of fixedIndexSets(keys)) pipeline.zremrangebyscore(key, '-inf', `(${nowMs - lifeMs}`);
  let removed = 0;
  for (const [err, n] of (await pipeline.exec()) ?? []) {
    if (err) throw err;
    removed += Number(n);
  }
  return removed;
}

/** Whether `a` comes after `b` in newest-first order (older, or the same time and a smaller id). */
function before(a: IndexCursor, b: IndexCursor): boolean {
  return a.score < b.score || (a.score === b.score && a.id < b.id);
}

function matches(r: CommandSummaryRecord, q: CommandQuery): boolean {
  if (q.states.length > 0 && !q.states.includes(r.state ?? '')) return false;
  if (q.target && r.target !== q.target) return false;
  if (q.commandType && r.command_type !== q.commandType) return false;
  if (q.correlationId && r.correlation_id !== q.correlationId) return false;
  if (q.parentId && r.parent_id !== q.parentId) return false;
  return true;
}
