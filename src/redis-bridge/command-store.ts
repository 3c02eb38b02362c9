import type Redis from 'ioredis';
import type { Command } from '../generated/nexus/prime/pulse';
import type { NewCommand } from './ingress-entry';
import { CONSUMER_GROUP, type NexusKeys } from './keys';

/** Bounds and timings of the command path (see the orchestrator config for defaults). */
export interface CommandLimits {
  /** Finished records (and dedupe of their ids) are kept this long. */
  readonly retentionMs: number;
  readonly eventsMaxLen: number;
  readonly dlqMaxLen: number;
  /** Bytes of payload kept in a dead letter (the original size is noted). */
  readonly dlqPayloadBytes: number;
  readonly mailboxMax: number;
  /** Deliveries of an ingress entry after which it is dead-lettered `poison`. */
  readonly poisonDeliveries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
}

/** Outcome of routing one ingress entry. */
export type RouteOutcome = 'queued' | 'duplicate' | 'poison' | 'mailbox_full' | 'not_owner';
export type CancelOutcome = 'cancelled' | 'cancel_requested' | 'final' | 'unknown' | 'not_owner';

/** A command picked for delivery: exactly the Command message sent to the agent. */
export type Outgoing = Command;

/** What the owner of a session should send now. */
export interface Delivery {
  fenced: boolean;
  commands: Outgoing[];
  cancels: string[];
  /** Time until the earliest retry is due (ms), 0 = none. */
  nextRetryInMs: number;
}

/** A session to deliver to. */
export interface DeliveryRequest {
  agentId: string;
  epoch: number;
  /** Most commands in flight on the session. */
  window: number;
}

/** An agent's result as the store applies it. */
export interface ResultInput {
  commandId: string;
  agentId: string;
  epoch: number;
  outcome: 'succeeded' | 'failed' | 'cancelled';
  output: string;
  error: string;
  durationMs: number;
  permanent: boolean;
  attempt: number;
  /** The agent's ack for this run was held back and is recorded with the result. */
  acked: boolean;
}

/** Commands by state: active states are current counts, finished ones totals. */
export type CommandCountsByState = Record<'queued' | 'delivered' | 'retrying' | 'succeeded' | 'failed' | 'dead' | 'cancelled', number>;

/** The durable command path in Redis: every state change is one Lua script (./scripts). */
export class CommandStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly limits: CommandLimits,
    private readonly replicaId: string,
  ) {}

  /**
   * Records, mailboxes and acknowledges valid entries, all in one script call (fenced per
   * entry by its pending owner). Returns each entry's outcome, in order, and the replicas
   * whose wake sets got an agent.
   */
  async route(entries: readonly { entryId: string; command: NewCommand }[]): Promise<{ outcomes: RouteOutcome[]; owners: string[] }> {
    const k = this.keys;
    const l = this.limits;
    const args: (string | number)[] = [
      k.commandsStream, k.events, k.dlq, k.commandSeq, k.commandDeadlines, k.commandCounts,
      CONSUMER_GROUP, this.replicaId, l.poisonDeliveries, l.retentionMs, l.mailboxMax, l.eventsMaxLen, l.dlqMaxLen,
      l.dlqPayloadBytes, k.commandPrefix, k.mailboxPrefix, k.agentPrefix, k.replicaPrefix,
    ];
    for (const { entryId, command: c } of entries) {
      args.push(entryId, c.commandId, c.target, c.commandType, c.payload, c.priority, c.correlationId, c.maxAttempts, c.ttlMs);
    }
    const [outcomes, owners] = await this.redis.routeCommands(...args);
    return { outcomes: outcomes as RouteOutcome[], owners };
  }

  /** Dead-letters an entry that cannot be routed and acknowledges it; false if not ours any more. */
  async reject(entryId: string, reason: string, error: string, original: string[]): Promise<boolean> {
    const k = this.keys;
    const l = this.limits;
    const done = await this.redis.rejectEntry(
      k.commandsStream, k.dlq, k.events, k.commandCounts,
      CONSUMER_GROUP, this.replicaId, entryId, reason, error, l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes, ...original,
    );
    return done === 1;
  }

  /** Applies a `command_cancel` entry. */
  async cancel(entryId: string, commandId: string, original: string[]): Promise<{ outcome: CancelOutcome; owner: string }> {
    const k = this.keys;
    const l = this.limits;
    const [outcome, owner] = await this.redis.cancelCommand(
      k.commandsStream, k.command(commandId), k.events, k.commandDeadlines, k.commandCounts, k.dlq,
      CONSUMER_GROUP, this.replicaId, entryId, commandId, k.mailboxPrefix, k.agentPrefix, l.eventsMaxLen, l.dlqMaxLen,
      k.replicaPrefix, k.cancelsPrefix, ...original,
    );
    return { outcome: outcome as CancelOutcome, owner };
  }

  /** Picks commands and cancels for each of a batch of sessions (each fenced by its epoch), in one script call. */
  async deliver(sessions: readonly DeliveryRequest[]): Promise<Delivery[]> {
    const k = this.keys;
    const args: (string | number)[] = [
      k.events, k.commandCounts,
      this.replicaId, k.commandPrefix, k.agentPrefix, k.mailboxPrefix, k.cancelsPrefix, this.limits.eventsMaxLen, k.inflightPrefix,
    ];
    for (const s of sessions) args.push(s.agentId, s.epoch, s.window, s.window * 4 + 16);
    const reply = await this.redis.deliverCommands(...args);
    const out: Delivery[] = [];
    let i = 0;
    for (let s = 0; s < sessions.length; s++) {
      if (Number(reply[i++]) === -1) {
        out.push({ fenced: true, commands: [], cancels: [], nextRetryInMs: 0 });
        continue;
      }
      const nextRetryInMs = Number(reply[i++]);
      const n = Number(reply[i++]);
      const commands: Outgoing[] = [];
      for (let c = 0; c < n; c++, i += 7) {
        commands.push({
          commandId: String(reply[i]),
          commandType: String(reply[i + 1]),
          payload: String(reply[i + 2]),
          priority: Number(reply[i + 3]),
          attempt: Number(reply[i + 4]),
          correlationId: String(reply[i + 5]),
          deadlineUnixMs: Number(reply[i + 6]),
        });
      }
      const m = Number(reply[i++]);
      out.push({ fenced: false, commands, cancels: reply.slice(i, i + m).map(String), nextRetryInMs });
      i += m;
    }
    return out;
  }

  /** Records the agent's receipt of a command (timeline only). */
  async ack(commandId: string, agentId: string, attempt: number): Promise<void> {
    await this.redis.ackCommand(this.keys.command(commandId), agentId, attempt, this.replicaId);
  }

  /** Applies a batch of results in one script call; for each, what happened and, for a retry, the delay until it is due. */
  async complete(results: readonly ResultInput[]): Promise<{ code: -1 | 0 | 1 | 2; retryInMs: number }[]> {
    const k = this.keys;
    const l = this.limits;
    const args: (string | number)[] = [
      k.events, k.dlq, k.commandDeadlines, k.commandCounts,
      this.replicaId, l.retryBaseMs, l.retryMaxMs, l.retentionMs, l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes,
      k.commandPrefix, k.agentPrefix, k.mailboxPrefix, k.inflightPrefix,
    ];
    for (const r of results) {
      args.push(r.commandId, r.agentId, r.epoch, r.outcome, r.output, r.error, r.durationMs, r.permanent ? 1 : 0, r.attempt, r.acked ? 1 : 0);
    }
    const reply = await this.redis.completeCommands(...args);
    return results.map((_, i) => ({ code: Number(reply[2 * i]) as -1 | 0 | 1 | 2, retryInMs: Number(reply[2 * i + 1]) }));
  }

  /** Dead-letters commands past their TTL; returns how many. */
  async expire(batch = 500, recheckMs = 5000): Promise<number> {
    const k = this.keys;
    const l = this.limits;
    return this.redis.expireCommands(
      k.commandDeadlines, k.events, k.dlq, k.commandCounts,
      k.commandPrefix, k.mailboxPrefix, k.agentPrefix, batch, l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes,
      this.replicaId, l.retentionMs, recheckMs, k.inflightPrefix,
    );
  }

  /** A command's record and its timeline steps (JSON, in order), or undefined. */
  async get(commandId: string): Promise<{ record: Record<string, string>; timeline: string[] } | undefined> {
    const record = await this.redis.hgetall(this.keys.command(commandId));
    if (!record.command_id) return undefined;
    const timeline: string[] = [];
    for (let n = 1; record[`step:${n}`] !== undefined; n++) timeline.push(record[`step:${n}`]);
    return { record, timeline };
  }

  /** Commands by state over the cluster. */
  async counts(): Promise<CommandCountsByState> {
    const raw = await this.redis.hgetall(this.keys.commandCounts);
    const n = (k: string) => Math.max(0, Number(raw[k] ?? 0));
    return { queued: n('queued'), delivered: n('delivered'), retrying: n('retrying'), succeeded: n('succeeded'), failed: n('failed'), dead: n('dead'), cancelled: n('cancelled') };
  }
}
