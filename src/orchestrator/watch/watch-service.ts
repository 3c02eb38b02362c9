import type Redis from 'ioredis';
import type { Gauge } from 'prom-client';
import type { NexusKeys } from '../../redis-bridge/keys';
import type { Logger } from '../../shared/logger';
import { EventsTail } from './events-tail';
import { watchCommandHandler } from './watch-command';
import { watchEventsHandler } from './watch-events';
import { WatchRegistry } from './watch-registry';

/** How often each WatchCommand reads its command's progress/log stream (ms). */
const LOG_POLL_MS = 200;

/** What the watch RPCs need from their replica. */
export interface WatchServiceOptions {
  /** Opens the events tail's own (blocking) connection; called with the first watcher. */
  readonly connectTail: () => Redis;
  /** The replica's command connection (catch-up pages, records, log streams). */
  readonly redis: Redis;
  readonly keys: NexusKeys;
  /** `MAX_WATCHERS` */
  readonly maxWatchers: number;
  readonly gauge: Gauge<'kind'>;
  readonly logger: Logger;
}

/** WatchCommand and WatchEvents of one replica: their handlers, shared tail and bounds. */
export class WatchService {
  private readonly tail: EventsTail;
  private readonly registry: WatchRegistry;
  readonly watchCommand: ReturnType<typeof watchCommandHandler>;
  readonly watchEvents: ReturnType<typeof watchEventsHandler>;

  constructor(o: WatchServiceOptions) {
    this.tail = new EventsTail(o.connectTail, o.keys.events, o.logger.child({ component: 'watch-tail' }));
    this.registry = new WatchRegistry(o.maxWatchers, o.gauge);
    const deps = { redis: o.redis, tail: this.tail, registry: this.registry, logger: o.logger };
    this.watchCommand = watchCommandHandler({ ...deps, keys: o.keys, logPollMs: LOG_POLL_MS });
    this.watchEvents = watchEventsHandler({ ...deps, eventsKey: o.keys.events });
  }

  /** Refuses new watches, ends the open ones (UNAVAILABLE, with their position) and closes the tail. */
  close(): Promise<void> {
    this.registry.closeAll();
    return this.tail.close();
  }
}
