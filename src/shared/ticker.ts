/**
 * Runs an async task every `intervalMs`, scheduling the next run only after the current one
 * settles, so runs never overlap. Errors go to `onError`; the ticker keeps going. The timer
 * is unref'd: a ticker never keeps a process alive on its own.
 */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Starts ticking; the first run happens after one interval (or now, with `immediately`). */
  start(immediately = false): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(immediately ? 0 : this.intervalMs);
  }

  /** Stops ticking and waits for a run in progress. Idempotent. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().then(() => this.schedule(this.intervalMs));
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const run = (async () => {
      try {
        await this.task();
      } catch (err) {
        this.onError(err as Error);
      }
    })();
    this.running = run;
    await run;
    if (this.running === run) this.running = undefined;
  }
}
