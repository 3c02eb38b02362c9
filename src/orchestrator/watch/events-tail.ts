import type Redis from 'ioredis';
import type { Logger } from '../../shared/logger';
import { rawEvent, type RawEvent } from './event-entries';

/** Entries per blocking read of the tail. */
const READ_COUNT = 500;
/** Longest blocking read: how soon the loop notices it has no listeners left, or is closed. */
const BLOCK_MS = 1000;
/** Pause after a failed read (Redis away) before the next one. */
const RETRY_MS = 500;

/** A listener's hold on the tail. */
export interface TailSubscription {
  /** Resolves once the tail reads live: every entry added after this is passed to the listener. */
  readonly ready: Promise<void>;
  unsubscribe(): void;
}

/**
 * The replica's one reader of the events stream for all its watchers: a blocking XREAD loop
 * on a connection of its own (opened with the first listener), passing each batch of new
 * entries to every listener. One read per replica, not one per watcher; the loop stops when
 * the last listener leaves and starts again (from the stream's end) with the next.
 */
export class EventsTail {
  private readonly listeners = new Set<(entries: readonly RawEvent[]) => void>();
  private connection: Redis | undefined;
  private loop: Promise<void> | undefined;
  private live: Promise<void> = Promise.resolve();
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;

  constructor(
    private readonly connect: () => Redis,
    private readonly key: string,
    private readonly log: Logger,
  ) {}

  /** Adds a listener; entries reach it in stream order, in batches. */
  subscribe(listener: (entries: readonly RawEvent[]) => void): TailSubscription {
    if (this.closed) throw new Error('events tail closed');
    this.listeners.add(listener);
    if (!this.loop) {
      let markLive!: () => void;
      this.live = new Promise((resolve) => (markLive = resolve));
      this.loop = this.run(markLive);
    }
    return { ready: this.live, unsubscribe: () => this.listeners.delete(listener) };
  }

  /** Listeners now (for tests and metrics). */
  get size(): number {
    return this.listeners.size;
  }

  /** Stops the loop and closes the connection (a read in progress is cut). */
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    // Disconnect rather than QUIT: a QUIT would wait behind the blocked XREAD.
    this.connection?.disconnect();
    await this.loop;
  }

  private async run(markLive: () => void): Promise<void> {
    const redis = (this.connection ??= this.connect());
    let cursor: string | undefined;
    try {
      while (!this.closed && this.listeners.size > 0) {
        try {
          // Start at the stream's end as it is now: a listener that needs older entries reads them itself.
          if (cursor === undefined) {
            cursor = (await redis.xrevrange(this.key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
            markLive();
            continue;
          }
          const reply = (await redis.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.key, cursor)) as [string, [string, string[]][]][] | null;
          const entries = reply?.[0]?.[1];
          if (!entries || entries.length === 0) continue;
          cursor = entries[entries.length - 1][0];
          const batch = entries.map(rawEvent);
          for (const listener of [...this.listeners]) listener(batch);
        } catch (err) {
          if (this.closed) break;
          this.log.warn({ err: (err as Error).message }, 'events tail read failed; retrying');
          await new Promise<void>((resolve) => {
            this.wakeRetry = resolve;
            this.retryTimer = setTimeout(resolve, RETRY_MS);
          });
        }
      }
    } finally {
      markLive();
      this.loop = undefined;
    }
  }
}
