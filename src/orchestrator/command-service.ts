import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import {
  CommandState,
  type GetCommandRequest,
  type GetCommandResponse,
  type SubmitCommandRequest,
  type SubmitCommandResponse,
} from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import type { CommandStore } from '../redis-bridge/command-store';
import { parseIngressEntry, type EntryRules } from '../redis-bridge/ingress-entry';
import type { NexusKeys } from '../redis-bridge/keys';
import { callerOf, requestedBy } from './auth/caller';

const STATES: Record<string, CommandState> = {
  queued: CommandState.COMMAND_STATE_QUEUED,
  delivered: CommandState.COMMAND_STATE_DELIVERED,
  retrying: CommandState.COMMAND_STATE_RETRYING,
  succeeded: CommandState.COMMAND_STATE_SUCCEEDED,
  failed: CommandState.COMMAND_STATE_FAILED,
  dead: CommandState.COMMAND_STATE_DEAD,
  cancelled: CommandState.COMMAND_STATE_CANCELLED,
};

/** GetCommand (record + timeline) and SubmitCommand (an XADD to the ingress, validated first). */
export class CommandService {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly store: CommandStore,
    private readonly rules: EntryRules,
    private readonly logger: Logger,
  ) {}

  readonly getCommand = (call: ServerUnaryCall<GetCommandRequest, GetCommandResponse>, callback: sendUnaryData<GetCommandResponse>): void => {
    const id = call.request.commandId;
    if (!id || id.length > 128) return callback({ code: status.INVALID_ARGUMENT, details: 'command_id is required (at most 128 characters)' });
    this.store.get(id).then(
      (found) => {
        if (!found) return callback({ code: status.NOT_FOUND, details: `no command ${id} (never seen, or its record expired)` });
        const r = found.record;
        callback(null, {
          commandId: r.command_id,
          state: STATES[r.state] ?? CommandState.COMMAND_STATE_UNSPECIFIED,
          target: r.target ?? '',
          commandType: r.command_type ?? '',
          priority: Number(r.priority ?? 0),
          attempts: Number(r.attempt ?? 0),
          maxAttempts: Number(r.max_attempts ?? 0),
          handledBy: r.handled_by ?? '',
          deliveredBy: r.delivered_by ?? '',
          output: r.output ?? '',
          error: r.error ?? '',
          deadReason: r.dead_reason ?? '',
          correlationId: r.correlation_id ?? '',
          timeline: found.timeline.map(parseStep),
          progress: progressOf(r),
          redriveOf: r.redrive_of ?? '',
          parentId: r.parent_id ?? '',
          createdAtUnixMs: Number(r.queued_at ?? 0),
          finishedAtUnixMs: Number(r.finished_at ?? 0),
          // The route script records the ingress field `requested_by` under that name.
          submittedBy: r.requested_by ?? '',
        });
      },
      (err: Error) => {
        this.logger.warn({ err: err.message }, 'GetCommand failed');
        callback({ code: status.UNAVAILABLE, details: 'command store unavailable (redis unreachable); retry' });
      },
    );
  };

  readonly submitCommand = (call: ServerUnaryCall<SubmitCommandRequest, SubmitCommandResponse>, callback: sendUnaryData<SubmitCommandResponse>): void => {
    const q = call.request;
    const fields: string[] = ['type', 'command_issued', 'target', q.target, 'command_type', q.commandType];
    if (q.commandId) fields.push('command_id', q.commandId);
    if (q.priority) fields.push('priority', q.priority);
    if (q.payload) fields.push('payload', q.payload);
    if (q.correlationId) fields.push('correlation_id', q.correlationId);
    if (q.maxAttempts) fields.push('max_attempts', String(q.maxAttempts));
    if (q.ttlMs) fields.push('ttl_ms', String(q.ttlMs));
    // Who asked (the role guard set the caller): the timeline shows `by operator/alice`, command_queued carries `by`.
    const by = requestedBy(callerOf(call));
    if (by) fields.push('requested_by', by);
    // The same validation the consumer applies, so a bad request fails here and not in the DLQ.
    const checked = parseIngressEntry('pending', fields.map((f) => Buffer.from(f, 'utf8')), this.rules);
    if (checked.kind === 'invalid') return callback({ code: status.INVALID_ARGUMENT, details: checked.error });
    this.redis.xadd(this.keys.commandsStream, '*', ...fields).then(
      (entryId) => callback(null, { entryId: entryId ?? '', commandId: q.commandId || (entryId ?? '') }),
      (err: Error) => {
        this.logger.warn({ err: err.message }, 'SubmitCommand failed');
        callback({ code: status.UNAVAILABLE, details: 'ingress unavailable (redis unreachable); retry' });
      },
    );
  };
}

/** The newest progress an agent reported (ctx.progress), or undefined when none was. */
function progressOf(r: Record<string, string>): GetCommandResponse['progress'] {
  if (r.progress_at === undefined) return undefined;
  return {
    percent: Number(r.progress_percent ?? 0) || 0,
    message: r.progress_message ?? '',
    atUnixMs: Number(r.progress_at) || 0,
    attempt: Number(r.progress_attempt ?? 0) || 0,
  };
}

function parseStep(text: string): GetCommandResponse['timeline'][number] {
  try {
    const s = JSON.parse(text) as { event?: string; at?: number; replica?: string; attempt?: number; detail?: string };
    return { event: s.event ?? '', atUnixMs: s.at ?? 0, replicaId: s.replica ?? '', attempt: s.attempt ?? 0, detail: s.detail ?? '' };
  } catch {
    return { event: 'unreadable', atUnixMs: 0, replicaId: '', attempt: 0, detail: text.slice(0, 200) };
  }
}
