import type Redis from 'ioredis';
import { delay } from '../shared/delay';
import type { Logger } from '../shared/logger';
import { Ticker } from '../shared/ticker';
import { CONSUMER_GROUP, type NexusKeys } from './keys';

/** One ingress entry as read: its id and raw fields (null when the entry was deleted). */
export interface IngressEntry {
  id: string;
  fields: Buffer[] | null;
}

/** Handles a batch; an entry it does not acknowledge stays pending and is reclaimed later. */
export type BatchHandler = (entries: IngressEntry[]) => Promise<void>;

export interface IngressSettings {
  readonly batch: number;
  readonly blockMs: number;
  readonly claimMinIdleMs: number;
  readonly claimSweepMs: number;
}

type StreamReply = [Buffer, [Buffer, Buffer[] | null][]][] | null;

/**
 * The consumer-group reader of `nexus:commands:stream`. Start-up order: this consumer's own
 * pending entries (a restart with the same name), then entries idle on any consumer
 * (XAUTOCLAIM, which counts deliveries, so poison is detected), then new entries, in batches,
 * on a dedicated blocking connection. A sweeper keeps reclaiming idle entries. A lost group
 * (NOGROUP: Redis restarted without persistence) is recreated from the start of the stream.
 */
export class IngressConsumer {
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Aborted on close(): a blocking read in progress returns at once, so a stop never waits on Redis. */
  private readonly stop = new AbortController();
  private readonly sweeper: Ticker;

  constructor(
    private readonly blocking: Redis,
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly consumer: string,
    private readonly settings: IngressSettings,
    private readonly handle: BatchHandler,
    private readonly logger: Logger,
  ) {
    this.sweeper = new Ticker(settings.claimSweepMs, () => this.claimIdle(), (err) => this.logger.warn({ err: err.message }, 'reclaim sweep failed'));
  }

  /** Starts reading; resolves once the loop runs (the group is created inside it). */
  start(): void {
    this.loop ??= this.run();
    this.sweeper.start();
  }

  /**
   * Stops consuming: no new reads; a batch being handled is finished. Entries read but not
   * handled stay pending and are reclaimed by the other replicas. Idempotent.
   */
  async close(): Promise<void> {
    this.stopped = true;
    this.stop.abort();
    await this.sweeper.close();
    // A read that was waiting is abandoned, not awaited: ioredis does not fail a command queued
    // while the connection waits to reconnect, even on disconnect(). Its entries (if Redis
    // delivered any) stay pending and are reclaimed by the other replicas.
    this.blocking.disconnect();
    await this.loop;
  }

  /** Creates the group at the start of the stream (not `$`: entries already there count). */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.keys.commandsStream, CONSUMER_GROUP, '0', 'MKSTREAM');
      this.logger.info({ group: CONSUMER_GROUP }, 'consumer group created from the start of the stream');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let phase: 'own' | 'claim' | 'new' = 'own';
    while (!this.stopped) {
      try {
        if (phase === 'own') {
          await this.ensureGroup();
          await this.readOwnPending();
          phase = 'claim';
        } else if (phase === 'claim') {
          await this.claimIdle();
          phase = 'new';
        } else {
          await this.readNew();
        }
        failures = 0;
      } catch (err) {
        if (this.stopped) return;
        const message = (err as Error).message;
        if (/NOGROUP/.test(message)) {
          this.logger.warn('consumer group is gone (Redis lost its data?); recreating it from the start of the stream');
          phase = 'own';
          continue;
        }
        failures++;
        this.logger.warn({ err: message, failures }, 'ingress read failed; retrying');
        await delay(Math.min(2000, 100 * 2 ** Math.min(failures, 5)));
      }
    }
  }

  /** Entries already delivered to this consumer name and not acknowledged. */
  private async readOwnPending(): Promise<void> {
    let after = '0';
    while (!this.stopped) {
      const reply = (await this.untilStopped(this.blocking.xreadgroupBuffer(
        'GROUP', CONSUMER_GROUP, this.consumer, 'COUNT', this.settings.batch, 'STREAMS', this.keys.commandsStream, after,
      ))) as StreamReply;
      const entries = toEntries(reply);
      if (entries.length === 0) return;
      await this.handle(entries);
      after = entries[entries.length - 1].id;
    }
  }

  /** New entries (blocks up to blockMs). */
  private async readNew(): Promise<void> {
    const reply = (await this.untilStopped(this.blocking.xreadgroupBuffer(
      'GROUP', CONSUMER_GROUP, this.consumer, 'COUNT', this.settings.batch, 'BLOCK', this.settings.blockMs,
      'STREAMS', this.keys.commandsStream, '>',
    ))) as StreamReply;
    const entries = toEntries(reply);
    // Handled even when a stop came meanwhile: these are ours now.
    if (entries.length > 0) await this.handle(entries);
  }

  /**
   * `read`, or null as soon as the consumer is stopped (the read is then abandoned). Not a
   * Promise.race against one long-lived promise: every race would leave a reaction on it that
   * keeps that read's reply (a whole batch) reachable until the consumer stops.
   */
  private untilStopped<T>(read: Promise<T>): Promise<T | null> {
    read.catch(() => undefined); // an abandoned read may still fail later
    const signal = this.stop.signal;
    if (signal.aborted) return Promise.resolve(null);
    return new Promise<T | null>((resolve, reject) => {
      const onStop = (): void => resolve(null);
      signal.addEventListener('abort', onStop, { once: true });
      read.then(
        (value) => {
          signal.removeEventListener('abort', onStop);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onStop);
          reject(err);
        },
      );
    });
  }

  /** Takes over entries idle on any consumer (dead or paused replicas, or this one's own). */
  private async claimIdle(): Promise<void> {
    let cursor = '0-0';
    do {
      // Not JUSTID: plain XAUTOCLAIM counts the delivery, which is how poison is noticed.
      const [next, claimed] = (await this.redis.callBuffer(
        'XAUTOCLAIM', this.keys.commandsStream, CONSUMER_GROUP, this.consumer, this.settings.claimMinIdleMs, cursor, 'COUNT', this.settings.batch,
      )) as [Buffer, ([Buffer, Buffer[] | null] | null)[]];
      cursor = next.toString();
      const entries = claimed.flatMap((e) => (e ? [{ id: e[0].toString(), fields: e[1] }] : []));
      if (entries.length > 0) {
        this.logger.info({ entries: entries.length }, 'reclaimed idle ingress entries');
        await this.handle(entries);
      }
    } while (cursor !== '0-0' && !this.stopped);
  }
}

function toEntries(reply: StreamReply): IngressEntry[] {
  if (!reply) return [];
  const out: IngressEntry[] = [];
  for (const [, entries] of reply) for (const [id, fields] of entries) out.push({ id: id.toString(), fields });
  return out;
}
