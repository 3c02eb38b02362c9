/**
 * One timer per agent for its earliest due retry: when it fires, the agent gets a delivery
 * run (a later retry is found by that run and schedules its own timer). Timers are unref'd
 * and nothing is scheduled after close().
 */
export class RetryTimers {
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; at: number; resend: boolean }>();
  private closed = false;

  /** @param onDue runs when an agent's timer fires; `resend` if any schedule asked for it. */
  constructor(private readonly onDue: (agentId: string, resend: boolean) => void) {}

  /**
   * A run for `agentId` in `inMs` (a few ms late, so the retry is due by then). An earlier
   * timer already set wins; `resend` sticks to whichever timer stays.
   */
  schedule(agentId: string, inMs: number, resend = false): void {
    if (this.closed) return;
    const at = performance.now() + inMs;
    const existing = this.timers.get(agentId);
    if (existing && existing.at <= at) {
      existing.resend ||= resend;
      return;
    }
    if (existing) clearTimeout(existing.timer);
    const entry = {
      timer: setTimeout(() => {
        this.timers.delete(agentId);
        this.onDue(agentId, entry.resend);
      }, inMs + 5),
      at,
      resend: resend || (existing?.resend ?? false),
    };
    entry.timer.unref();
    this.timers.set(agentId, entry);
  }

  /** Timers waiting (for tests and metrics). */
  get size(): number {
    return this.timers.size;
  }

  /** Clears every timer; later schedules are ignored. Idempotent. */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
  }
}
