import type Redis from 'ioredis';
import type { CommandSummary, FanoutSummary } from '../generated/nexus/prime/pulse';
import { SUMMARY_FIELDS, type CommandSummaryRecord } from '../redis-bridge/command-index';
import type { NexusKeys } from '../redis-bridge/keys';
import { toSummary } from './command-list-service';
import { pageSize } from './command-filter';
import { InvalidArgument } from './invalid-argument';
import { decodePageToken, encodePageToken } from './page-token';

/*
 * A fan-out parent as GetCommand and WatchCommand show it (docs/targeting.md):
 * its counters turned into counts by state, and pages of its children read from the command
 * index `<indexPrefix>parent:<id>` (scored by creation ms), oldest first.
 */

/** Skipped agents a summary lists (the first ones of the skipped zset, by id). */
export const SKIPPED_SHOWN = 100;

/** Whether a command record is a fan-out parent. */
export function isFanoutParent(record: Readonly<Record<string, string | undefined>>): boolean {
  return record.fanout === '1';
}

/** A non-negative whole number from a record field (absent or unreadable = 0). */
function count(value: string | undefined): number {
  const n = Math.floor(Number(value ?? 0));
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/**
 * The counts and rollout settings of a fan-out parent's record. Running = launched - finished;
 * pending (still to launch) = matched - launched - not_started; cancelled counts the children
 * never launched too. Counters read between two script steps cannot go below 0.
 */
export function fanoutSummary(record: Readonly<Record<string, string | undefined>>, skippedAgents: readonly string[] = []): FanoutSummary {
  const matched = count(record.matched);
  const launched = count(record.launched);
  const finished = count(record.finished);
  const notStarted = count(record.not_started);
  return {
    matched,
    skipped: count(record.skipped),
    launched,
    running: Math.max(0, launched - finished),
    pending: Math.max(0, matched - launched - notStarted),
    succeeded: count(record.n_succeeded),
    failed: count(record.n_failed),
    dead: count(record.n_dead),
    cancelled: count(record.n_cancelled) + notStarted,
    notStarted,
    batch: count(record.batch),
    batchSpec: record.batch_spec ?? '',
    maxFailures: count(record.max_failures),
    batchWaitMs: count(record.batch_wait_ms),
    includeOffline: record.include_offline === '1' || record.include_offline === 'true',
    stopReason: record.stop_reason ?? '',
    skippedAgents: [...skippedAgents],
    children: [],
    childrenNextPageToken: '',
    finished,
  };
}

/** Where a children page starts: a rank in the parent's index zset (oldest first). */
export interface ChildrenPage {
  readonly offset: number;
  readonly size: number;
}

/** The filter a children token is bound to: a token of another parent is refused. */
const tokenScope = (parentId: string) => ({ children_of: parentId });

/** The token for the children page starting at `offset`. */
export function encodeChildrenToken(parentId: string, offset: number): string {
  return encodePageToken(offset, tokenScope(parentId));
}

/** The page a GetCommandRequest asks for; InvalidArgument naming the field when it cannot be used. */
export function childrenPage(parentId: string, size: number, token: string): ChildrenPage {
  let resolved: number;
  try {
    resolved = pageSize(size);
  } catch (err) {
    if (err instanceof InvalidArgument) throw new InvalidArgument(`children_${err.message}`);
    throw err;
  }
  const decoded = decodePageToken(token, tokenScope(parentId));
  if (decoded === undefined) return { offset: 0, size: resolved };
  if (decoded === 'foreign') throw new InvalidArgument('children_page_token: belongs to another command');
  const p = decoded === 'malformed' ? undefined : decoded.position;
  if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0) throw new InvalidArgument('children_page_token: malformed (use children_next_page_token as given)');
  return { offset: p, size: resolved };
}

/**
 * One page of a parent's children, oldest first: ZRANGE by rank over the index zset (one
 * more than asked, to know whether a page follows), then the children's summary fields in one
 * pipeline. A child whose record expired is left out of the page (the ranks still count it).
 */
export async function readChildren(redis: Redis, keys: NexusKeys, parentId: string, page: ChildrenPage): Promise<{ children: CommandSummary[]; nextToken: string }> {
  const ids = await redis.zrange(`${keys.indexPrefix}parent:${parentId}`, String(page.offset), String(page.offset + page.size));
  const more = ids.length > page.size;
  const shown = more ? ids.slice(0, page.size) : ids;
  const children: CommandSummary[] = [];
  if (shown.length > 0) {
    const pipeline = redis.pipeline();
    for (const id of shown) pipeline.hmget(keys.command(id), ...SUMMARY_FIELDS);
    for (const [err, values] of (await pipeline.exec()) ?? []) {
      if (err) throw err;
      const v = values as (string | null)[];
      if (v[0] === null) continue;
      const r = {} as CommandSummaryRecord;
      SUMMARY_FIELDS.forEach((f, i) => (r[f] = v[i]));
      children.push(toSummary(r));
    }
  }
  return { children, nextToken: more ? encodeChildrenToken(parentId, page.offset + page.size) : '' };
}

/** The first SKIPPED_SHOWN skipped agents of a parent. */
export function readSkipped(redis: Redis, keys: NexusKeys, parentId: string): Promise<string[]> {
  return redis.zrange(keys.fanoutSkippedPrefix + parentId, '0', String(SKIPPED_SHOWN - 1));
}
