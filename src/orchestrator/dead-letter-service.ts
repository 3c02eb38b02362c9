import { status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import type {
  DeadLetter,
  ListDeadLettersRequest,
  ListDeadLettersResponse,
  PurgeDeadLettersRequest,
  PurgeDeadLettersResponse,
  RedriveDeadLettersRequest,
  RedriveDeadLettersResponse,
} from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import { redriveCommandId, redriveRequest, type DeadLetterEntry } from '../redis-bridge/dead-letter-redrive';
import type { EntryRules } from '../redis-bridge/ingress-entry';
import { SCAN_CHUNK, type DeadLetters, type DeadLetterSelector } from '../redis-bridge/dead-letters';
import type { EventLog } from '../redis-bridge/event-log';
import { callerOf, requestedBy } from './auth/caller';
import { idsOrFilter, pageStart, pageToken, selectorOf } from './dead-letter-query';
import { InvalidArgument } from './invalid-argument';

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
/** Entries one ListDeadLetters page examines at most: a sparse filter returns a short page and a token. */
export const PAGE_EXAMINE = 5000;
/** Bytes of dead-letter fields one ListDeadLetters page holds at most (then it ends early, with a token). */
export const PAGE_BYTES = 512 * 1024;
/** Dead letters one redrive request submits at most (the caller repeats for the rest). */
export const REDRIVE_MAX = 1000;
/** Dead letters one purge request deletes at most. */
export const PURGE_MAX = 10_000;
/** counts_by_reason and total are recounted at most this often per replica. */
const COUNTS_TTL_MS = 1000;

type Counts = { total: number; byReason: Record<string, number> };

/** ListDeadLetters, RedriveDeadLetters and PurgeDeadLetters over `nexus:commands:dlq`. */
export class DeadLetterService {
  private counts: { at: number; value: Promise<Counts> } | undefined;

  constructor(
    private readonly deadLetters: DeadLetters,
    private readonly rules: EntryRules,
    private readonly events: EventLog,
    private readonly replicaId: string,
    private readonly logger: Logger,
  ) {}

  /** Why a redrive of `letter` would be dead-lettered `invalid` ('' when it would run): checked here, so none is submitted. */
  private problemOf(letter: DeadLetterEntry): string {
    const request = redriveRequest(letter, '', '', this.rules);
    return request.kind === 'invalid' ? request.error : '';
  }

  readonly listDeadLetters = (call: ServerUnaryCall<ListDeadLettersRequest, ListDeadLettersResponse>, callback: sendUnaryData<ListDeadLettersResponse>): void => {
    this.answer('ListDeadLetters', callback, async () => {
      const q = call.request;
      if (q.pageSize > MAX_PAGE_SIZE) throw new InvalidArgument(`page_size must be at most ${MAX_PAGE_SIZE}, got ${q.pageSize}`);
      const selector = selectorOf(q.filter);
      const start = pageStart(q.pageToken, selector);
      const [page, counts] = await Promise.all([this.page(selector, start, q.pageSize || DEFAULT_PAGE_SIZE), this.currentCounts()]);
      return {
        deadLetters: page.rows.map(toDeadLetter),
        nextPageToken: page.after ? pageToken(page.after, selector) : '',
        countsByReason: counts.byReason,
        total: counts.total,
      };
    });
  };

  readonly redriveDeadLetters = (call: ServerUnaryCall<RedriveDeadLettersRequest, RedriveDeadLettersResponse>, callback: sendUnaryData<RedriveDeadLettersResponse>): void => {
    this.answer('RedriveDeadLetters', callback, async () => {
      const q = call.request;
      const which = idsOrFilter(q.ids, q.filter, REDRIVE_MAX);
      let matched: number;
      let letters: DeadLetterEntry[];
      let truncated = false;
      if ('ids' in which) {
        letters = await this.byIds(which.ids, q.ids);
        letters.forEach((letter) => {
          const problem = this.problemOf(letter);
          if (problem) throw new Refused(status.FAILED_PRECONDITION, `ids[${q.ids.indexOf(letter.id)}]: ${problem}`);
        });
        matched = letters.length;
      } else {
        ({ matched, letters, truncated } = await this.matchingRedrivable(which.selector, q.dryRun));
      }
      if (q.dryRun) return { matched, redriven: 0, commandIds: [], truncated };
      const commandIds = letters.map(redriveCommandId);
      // A redrive whose command exists ran (or runs) already: not submitted again.
      const done = await this.deadLetters.recorded(commandIds);
      const fresh = letters.filter((_, i) => !done[i]);
      const submitted = fresh.slice(0, REDRIVE_MAX);
      if (fresh.length > submitted.length) truncated = true;
      const by = requestedBy(callerOf(call));
      await this.deadLetters.submitRedrives(submitted.map((l) => l.id), by);
      this.counts = undefined;
      const already = commandIds.filter((_, i) => done[i]);
      this.logger.info({ matched, redriven: submitted.length, alreadyRedriven: already.length, truncated, by }, 'dead letters redriven');
      return {
        matched,
        redriven: submitted.length,
        // The commands that carry the redrive out: those submitted now first, then earlier ones.
        commandIds: [...submitted.map(redriveCommandId), ...already].slice(0, REDRIVE_MAX),
        truncated,
      };
    });
  };

  readonly purgeDeadLetters = (call: ServerUnaryCall<PurgeDeadLettersRequest, PurgeDeadLettersResponse>, callback: sendUnaryData<PurgeDeadLettersResponse>): void => {
    this.answer('PurgeDeadLetters', callback, async () => {
      const q = call.request;
      const which = idsOrFilter(q.ids, q.filter, PURGE_MAX);
      let ids: string[];
      let matched: number;
      if ('ids' in which) {
        // Ids no longer there are not an error: a repeated purge answers purged 0.
        ids = (await this.deadLetters.get(which.ids)).flatMap((l) => (l ? [l.id] : []));
        matched = ids.length;
      } else {
        ({ ids, matched } = await this.matchingIds(which.selector, PURGE_MAX));
      }
      if (q.dryRun) return { matched, purged: 0, truncated: matched > ids.length };
      const purged = await this.deadLetters.delete(ids);
      this.counts = undefined;
      const by = requestedBy(callerOf(call));
      this.logger.info({ matched, purged, by }, 'dead letters purged');
      // Who deleted what stays on record after the dead letters are gone.
      if (purged > 0) {
        const fields: Record<string, string | number> = { count: purged, replica: this.replicaId };
        if (by) fields.by = by;
        if (ids.length <= 10) fields.ids = ids.join(',');
        await this.events.emit('dead_letters_purged', fields).catch((err: Error) => this.logger.warn({ err: err.message }, 'purge event not written'));
      }
      return { matched, purged, truncated: matched > ids.length };
    });
  };

  /**
   * One page, newest first, examining at most PAGE_EXAMINE entries and holding at most
   * PAGE_BYTES of fields (1,000 dead letters with 4 KB payloads would pass the gRPC message
   * limit); `after` '' at the end.
   */
  private async page(selector: DeadLetterSelector, start: string, size: number): Promise<{ rows: DeadLetterEntry[]; after: string }> {
    const rows: DeadLetterEntry[] = [];
    let bytes = 0;
    let from = start;
    for (let budget = PAGE_EXAMINE; budget > 0; ) {
      const examine = Math.min(SCAN_CHUNK, budget);
      budget -= examine;
      const want = size - rows.length;
      const scan = await this.deadLetters.scan('entries', selector, from, examine, want);
      for (const [i, entry] of scan.entries.entries()) {
        rows.push(entry);
        bytes += sizeOf(entry);
        const more = i < scan.entries.length - 1 || scan.matched > want || !scan.done;
        if (bytes >= PAGE_BYTES && more) return { rows, after: entry.id };
      }
      // More matched than fit: the next page starts after the last one returned.
      if (scan.matched > want) return { rows, after: rows[rows.length - 1].id };
      if (scan.done) return { rows, after: '' };
      from = scan.last;
      if (rows.length === size) break;
    }
    return { rows, after: from };
  }

  /** The dead letters named, in order; NOT_FOUND naming the first unknown one. */
  private async byIds(ids: string[], asGiven: readonly string[]): Promise<DeadLetterEntry[]> {
    const found = await this.deadLetters.get(ids);
    const missing = found.findIndex((l) => !l);
    if (missing >= 0) throw new Refused(status.NOT_FOUND, `ids[${asGiven.indexOf(ids[missing])}]: no dead letter ${ids[missing]}`);
    return found as DeadLetterEntry[];
  }

  /**
   * Matches over the whole DLQ, newest first: how many, and (unless counting only) up to
   * PURGE_MAX of them that can be redriven (not a dead-lettered cancel, a cut payload or an
   * entry that is invalid as it stands).
   */
  private async matchingRedrivable(selector: DeadLetterSelector, countOnly: boolean): Promise<{ matched: number; letters: DeadLetterEntry[]; truncated: boolean }> {
    const letters: DeadLetterEntry[] = [];
    let matched = 0;
    let truncated = false;
    let from = '';
    for (;;) {
      // Past the cap only counts are needed: ids mode moves no fields.
      const full = countOnly || letters.length >= PURGE_MAX;
      const scan = await this.deadLetters.scan(full ? 'ids' : 'entries', selector, from, SCAN_CHUNK, full ? 0 : SCAN_CHUNK);
      matched += scan.matched;
      if (full && scan.matched > 0 && !countOnly) truncated = true;
      for (const entry of scan.entries) if (!this.problemOf(entry)) letters.push(entry);
      if (scan.done || scan.last === from) break;
      from = scan.last;
    }
    return { matched, letters, truncated };
  }

  /** How many match over the whole DLQ, and the ids of the newest `max` of them. */
  private async matchingIds(selector: DeadLetterSelector, max: number): Promise<{ matched: number; ids: string[] }> {
    const ids: string[] = [];
    let matched = 0;
    let from = '';
    for (;;) {
      const scan = await this.deadLetters.scan('ids', selector, from, SCAN_CHUNK, max - ids.length);
      matched += scan.matched;
      ids.push(...scan.entries.map((e) => e.id));
      if (scan.done || scan.last === from) break;
      from = scan.last;
    }
    return { matched, ids };
  }

  /** Counts over the whole DLQ, shared by the calls of one second (one walk at a time). */
  private currentCounts(): Promise<Counts> {
    const now = Date.now();
    if (!this.counts || now - this.counts.at > COUNTS_TTL_MS) {
      const value = this.deadLetters.counts();
      this.counts = { at: now, value };
      value.catch(() => {
        if (this.counts?.value === value) this.counts = undefined;
      });
    }
    return this.counts.value;
  }

  private answer<T>(rpc: string, callback: sendUnaryData<T>, work: () => Promise<T>): void {
    work().then(
      (response) => callback(null, response),
      (err: Error) => {
        if (err instanceof InvalidArgument) return callback({ code: status.INVALID_ARGUMENT, details: err.message } as ServiceError);
        if (err instanceof Refused) return callback({ code: err.code, details: err.message } as ServiceError);
        this.logger.warn({ rpc, err: err.message }, 'dead-letter request failed');
        callback({ code: status.UNAVAILABLE, details: 'dead-letter queue unavailable (redis unreachable); retry' } as ServiceError);
      },
    );
  }
}

/** A request that cannot be done as asked, with its status. */
class Refused extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

function sizeOf({ id, fields }: DeadLetterEntry): number {
  let n = id.length + 64;
  for (const [k, v] of Object.entries(fields)) n += 2 * (k.length + v.length) + 8;
  return n;
}

function toDeadLetter({ id, fields: f }: DeadLetterEntry): DeadLetter {
  return {
    id,
    commandId: f.command_id ?? '',
    reason: f.reason ?? '',
    error: f.error ?? '',
    target: f.target ?? '',
    commandType: f.command_type ?? '',
    attempts: Number(f.attempts ?? 0) || 0,
    deadAtUnixMs: Number(f.dead_at ?? 0) || 0,
    replicaId: f.replica ?? '',
    sourceId: f.source_id ?? '',
    fields: f,
  };
}
