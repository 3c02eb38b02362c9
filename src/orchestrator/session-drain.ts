import { status } from '@grpc/grpc-js';
import { delay } from '../shared/delay';
import type { SessionRegistry } from './session-registry';

/**
 * Moves this replica's agents elsewhere: each live session gets a `drain` directive with a
 * delay drawn from [0, drainWindowMs), so reconnects spread over the window instead of
 * arriving at the other replicas at once. Used on shutdown and when Redis is lost too long.
 */
export class SessionDrain {
  constructor(
    private readonly sessions: SessionRegistry,
    private readonly drainWindowMs: number,
  ) {}

  /** Tells every live session to leave (its results keep flowing until it does); returns how many. */
  tellToLeave(reason: string): number {
    let told = 0;
    for (const session of this.sessions.values()) {
      if (session.state !== 'live') continue;
      const reconnectAfterMs = Math.floor(Math.random() * this.drainWindowMs);
      session.send({ kind: { $case: 'drain', drain: { reconnectAfterMs, reason } } });
      session.state = 'draining';
      told++;
    }
    return told;
  }

  /** Tells every session to leave, waits for them until `deadline` (epoch ms), then ends the rest. */
  async drainAll(deadline: number): Promise<void> {
    this.tellToLeave('replica shutting down');
    while (this.sessions.size > 0 && Date.now() < deadline) await delay(50);
    for (const session of this.sessions.values()) {
      session.close({ code: status.UNAVAILABLE, details: 'replica shut down; reconnect elsewhere' });
    }
  }
}
