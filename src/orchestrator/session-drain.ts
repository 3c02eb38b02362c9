import { status } from '@grpc/grpc-js';
import { delay } from '../shared/delay';
import type { Session } from './session';
import type { SessionRegistry } from './session-registry';

/**
 * Moves this replica's agents elsewhere: each live session gets a `drain` directive with a
 * delay drawn from [0, drainWindowMs), so reconnects spread over the window instead of
 * arriving at the other replicas at once. Used on shutdown and when Redis is lost too long;
 * the rebalancer tells sessions one by one.
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
      this.tell(session, Math.floor(Math.random() * this.drainWindowMs), reason);
      told++;
    }
    return told;
  }

  /**
   * Tells one session to leave after `reconnectAfterMs` (its results keep flowing until then),
   * naming the replica to reconnect to when there is one (`reconnectTo`, `host:port`).
   */
  tell(session: Session, reconnectAfterMs: number, reason: string, reconnectTo = ''): void {
    session.send({ kind: { $case: 'drain', drain: { reconnectAfterMs, reason, reconnectTo } } });
    session.state = 'draining';
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
