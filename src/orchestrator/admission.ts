/**
 * Admission of new sessions: a token bucket refilled at `ratePerSec` (burst = one second's
 * worth). A reconnect storm beyond it is pushed back with a delay instead of piling every
 * registration onto Redis at once.
 */
export class Admission {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly ratePerSec: number) {
    this.tokens = ratePerSec;
  }

  /** Takes a token; returns 0 when admitted, else the ms until one is available. */
  take(): number {
    const now = performance.now();
    this.tokens = Math.min(this.ratePerSec, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.ratePerSec) * 1000);
  }
}
