import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import {
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
import { commandView } from './command-view';
import { childrenPage, fanoutSummary, isFanoutParent, readChildren, readSkipped, type ChildrenPage } from './fanout-view';
import { InvalidArgument } from './invalid-argument';

/** GetCommand (record + timeline; a fan-out parent's counts and children too) and SubmitCommand (an XADD to the ingress, validated first). */
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
    let page: ChildrenPage;
    try {
      // Checked for every command (a bad token is refused even when the command has no children).
      page = childrenPage(id, call.request.childrenPageSize, call.request.childrenPageToken);
    } catch (err) {
      if (err instanceof InvalidArgument) return callback({ code: status.INVALID_ARGUMENT, details: err.message });
      throw err;
    }
    this.read(id, page).then(
      (view) => {
        if (!view) return callback({ code: status.NOT_FOUND, details: `no command ${id} (never seen, or its record expired)` });
        callback(null, view);
      },
      (err: Error) => {
        this.logger.warn({ err: err.message }, 'GetCommand failed');
        callback({ code: status.UNAVAILABLE, details: 'command store unavailable (redis unreachable); retry' });
      },
    );
  };

  /** The record as GetCommand answers it; a fan-out parent with its summary and one page of children. */
  private async read(id: string, page: ChildrenPage): Promise<GetCommandResponse | undefined> {
    const found = await this.store.get(id);
    if (!found) return undefined;
    const view = commandView({ ...found.record, timeline: found.timeline.join('\n') });
    if (!isFanoutParent(found.record)) return view;
    const [skipped, { children, nextToken }] = await Promise.all([readSkipped(this.redis, this.keys, id), readChildren(this.redis, this.keys, id, page)]);
    view.fanout = { ...fanoutSummary(found.record, skipped), children, childrenNextPageToken: nextToken };
    return view;
  }

  readonly submitCommand = (call: ServerUnaryCall<SubmitCommandRequest, SubmitCommandResponse>, callback: sendUnaryData<SubmitCommandResponse>): void => {
    // Who asked (the role guard set the caller): the timeline shows `by operator/alice`, command_queued carries `by`.
    const fields = ingressFields(call.request, requestedBy(callerOf(call)));
    // The same validation the consumer applies, so a bad request fails here and not in the DLQ.
    const checked = parseIngressEntry('pending', fields.map((f) => Buffer.from(f, 'utf8')), this.rules);
    if (checked.kind === 'invalid') return callback({ code: status.INVALID_ARGUMENT, details: checked.error });
    this.redis.xadd(this.keys.commandsStream, '*', ...fields).then(
      (entryId) => callback(null, { entryId: entryId ?? '', commandId: call.request.commandId || (entryId ?? '') }),
      (err: Error) => {
        this.logger.warn({ err: err.message }, 'SubmitCommand failed');
        callback({ code: status.UNAVAILABLE, details: 'ingress unavailable (redis unreachable); retry' });
      },
    );
  };
}

/**
 * The ingress entry (XADD field/value list) for a SubmitCommandRequest: the optional fields only
 * when set. `target` or `selector`: an empty target goes in only without a selector, so the
 * ingress validation names what is missing.
 */
export function ingressFields(q: SubmitCommandRequest, by: string | undefined): string[] {
  const fields: string[] = ['type', 'command_issued'];
  if (q.target || !q.selector) fields.push('target', q.target);
  fields.push('command_type', q.commandType);
  if (q.selector) fields.push('selector', q.selector);
  if (q.pick) fields.push('pick', q.pick);
  if (q.batch) fields.push('batch', q.batch);
  if (q.batchWaitMs) fields.push('batch_wait_ms', String(q.batchWaitMs));
  if (q.maxFailures) fields.push('max_failures', String(q.maxFailures));
  if (q.includeOffline) fields.push('include_offline', 'true');
  if (q.commandId) fields.push('command_id', q.commandId);
  if (q.priority) fields.push('priority', q.priority);
  if (q.payload) fields.push('payload', q.payload);
  if (q.correlationId) fields.push('correlation_id', q.correlationId);
  if (q.maxAttempts) fields.push('max_attempts', String(q.maxAttempts));
  if (q.ttlMs) fields.push('ttl_ms', String(q.ttlMs));
  if (by) fields.push('requested_by', by);
  return fields;
}
