import type Redis from 'ioredis';
import type { Logger } from '../shared/logger';
import type { Outgoing } from './command-types';
import { commandAt } from './command-wire';
import type { NexusKeys } from './keys';

/** Commands the route script delivered to one of the replica's sessions. */
export interface RoutedCommands {
  agentId: string;
  epoch: number;
  commands: Outgoing[];
}

/** Messages one replica (or a script) sends another about sessions it holds. */
export type BellMessage =
  /** A newer session (with `epoch`) took the agent over: close the older one. */
  | { kind: 'replaced'; agentId: string; epoch: number }
  /** Agents of this replica have new mail (their ids are in the replica's wake set). */
  | { kind: 'mail' }
  /** Commands delivered to sessions of this replica by routeCommands: send them. */
  | { kind: 'commands'; agents: RoutedCommands[] };

/**
 * A per-replica doorbell over Redis pub/sub. Delivery is best effort: whatever it carries is
 * also kept durably (replacement by fencing epochs, mail in the replica's wake set, which the
 * replica polls, commands in flight to the session in its mailbox), so a lost ring only
 * delays the outcome. Messages published while the subscription was down are lost: after it
 * is back, `onResubscribed` lets the replica look again at what they may have carried.
 */
export class ReplicaBell {
  private closed = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly keys: NexusKeys,
    private readonly logger: Logger,
  ) {}

  /**
   * Subscribes to this replica's channel and calls `onMessage` for each valid message, and
   * `onResubscribed` each time the subscription is back after the connection dropped.
   */
  async start(replicaId: string, onMessage: (message: BellMessage) => void, onResubscribed: () => void = () => undefined): Promise<void> {
    const channel = this.keys.replicaChannel(replicaId);
    this.subscriber.on('message', (ch: string, text: string) => {
      if (ch !== channel || this.closed) return;
      const message = parseBell(text);
      if (message) onMessage(message);
      else this.logger.warn({ text: text.slice(0, 200) }, 'ignored malformed bell message');
    });
    await this.subscriber.subscribe(channel);
    // ioredis subscribes again by itself after a reconnect; subscribing here too returns once
    // Redis has confirmed it, so whatever is published from then on arrives.
    this.subscriber.on('ready', () => {
      if (this.closed) return;
      this.subscriber.subscribe(channel).then(
        () => !this.closed && onResubscribed(),
        (err: Error) => this.logger.warn({ err: err.message }, 'could not subscribe to the replica bell again'),
      );
    });
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

/** A routed command as the route script writes it: 7 strings (see commandAt). */
type RoutedTuple = [string, string, string, string, string, string, string];

function parseBell(text: string): BellMessage | undefined {
  try {
    const m = JSON.parse(text) as { kind?: string; agentId?: unknown; epoch?: unknown; agents?: unknown };
    if (m.kind === 'commands' && Array.isArray(m.agents)) return { kind: 'commands', agents: m.agents.map(toRouted) };
    if (m.kind === 'replaced' && typeof m.agentId === 'string' && typeof m.epoch === 'number') {
      return { kind: 'replaced', agentId: m.agentId, epoch: m.epoch };
    }
    if (m.kind === 'mail') return { kind: 'mail' };
  } catch {
    // fall through
  }
  return undefined;
}

function toRouted(a: { agentId: string; epoch: string; commands: RoutedTuple[] }): RoutedCommands {
  if (typeof a.agentId !== 'string' || !Array.isArray(a.commands)) throw new Error('malformed routed commands');
  return {
    agentId: a.agentId,
    epoch: Number(a.epoch),
    commands: a.commands.map((tuple) => commandAt(tuple, 0)),
  };
}
