import type { Session } from './session';

/** The sessions this replica holds, one per agent id. */
export class SessionRegistry {
  private readonly byAgent = new Map<string, Session>();

  /** Adds `session`; returns the session it displaced for the same agent id, if any. */
  add(session: Session): Session | undefined {
    const previous = this.byAgent.get(session.agentId);
    this.byAgent.set(session.agentId, session);
    return previous === session ? undefined : previous;
  }

  /** Removes `session` if it is still the one held for its agent id. */
  remove(session: Session): boolean {
    if (this.byAgent.get(session.agentId) !== session) return false;
    this.byAgent.delete(session.agentId);
    return true;
  }

  get(agentId: string): Session | undefined {
    return this.byAgent.get(agentId);
  }

  get size(): number {
    return this.byAgent.size;
  }

  values(): IterableIterator<Session> {
    return this.byAgent.values();
  }
}
