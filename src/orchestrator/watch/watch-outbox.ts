import { Metadata, status, type ServerWritableStream } from '@grpc/grpc-js';

/** Messages a watcher may have waiting for its client; one more ends it as too slow. */
export const OUTBOX_MAX = 1000;

/** Trailing metadata key holding the position to resume from when a watch ends early. */
export const RESUME_AFTER_KEY = 'nexus-resume-after';

/**
 * A watcher's bounded queue in front of its gRPC stream. Writes stop while the stream pushes
 * back (`write` returned false) and go on at 'drain', so a slow client holds at most
 * OUTBOX_MAX messages of this replica's memory; the owner ends it when `push` says it is full.
 * Tracks the position of the last message handed to the stream: where a client resumes.
 */
export class WatchOutbox<T> {
  private readonly queue: { message: T; position: string }[] = [];
  private blocked = false;
  private ending: (() => void) | undefined;
  private roomWaiters: { need: number; resolve: () => void }[] = [];
  /** True once ended (by the owner, the client, or an error). */
  ended = false;

  /**
   * @param resumeFrom where a client resumes when nothing has been written yet
   * @param onEnded called once when the watch ends, however (frees everything else)
   */
  constructor(
    private readonly call: ServerWritableStream<unknown, T>,
    private resumeFrom: string,
    private readonly onEnded: () => void,
    private readonly max = OUTBOX_MAX,
  ) {
    call.on('drain', () => {
      this.blocked = false;
      this.flush();
    });
    // A client that goes away (or a deadline) frees everything at once.
    call.on('cancelled', () => this.finish());
    call.on('error', () => this.finish());
  }

  /** The position of the last message written to the stream (or the start). */
  get position(): string {
    return this.resumeFrom;
  }

  /** Sets the resume position when none is known yet (a watch "from now" learns it from its first message). */
  startAt(position: string): void {
    if (!this.resumeFrom) this.resumeFrom = position;
  }

  /** Messages that fit before the outbox is full. */
  get room(): number {
    return this.max - this.queue.length;
  }

  /** Queues a message; false when the outbox was full (the message is not queued). */
  push(message: T, position: string): boolean {
    if (this.ended) return true;
    if (this.queue.length >= this.max) return false;
    this.queue.push({ message, position });
    this.flush();
    return true;
  }

  /** Resolves when `need` messages fit (or the watch ended). */
  whenRoom(need: number): Promise<void> {
    if (this.ended || this.room >= need) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push({ need, resolve }));
  }

  /** Ends with OK once everything queued is written. */
  endWhenFlushed(): void {
    if (this.ended || this.ending) return;
    this.ending = () => {
      this.finish();
      this.call.end();
    };
    this.flush();
  }

  /**
   * Ends now with an error status whose details end with ` with after=<position>` (`reason`
   * says what to do with it, e.g. "resume elsewhere"), the position to resume from (also
   * in the trailer `nexus-resume-after`); what is still queued is dropped, so that position
   * is the last one written.
   */
  fail(code: status, reason: string): void {
    if (this.ended) return;
    const position = this.resumeFrom;
    this.finish();
    const metadata = new Metadata();
    if (position) metadata.set(RESUME_AFTER_KEY, position);
    const details = position ? `${reason} with after=${position}` : `${reason} from the start`;
    this.call.emit('error', { code, details, metadata });
  }

  /** Ends now with an error that has no position (bad request, Redis away at the start). */
  reject(code: status, details: string): void {
    if (this.ended) return;
    this.finish();
    this.call.emit('error', { code, details });
  }

  private flush(): void {
    while (!this.blocked && !this.ended && this.queue.length > 0) {
      const { message, position } = this.queue.shift()!;
      this.resumeFrom = position;
      if (!this.call.write(message)) this.blocked = true;
    }
    if (this.roomWaiters.length > 0) {
      const room = this.room;
      const ready = this.roomWaiters.filter((w) => w.need <= room);
      this.roomWaiters = this.roomWaiters.filter((w) => w.need > room);
      for (const w of ready) w.resolve();
    }
    if (this.queue.length === 0 && this.ending && !this.ended) this.ending();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    for (const w of this.roomWaiters.splice(0)) w.resolve();
    this.onEnded();
  }
}
