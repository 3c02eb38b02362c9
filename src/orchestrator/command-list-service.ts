import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { CommandState, type CommandSummary, type ListCommandsRequest, type ListCommandsResponse } from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import type { CommandIndex, CommandSummaryRecord } from '../redis-bridge/command-index';
import { commandQuery, decodeCursorToken, encodeCursorToken, pageSize } from './command-filter';
import { InvalidArgument } from './invalid-argument';
import { STATE_OF_RECORD } from './command-states';
import { progressOf } from './command-view';

/** ListCommands: a page of the command index, newest first (src/redis-bridge/command-index.ts). */
export class CommandListService {
  constructor(
    private readonly index: CommandIndex,
    private readonly replicaId: string,
    private readonly logger: Logger,
  ) {}

  readonly listCommands = (call: ServerUnaryCall<ListCommandsRequest, ListCommandsResponse>, callback: sendUnaryData<ListCommandsResponse>): void => {
    let query;
    let size;
    let cursor;
    try {
      query = commandQuery(call.request.filter);
      size = pageSize(call.request.pageSize);
      cursor = decodeCursorToken(call.request.pageToken, query);
    } catch (err) {
      if (err instanceof InvalidArgument) return callback({ code: status.INVALID_ARGUMENT, details: err.message });
      throw err;
    }
    this.index.page(query, size, cursor).then(
      ({ rows, next }) => callback(null, { commands: rows.map(toSummary), nextPageToken: next ? encodeCursorToken(next, query) : '', answeredBy: this.replicaId }),
      (err: Error) => {
        this.logger.warn({ err: err.message }, 'ListCommands failed');
        callback({ code: status.UNAVAILABLE, details: 'command index unavailable (redis unreachable); retry' });
      },
    );
  };
}

/** A list row from a record's summary fields. */
export function toSummary(r: CommandSummaryRecord): CommandSummary {
  return {
    commandId: r.command_id ?? '',
    state: STATE_OF_RECORD[r.state ?? ''] ?? CommandState.COMMAND_STATE_UNSPECIFIED,
    target: r.target ?? '',
    commandType: r.command_type ?? '',
    priority: Number(r.priority ?? 0),
    attempts: Number(r.attempt ?? 0),
    correlationId: r.correlation_id ?? '',
    parentId: r.parent_id ?? '',
    createdAtUnixMs: Number(r.queued_at ?? 0),
    finishedAtUnixMs: Number(r.finished_at ?? 0),
    deadReason: r.dead_reason ?? '',
    error: (r.error ?? '').slice(0, 200),
    progress: progressOf(r),
  };
}
