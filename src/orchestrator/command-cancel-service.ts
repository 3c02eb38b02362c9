import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import type { CancelCommandsRequest, CancelCommandsResponse } from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import type { CommandIndex, CommandQuery } from '../redis-bridge/command-index';
import type { NexusKeys } from '../redis-bridge/keys';
import { callerOf, requestedBy } from './auth/caller';
import { commandQuery } from './command-filter';
import { InvalidArgument } from './invalid-argument';
import { UNFINISHED_STATES } from './command-states';

/** Most commands one CancelCommands acts on; beyond, `truncated` and the caller repeats. */
export const MAX_BULK = 10_000;
/** Cancel entries per pipeline; the event loop gets a turn between chunks. */
const CHUNK = 200;
const MAX_REASON = 200;

/**
 * CancelCommands: cancels go through the ingress as `command_cancel` entries (one per
 * command, written in chunks), so each is fenced, ordered behind its command and recorded
 * with who asked, exactly like a cancel XADDed by hand; repeating a request is harmless (a
 * finished command ignores a cancel).
 */
export class CommandCancelService {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly index: CommandIndex,
    private readonly logger: Logger,
  ) {}

  readonly cancelCommands = (call: ServerUnaryCall<CancelCommandsRequest, CancelCommandsResponse>, callback: sendUnaryData<CancelCommandsResponse>): void => {
    const q = call.request;
    if (q.reason.length > MAX_REASON) return callback({ code: status.INVALID_ARGUMENT, details: `reason: longer than ${MAX_REASON} characters` });
    if (q.commandIds.length > 0 && q.filter) return callback({ code: status.INVALID_ARGUMENT, details: 'command_ids and filter: give one of them, not both' });
    if (q.commandIds.length === 0 && !q.filter) return callback({ code: status.INVALID_ARGUMENT, details: 'command_ids or filter is required' });
    if (q.commandIds.length > MAX_BULK) return callback({ code: status.INVALID_ARGUMENT, details: `command_ids: at most ${MAX_BULK} per request` });
    let query: CommandQuery | undefined;
    try {
      if (q.filter) query = commandQuery(q.filter);
    } catch (err) {
      if (err instanceof InvalidArgument) return callback({ code: status.INVALID_ARGUMENT, details: err.message });
      throw err;
    }
    const by = requestedBy(callerOf(call));
    this.run(q, query, by).then(
      (res) => {
        if ('notFound' in res) return callback({ code: status.NOT_FOUND, details: res.notFound });
        if (!q.dryRun) this.logger.info({ matched: res.matched, submitted: res.submitted, by: by || undefined }, 'bulk cancel submitted');
        callback(null, res);
      },
      (err: Error) => {
        this.logger.warn({ err: err.message }, 'CancelCommands failed');
        callback({ code: status.UNAVAILABLE, details: 'redis unreachable; retry (repeating a cancel is harmless)' });
      },
    );
  };

  private async run(q: CancelCommandsRequest, query: CommandQuery | undefined, by: string): Promise<CancelCommandsResponse | { notFound: string }> {
    let ids: string[];
    let truncated = false;
    if (query) ({ ids, truncated } = await this.matching(query));
    else {
      const found = await this.unfinished(q.commandIds);
      if ('notFound' in found) return found;
      ids = found.ids;
    }
    if (q.dryRun) return { matched: ids.length, submitted: 0, truncated };
    for (let i = 0; i < ids.length; i += CHUNK) {
      const pipeline = this.redis.pipeline();
      for (const id of ids.slice(i, i + CHUNK)) {
        const fields = ['type', 'command_cancel', 'command_id', id];
        if (by) fields.push('requested_by', by);
        if (q.reason) fields.push('reason', q.reason);
        pipeline.xadd(this.keys.commandsStream, '*', ...fields);
      }
      const replies = (await pipeline.exec()) ?? [];
      for (const [err] of replies) if (err) throw err;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { matched: ids.length, submitted: ids.length, truncated };
  }

  /** Unfinished commands matching the query, newest first, at most MAX_BULK. */
  private async matching(query: CommandQuery): Promise<{ ids: string[]; truncated: boolean }> {
    const states = query.states.length > 0 ? query.states.filter((s) => UNFINISHED_STATES.includes(s)) : [...UNFINISHED_STATES];
    if (states.length === 0) return { ids: [], truncated: false };
    const narrowed = { ...query, states };
    const ids: string[] = [];
    let cursor;
    do {
      const page = await this.index.page(narrowed, Math.min(1000, MAX_BULK + 1 - ids.length), cursor);
      for (const r of page.rows) if (r.command_id) ids.push(r.command_id);
      cursor = page.next;
    } while (cursor && ids.length <= MAX_BULK);
    return { ids: ids.slice(0, MAX_BULK), truncated: ids.length > MAX_BULK };
  }

  /** The given ids that are still unfinished; NOT_FOUND naming the first unknown one. */
  private async unfinished(ids: string[]): Promise<{ ids: string[] } | { notFound: string }> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.keys.command(id), 'state');
    const replies = (await pipeline.exec()) ?? [];
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const [err, state] = replies[i];
      if (err) throw err;
      if (state === null) return { notFound: `command_ids[${i}]: no command ${ids[i]} (never seen, or its record expired)` };
      if (UNFINISHED_STATES.includes(state as string)) out.push(ids[i]);
    }
    return { ids: out };
  }
}
