import type Redis from 'ioredis';
import type { DeadLetterEntry } from './dead-letter-redrive';
import type { NexusKeys } from './keys';
import { decodeScanReply, type DeadLetterScan } from './script-replies';

/** Which dead letters: every field given must match (reasons: any of them); empty = any. */
export interface DeadLetterSelector {
  reasons: readonly string[];
  target: string;
  commandType: string;
}

/** Entries one scan script call examines: a few milliseconds of Redis time at most. */
export const SCAN_CHUNK = 1000;
/** Ids per XDEL, XRANGE or XADD pipeline chunk. */
const WRITE_CHUNK = 500;

/** Reads and deletes dead letters (`nexus:commands:dlq`), filtering in Redis (scanDeadLetters). */
export class DeadLetters {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
  ) {}

  /**
   * Examines up to `examine` entries, newest first, from just before `start` ('' = the
   * newest); returns up to `want` matches (with fields, or ids only) and how many matched.
   */
  async scan(mode: 'entries' | 'ids', selector: DeadLetterSelector, start: string, examine: number, want: number): Promise<DeadLetterScan> {
    const reply = await this.redis.scanDeadLetters(this.keys.dlq, mode, start, examine, want, selector.target, selector.commandType, ...selector.reasons);
    return decodeScanReply(reply, mode);
  }

  /**
   * Dead letters by reason and in total over the whole stream (bounded by its cap), counted
   * in Redis a chunk at a time so no call holds Redis long.
   */
  async counts(): Promise<{ total: number; byReason: Record<string, number> }> {
    const byReason: Record<string, number> = {};
    let total = 0;
    let start = '';
    // The cap (DLQ_MAXLEN, at most 10,000,000) bounds the walk; the guard only stops a runaway.
    for (let calls = 0; calls < 20_000; calls++) {
      const scan = decodeScanReply(await this.redis.scanDeadLetters(this.keys.dlq, 'count', start, SCAN_CHUNK * 5, 0, '', ''), 'count');
      total += scan.matched;
      for (const [reason, n] of Object.entries(scan.counts)) byReason[reason] = (byReason[reason] ?? 0) + n;
      if (scan.done || scan.last === start) break;
      start = scan.last;
    }
    return { total, byReason };
  }

  /** The dead letters with these ids, in order (undefined for an id not in the stream). */
  async get(ids: readonly string[]): Promise<(DeadLetterEntry | undefined)[]> {
    const out: (DeadLetterEntry | undefined)[] = [];
    for (let i = 0; i < ids.length; i += WRITE_CHUNK) {
      const pipeline = this.redis.pipeline();
      for (const id of ids.slice(i, i + WRITE_CHUNK)) pipeline.xrange(this.keys.dlq, id, id);
      for (const [err, reply] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        const entry = (reply as [string, string[]][])[0];
        out.push(entry ? { id: entry[0], fields: toObject(entry[1]) } : undefined);
      }
    }
    return out;
  }

  /** Deletes these dead letters (XDEL in chunks); returns how many were there. */
  async delete(ids: readonly string[]): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < ids.length; i += WRITE_CHUNK) deleted += await this.redis.xdel(this.keys.dlq, ...ids.slice(i, i + WRITE_CHUNK));
    return deleted;
  }

  /**
   * Writes one `command_redrive` ingress entry per dead letter (pipelined in chunks), so a
   * redrive goes through the normal route path: fenced, deduplicated and recorded.
   */
  async submitRedrives(deadLetterIds: readonly string[], requestedBy: string): Promise<void> {
    for (let i = 0; i < deadLetterIds.length; i += WRITE_CHUNK) {
      const pipeline = this.redis.pipeline();
      for (const id of deadLetterIds.slice(i, i + WRITE_CHUNK)) {
        const fields = ['type', 'command_redrive', 'dead_letter_id', id];
        if (requestedBy) fields.push('requested_by', requestedBy);
        pipeline.xadd(this.keys.commandsStream, '*', ...fields);
      }
      for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
    }
  }

  /** Which of these command ids have a record (a redrive already routed). */
  async recorded(commandIds: readonly string[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < commandIds.length; i += WRITE_CHUNK) {
      const pipeline = this.redis.pipeline();
      for (const id of commandIds.slice(i, i + WRITE_CHUNK)) pipeline.exists(this.keys.command(id));
      for (const [err, n] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        out.push(Number(n) > 0);
      }
    }
    return out;
  }
}

function toObject(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}
