import type Redis from 'ioredis';
import type { Command } from '../generated/nexus/prime/pulse';
import type { NewCommand } from './ingress-entry';
import { CONSUMER_GROUP, type NexusKeys } from './keys';
import { TurnWrites } from './turn-writes';

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

/** A valid ingress entry to route. */
export interface RoutedEntry {
  entryId: string;
  command: NewCommand;
}

/**
 * Outcome of routing one ingress entry. `delivered`: delivered at once to the owner's session
 * of `epoch` (pushed to the owner, or for the caller to send when it is the owner). `error`:
 * Redis refused the target's keys, the entry stays pending.
 */
export type RouteOutcome = 'delivered' | 'queued' | 'duplicate' | 'poison' | 'mailbox_full' | 'not_owner' | 'error';
export interface RouteResult {
  outcome: RouteOutcome;
  owner: string;
  /** For `delivered`: the session's epoch and the command's expiry (Unix ms); else 0. */
  epoch: number;
  expireAt: number;
  reason?: string;
}
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

/** What a result batch refilled: the commands one agent's session is to be sent now. */
export interface Refill {
  agentId: string;
  commands: Outgoing[];
  /** Time until the earliest retry waiting in its mailbox is due (ms), 0 = none. */
  nextRetryInMs: number;
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
  /** The session's window, to refill it from the mailbox; 0 = send it nothing new now. */
  refillWindow: number;
}

/** What applying a result did: code (see completeCommands) and, for a retry, its delay. */
export interface Applied {
  code: -1 | 0 | 1 | 2;
  retryInMs: number;
}

/** Commands by state: active states are current counts, finished ones totals. */
export type CommandCountsByState = Record<'queued' | 'delivered' | 'retrying' | 'succeeded' | 'failed' | 'dead' | 'cancelled', number>;

/** The durable command path in Redis: every state change is one Lua script (./scripts). */
export class CommandStore {
  private readonly writes: TurnWrites;

  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly limits: CommandLimits,
    private readonly replicaId: string,
  ) {
    this.writes = new TurnWrites(redis);
  }

  /**
   * Records, mailboxes and acknowledges valid entries, in order, in one script call (each
   * fenced by its pending owner), delivering at once to sessions with room; returns each
   * entry's outcome, its target's owner replica ('' if none) with the session's epoch for
   * `delivered`, and, for `error`, Redis' reason.
   */
  async routeBatch(entries: readonly RoutedEntry[]): Promise<RouteResult[]> {
    if (entries.length === 0) return [];
    const k = this.keys;
    const l = this.limits;
    const args: (string | number)[] = [
      k.commandsStream, k.events, k.dlq, k.commandSeq, k.commandDeadlines, k.commandCounts,
      CONSUMER_GROUP, this.replicaId, l.poisonDeliveries, l.retentionMs, l.mailboxMax, l.eventsMaxLen, l.dlqMaxLen,
      l.dlqPayloadBytes, k.commandPrefix, k.mailboxPrefix, k.agentPrefix, k.replicaPrefix, entries.length,
    ];
    for (const { entryId, command: c } of entries) {
      args.push(entryId, c.commandId, c.target, c.commandType, c.payload, c.priority, c.correlationId, c.maxAttempts, c.ttlMs);
    }
    this.writes.hold();
    const reply = await this.redis.routeCommands(...args);
    const results: RouteResult[] = [];
    for (let i = 0; i < reply.length; i += 4) {
      const outcome = reply[i] as RouteOutcome;
      // The script's second value is the owner, or the reason for `error`.
      if (outcome === 'error') results.push({ outcome, owner: '', epoch: 0, expireAt: 0, reason: reply[i + 1] });
      else results.push({ outcome, owner: reply[i + 1], epoch: Number(reply[i + 2]), expireAt: Number(reply[i + 3]) });
    }
    return results;
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

  /**
   * Picks commands and cancels for an agent's session (fenced by its epoch); with `resend`,
   * also the commands already in flight to it (they may never have been written to it).
   */
  async deliver(agentId: string, epoch: number, window: number, resend = false): Promise<Delivery> {
    const k = this.keys;
    this.writes.hold();
    const reply = await this.redis.deliverCommands(
      k.agent(agentId), k.mailbox(agentId), k.events, k.commandCounts, k.cancelsPrefix + agentId,
      agentId, epoch, this.replicaId, window, window * 4 + 16, k.commandPrefix, this.limits.eventsMaxLen, resend ? 1 : 0,
    );
    if (Number(reply[0]) === -1) return { fenced: true, commands: [], cancels: [], nextRetryInMs: 0 };
    const commands: Outgoing[] = [];
    let i = readCommands(reply, 3, Number(reply[2]), commands);
    const m = Number(reply[i++]);
    const cancels = reply.slice(i, i + m).map(String);
    return { fenced: false, commands, cancels, nextRetryInMs: Number(reply[1]) };
  }

  /** Records the agent's receipt of a command (timeline only). */
  async ack(commandId: string, agentId: string, attempt: number): Promise<void> {
    await this.redis.ackCommand(this.keys.command(commandId), agentId, attempt, this.replicaId);
  }

  /**
   * Applies results in one script call, in order, and refills the windows they free; returns,
   * per result, what happened and, for a retry, the delay until it is due, and per refilled
   * agent what its session is to be sent now.
   */
  async completeBatch(results: readonly ResultInput[]): Promise<{ applied: Applied[]; refills: Refill[] }> {
    if (results.length === 0) return { applied: [], refills: [] };
    const k = this.keys;
    const l = this.limits;
    const args: (string | number)[] = [
      k.events, k.dlq, k.commandDeadlines, k.commandCounts,
      k.commandPrefix, k.mailboxPrefix, k.agentPrefix, this.replicaId, l.retryBaseMs, l.retryMaxMs, l.retentionMs,
      l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes, results.length,
    ];
    for (const r of results) {
      args.push(r.commandId, r.agentId, r.epoch, r.outcome, r.output, r.error, r.durationMs, r.permanent ? 1 : 0, r.attempt, r.refillWindow);
    }
    this.writes.hold();
    const reply = await this.redis.completeCommands(...args);
    const applied: Applied[] = [];
    let i = 0;
    for (; i < 2 * results.length; i += 2) applied.push({ code: Number(reply[i]) as Applied['code'], retryInMs: Number(reply[i + 1]) });
    const refills: Refill[] = [];
    for (let m = Number(reply[i++]); m > 0; m--) {
      const refill: Refill = { agentId: String(reply[i]), nextRetryInMs: Number(reply[i + 1]), commands: [] };
      i = readCommands(reply, i + 3, Number(reply[i + 2]), refill.commands);
      refills.push(refill);
    }
    return { applied, refills };
  }

  /** Dead-letters commands past their TTL; returns how many. */
  async expire(batch = 500, recheckMs = 5000): Promise<number> {
    const k = this.keys;
    const l = this.limits;
    return this.redis.expireCommands(
      k.commandDeadlines, k.events, k.dlq, k.commandCounts,
      k.commandPrefix, k.mailboxPrefix, k.agentPrefix, batch, l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes,
      this.replicaId, l.retentionMs, recheckMs,
    );
  }

  /** A command's record and timeline (its steps, oldest first), or undefined. */
  async get(commandId: string): Promise<{ record: Record<string, string>; timeline: string[] } | undefined> {
    const { timeline, ...record } = await this.redis.hgetall(this.keys.command(commandId));
    if (!record.command_id) return undefined;
    return { record, timeline: timeline ? timeline.split('\n') : [] };
  }

  /** Commands by state over the cluster. */
  async counts(): Promise<CommandCountsByState> {
    const raw = await this.redis.hgetall(this.keys.commandCounts);
    const n = (k: string) => Math.max(0, Number(raw[k] ?? 0));
    return { queued: n('queued'), delivered: n('delivered'), retrying: n('retrying'), succeeded: n('succeeded'), failed: n('failed'), dead: n('dead'), cancelled: n('cancelled') };
  }
}

/** A new command as its first delivery carries it (routed and delivered in one step). */
export function firstDelivery(c: NewCommand, expireAt: number): Outgoing {
  return { commandId: c.commandId, commandType: c.commandType, payload: c.payload, priority: c.priority, attempt: 1, correlationId: c.correlationId, deadlineUnixMs: expireAt };
}

/**
 * A command to send, from the 7 values the scripts give for one (id, type, payload,
 * priority, attempt, correlation id, expiry) starting at `i`: in script replies and in the
 * commands the route script pushes over a replica's bell.
 */
export function commandAt(values: readonly unknown[], i: number): Outgoing {
  return {
    commandId: String(values[i]),
    commandType: String(values[i + 1]),
    payload: String(values[i + 2]),
    priority: Number(values[i + 3]),
    attempt: Number(values[i + 4]),
    correlationId: String(values[i + 5]),
    deadlineUnixMs: Number(values[i + 6]),
  };
}

/** Reads `n` commands of 7 values each from a script's reply at `i` into `out`; returns the index after them. */
function readCommands(reply: readonly unknown[], i: number, n: number, out: Outgoing[]): number {
  for (let c = 0; c < n; c++, i += 7) out.push(commandAt(reply, i));
  return i;
}
