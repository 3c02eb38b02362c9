import type Redis from 'ioredis';
import type { Logger } from '../shared/logger';
import type { NexusKeys } from './keys';

/** Messages one replica sends another about sessions it holds. */
export type BellMessage =
  /** A newer session (with `epoch`) took the agent over: close the older one. */
  | { kind: 'replaced'; agentId: string; epoch: number }
  /** Agents of this replica have new mail (their ids are in the replica's wake set). */
  | { kind: 'mail' };

/**
 * A per-replica doorbell over Redis pub/sub. Delivery is best effort: whatever it carries is
 * also kept durably (replacement by fencing epochs, mail in the replica's wake set, which the
 * replica polls), so a lost ring only delays the outcome.
 */
export class ReplicaBell {
  private closed = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly keys: NexusKeys,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to this replica's channel and calls `onMessage` for each valid message. */
  async start(replicaId: string, onMessage: (message: BellMessage) => void): Promise<void> {
    const channel = this.keys.replicaChannel(replicaId);
    this.subscriber.on('message', (ch: string, text: string) => {
      if (ch !== channel || this.closed) return;
      const message = parseBell(text);
      if (message) onMessage(message);
      else this.logger.warn({ text: text.slice(0, 200) }, 'ignored malformed bell message');
    });
    await this.subscriber.subscribe(channel);
  }

  /** Rings `replicaId`'s bell; errors are logged, not thrown (fencing covers a lost ring). */
  async ring(replicaId: string, message: BellMessage): Promise<void> {
    try {
      await this.publisher.publish(this.keys.replicaChannel(replicaId), JSON.stringify(message));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, replicaId }, 'could not ring replica bell');
    }
  }

  close(): void {
    this.closed = true;
  }
}

function parseBell(text: string): BellMessage | undefined {
  try {
    const m = JSON.parse(text) as Partial<BellMessage>;
    if (m.kind === 'replaced' && typeof m.agentId === 'string' && typeof m.epoch === 'number') {
      return { kind: 'replaced', agentId: m.agentId, epoch: m.epoch };
    }
    if (m.kind === 'mail') return { kind: 'mail' };
  } catch {
    // fall through
  }
  return undefined;
}
