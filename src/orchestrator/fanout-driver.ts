import type { Logger } from '../shared/logger';
import type { Admitted, FanoutStore } from '../redis-bridge/fanout-store';
import type { ReplicaBell } from '../redis-bridge/replica-bell';
import type { DeliveryRuns } from './delivery-runs';

/** Children created (or cancelled) per launcher call: each call stays a few ms of Redis time (figures in CHANGELOG.md, 2026-12-06, issue 16). */
export const FANOUT_CHUNK = 100;
/** Due parents taken per poll, and waiting `pick any` commands looked at per placement call. */
const DUE_PER_POLL = 16;
const PLACE_PER_CALL = 100;

/**
 * Moves fan-outs along and places waiting `pick any` commands. The replica that plans a
 * fan-out drives it at once; every replica also polls the due list (a rollout's next batch,
 * a cancel walking children, or a fan-out whose planner died) and the waiting list. Each
 * launcher call is one chunk, and the loop yields between chunks, so a 10,000-agent
 * broadcast blocks neither this event loop nor Redis for long. What a call admitted is sent
 * here (sessions of this replica) or announced to the owner (wake set + bell), as routing does.
 */
export class FanoutDriver {
  /** Parents being driven here now (a poll skips them). */
  private readonly driving = new Set<string>();
  private closed = false;

  constructor(
    private readonly store: FanoutStore,
    private readonly delivery: DeliveryRuns,
    private readonly bell: ReplicaBell,
    private readonly replicaId: string,
    private readonly logger: Logger,
  ) {}

  /** Drives a parent just planned here; failures are left to the polls (it stays due). */
  kick(parentId: string): void {
    void this.drive(parentId).catch((err: Error) => this.logger.warn({ parentId, err: err.message }, 'fan-out launch failed; a later poll retries'));
  }

  /** One poll (run by a Ticker): due parents, then waiting `pick any` commands. */
  readonly poll = async (): Promise<void> => {
    if (this.closed) return;
    const { parents, waiting } = await this.store.due(DUE_PER_POLL);
    for (const parentId of parents) {
      if (this.closed) return;
      if (!this.driving.has(parentId)) await this.drive(parentId);
    }
    if (waiting > 0 && !this.closed) {
      const placed = await this.store.placeWaiting(PLACE_PER_CALL);
      this.dispatch(placed.admitted);
    }
  };

  /** Stops driving after the current chunk. Idempotent. */
  close(): void {
    this.closed = true;
  }

  private async drive(parentId: string): Promise<void> {
    if (this.driving.has(parentId)) return;
    this.driving.add(parentId);
    try {
      for (;;) {
        const step = await this.store.launch(parentId, FANOUT_CHUNK);
        this.dispatch(step.admitted);
        if (!step.more || this.closed) return;
        // Let sessions, results and other work run between chunks.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.driving.delete(parentId);
    }
  }

  /** Sends what was delivered at once to sessions here, and wakes the owners of the rest. */
  dispatch(admitted: readonly Admitted[]): void {
    const owners = new Set<string>();
    for (const a of admitted) {
      if (a.outcome === 'delivered' && a.command) {
        // Delivered at once; another owner had it pushed over its bell.
        if (a.owner === this.replicaId) this.delivery.sendRouted(a.agentId, a.epoch, [a.command]);
      } else if ((a.outcome === 'queued' || a.outcome === 'cancel_requested') && a.owner) {
        owners.add(a.owner);
      }
    }
    for (const owner of owners) {
      if (owner === this.replicaId) void this.delivery.pollWake().catch((err: Error) => this.logger.warn({ err: err.message }, 'wake poll failed'));
      else void this.bell.ring(owner, { kind: 'mail' });
    }
  }
}
