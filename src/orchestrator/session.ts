import type { ServerDuplexStream, StatusObject } from '@grpc/grpc-js';
import type { AgentMessage, HostMetrics, OrchestratorMessage } from '../generated/nexus/prime/pulse';
import type { AgentProfile } from '../redis-bridge/agent-record';

type PulseCall = ServerDuplexStream<AgentMessage, OrchestratorMessage>;

/** Lifecycle of a session: live -> draining (told to leave) -> closed. */
export type SessionState = 'live' | 'draining' | 'closed';

/**
 * One agent's live Pulse stream on this replica. Holds the latest heartbeat until the
 * flusher writes it (only the newest is kept: at most one pending write per agent).
 */
export class Session {
  state: SessionState = 'live';
  /** Monotonic time the session was set up (its age, for rebalancing and MAX_SESSION_AGE_MS). */
  readonly startedAt: number;
  /** Monotonic time of the last message from the agent. */
  lastHeardAt: number;
  /** Monotonic time of the last message other than a ping to the agent. */
  lastSentAt: number;
  metrics: HostMetrics | undefined;
  activeCommands = 0;
  /** A heartbeat arrived that is not yet written to Redis. */
  dirty = false;
  /** Commands sent on this session without a result yet (for the active-tasks gauge). */
  inflight = 0;
  /**
   * The session ended in an orderly way (goodbye, drain, replacement): its end is
   * written at once. Any other end (stream error, cancel, closed for silence) may be a
   * partition and counts as silence (silence-watch.ts, docs/dampening.md).
   */
  orderly = false;

  constructor(
    readonly call: PulseCall,
    readonly agentId: string,
    readonly sessionId: string,
    public epoch: number,
    readonly profile: AgentProfile,
    /** Most commands in flight to this session at once (the rest wait in its mailbox). */
    readonly window: number,
    /** The agent takes several commands in one message (its hello said so). */
    readonly acceptsBatches: boolean,
    readonly peer: string,
    private readonly onSend: (kind: string) => void,
  ) {
    this.startedAt = performance.now();
    this.lastHeardAt = this.startedAt;
    this.lastSentAt = this.startedAt;
  }

  /** The stream's buffer is full (backpressure): hold new directives until its 'drain'. */
  get needsDrain(): boolean {
    return this.call.writableNeedDrain;
  }

  /**
   * Writes a message; returns false when the stream's buffer is full (backpressure: the
   * caller holds further directives until 'drain'). Never throws on a closed stream.
   */
  send(message: OrchestratorMessage): boolean {
    if (this.state === 'closed' || this.call.writableEnded || this.call.destroyed) return false;
    const kind = message.kind?.$case ?? 'unknown';
    if (kind !== 'ping') this.lastSentAt = performance.now();
    this.onSend(kind);
    return this.call.write(message);
  }

  /** Ends the stream with `status` (OK ends it cleanly); `orderly`: see the field. Idempotent. */
  close(status: Pick<StatusObject, 'code' | 'details'>, orderly = false): void {
    if (this.state === 'closed') return;
    // A drained session that did not leave by the deadline was still told to go.
    this.orderly ||= orderly || this.state === 'draining';
    this.state = 'closed';
    if (this.call.writableEnded || this.call.destroyed) return;
    if (status.code === 0) this.call.end();
    else this.call.emit('error', status);
  }
}
