import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import type { LifecycleEvent, WatchEventsRequest } from '../../generated/nexus/prime/pulse';
import type { Logger } from '../../shared/logger';
import { EVENT_TYPES, lifecycleEvent, type RawEvent } from './event-entries';
import { EventFeed } from './event-feed';
import type { EventsTail } from './events-tail';
import { normalizeStreamId, streamIdBefore } from './stream-ids';
import { OUTBOX_MAX, WatchOutbox } from './watch-outbox';
import type { WatchRegistry } from './watch-registry';

/** What WatchEvents reads from. */
export interface WatchEventsDeps {
  readonly redis: Redis;
  readonly eventsKey: string;
  readonly tail: EventsTail;
  readonly registry: WatchRegistry;
  readonly logger: Logger;
}

/** A checked WatchEventsRequest, or the INVALID_ARGUMENT details naming the bad field. */
export function checkWatchEvents(q: WatchEventsRequest): { types: Set<string>; after: string | undefined } | string {
  for (const [i, t] of q.types.entries()) {
    if (!EVENT_TYPES.has(t)) return `types[${i}]: unknown event type ${JSON.stringify(t.slice(0, 64))} (one of ${[...EVENT_TYPES].join(', ')})`;
  }
  if (q.agentId.length > 128) return 'agent_id: at most 128 characters';
  if (q.commandId.length > 128) return 'command_id: at most 128 characters';
  let after: string | undefined;
  if (q.after) {
    after = normalizeStreamId(q.after);
    if (!after) return `after: not a stream entry id (<ms>-<seq>): ${JSON.stringify(q.after.slice(0, 64))}`;
  }
  return { types: new Set(q.types), after };
}

/**
 * WatchEvents: the events stream, filtered, from now or after an entry id, until the client
 * leaves or the replica drains. Each event carries its id, the position to resume from.
 */
export function watchEventsHandler(deps: WatchEventsDeps): (call: ServerWritableStream<WatchEventsRequest, LifecycleEvent>) => void {
  return (call) => {
    const checked = checkWatchEvents(call.request);
    if (typeof checked === 'string') return call.emit('error', { code: status.INVALID_ARGUMENT, details: checked });
    const refused = deps.registry.refusal();
    if (refused) return call.emit('error', refused);
    const { types, after } = checked;
    const { agentId, commandId } = call.request;

    const watch = {
      kind: 'events' as const,
      fail: (code: status, reason: string) => outbox.fail(code, reason),
    };
    const outbox: WatchOutbox<LifecycleEvent> = new WatchOutbox(call as ServerWritableStream<unknown, LifecycleEvent>, after ?? '', () => {
      feed.stop();
      deps.registry.remove(watch);
    });
    const feed = new EventFeed(deps.tail, deps.redis, deps.eventsKey, {
      accept: (e: RawEvent) =>
        (types.size === 0 || types.has(e.fields.type ?? '')) &&
        (!agentId || e.fields.agent_id === agentId) &&
        (!commandId || e.fields.command_id === commandId),
      deliver: (e) => {
        // From now: before anything is written, resuming "just before" the first event misses nothing.
        outbox.startAt(streamIdBefore(e.id));
        return outbox.push(lifecycleEvent(e), e.id);
      },
      whenRoom: (n) => outbox.whenRoom(n),
      overflow: () => outbox.fail(status.RESOURCE_EXHAUSTED, `watcher too slow (more than ${OUTBOX_MAX} events waiting); resume`),
    }, OUTBOX_MAX);
    deps.registry.add(watch);
    feed.start(after).catch((err: Error) => {
      deps.logger.warn({ err: err.message }, 'WatchEvents could not read the events stream');
      outbox.fail(status.UNAVAILABLE, 'events stream unavailable (redis unreachable); resume');
    });
  };
}
