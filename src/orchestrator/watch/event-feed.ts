import type Redis from 'ioredis';
import { rawEvent, type RawEvent } from './event-entries';
import type { EventsTail, TailSubscription } from './events-tail';
import { compareStreamIds } from './stream-ids';

/** Entries per XRANGE page while catching up. */
const PAGE = 200;

/** What a feed needs from its watcher. */
export interface FeedSink {
  /** Which entries the watcher wants (filters run before anything is queued). */
  accept(e: RawEvent): boolean;
  /** Takes one wanted entry, in stream order, each once; false when the watcher is full. */
  deliver(e: RawEvent): boolean;
  /** Resolves when `n` more messages fit (backpressure for catching up). */
  whenRoom(n: number): Promise<void>;
  /** The watcher is too slow: live entries outran it. */
  overflow(): void;
}

/**
 * One watcher's view of the events stream: the entries after `from` (read with XRANGE pages
 * on the command connection, as fast as the watcher takes them), then the live entries of
 * the shared tail, with no gap and no repeat at the seam: the tail is joined before catching
 * up, live entries wait meanwhile (bounded: the catch-up reads any it drops), and only ids
 * after the last one delivered pass.
 * Without `from`, it starts at the tail's live end ("from now").
 */
export class EventFeed {
  private subscription: TailSubscription | undefined;
  private last: string | undefined;
  private waiting: RawEvent[] | undefined = [];
  private stopped = false;

  constructor(
    private readonly tail: EventsTail,
    private readonly redis: Redis,
    private readonly key: string,
    private readonly sink: FeedSink,
    private readonly maxWaiting: number,
  ) {}

  /** Joins the tail and catches up from `from` (exclusive); resolves when the feed is live. */
  async start(from: string | undefined): Promise<void> {
    // A watch that ended before its feed started (client gone during the first read) never joins.
    if (this.stopped) return;
    this.last = from;
    this.subscription = this.tail.subscribe((entries) => this.onLive(entries));
    await this.subscription.ready;
    if (from !== undefined) await this.catchUp();
    if (this.stopped) return;
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    for (const e of waiting) if (!this.pass(e)) return;
  }

  /** Leaves the tail; nothing more is delivered. */
  stop(): void {
    this.stopped = true;
    this.waiting = undefined;
    this.subscription?.unsubscribe();
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      await this.sink.whenRoom(PAGE);
      if (this.stopped) return;
      const page = (await this.redis.xrange(this.key, `(${this.last}`, '+', 'COUNT', PAGE)) as [string, string[]][];
      for (const entry of page) {
        if (this.stopped) return;
        const e = rawEvent(entry);
        this.last = e.id;
        if (this.sink.accept(e) && !this.sink.deliver(e)) return this.overflowed();
      }
      if (page.length < PAGE) return;
    }
  }

  private onLive(entries: readonly RawEvent[]): void {
    for (const e of entries) {
      if (this.stopped) return;
      if (!this.sink.accept(e)) continue;
      if (this.waiting) {
        // Still catching up: keep wanted live entries for the seam. Past the bound, drop those
        // kept: they are in the stream already, so the catch-up pages (which run until a page
        // comes back short, later than now) read them anyway.
        if (this.waiting.length >= this.maxWaiting) this.waiting = [];
        this.waiting.push(e);
      } else if (!this.pass(e)) return;
    }
  }

  /** Delivers an entry newer than the last one delivered; false when the watcher overflowed. */
  private pass(e: RawEvent): boolean {
    if (this.last !== undefined && compareStreamIds(e.id, this.last) <= 0) return true;
    this.last = e.id;
    if (this.sink.deliver(e)) return true;
    this.overflowed();
    return false;
  }

  private overflowed(): void {
    if (this.stopped) return;
    this.stop();
    this.sink.overflow();
  }
}
