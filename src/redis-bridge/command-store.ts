import type Redis from 'ioredis';
import type { CancelOutcome, CommandCountsByState, CommandLimits, CompleteOutcome, DeliveryPick, ResultInput, RoutedEntry, RouteResult } from './command-types';
import { CANCELS_TTL_MS, CONSUMER_GROUP, WAKE_SUFFIX, WAKE_TTL_MS, BELL_SUFFIX, type NexusKeys } from './keys';
import { decodeCancelReply, decodeCompleteReply, decodeCount, decodeDeliverReply, decodeFlag, decodeRejectReply, decodeRouteReply } from './script-replies';
import { TurnWrites } from './turn-writes';

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
      l.dlqPayloadBytes, k.commandPrefix, k.mailboxPrefix, k.agentPrefix, k.replicaPrefix, BELL_SUFFIX, WAKE_SUFFIX, WAKE_TTL_MS,
      k.indexPrefix, l.indexLifeMs, entries.length,
    ];
    for (const { entryId, command: c } of entries) {
      args.push(entryId, c.commandId, c.target, c.commandType, c.payload, c.priority, c.correlationId, c.maxAttempts, c.ttlMs, c.requestedBy, c.redriveOf, c.parentId);
    }
    this.writes.hold();
    return decodeRouteReply(await this.redis.routeCommands(...args), entries.length);
  }

  /** Dead-letters an entry that cannot be routed and acknowledges it; false if not ours any more. */
  async reject(entryId: string, reason: string, error: string, original: string[]): Promise<boolean> {
    const k = this.keys;
    const l = this.limits;
    return decodeRejectReply(await this.redis.rejectEntry(
      k.commandsStream, k.dlq, k.events, k.commandCounts,
      CONSUMER_GROUP, this.replicaId, entryId, reason, error, l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes, ...original,
    ));
  }

  /** Applies a `command_cancel` entry. */
  async cancel(entryId: string, commandId: string, requestedBy: string, reason: string, original: string[]): Promise<{ outcome: CancelOutcome; owner: string }> {
    const k = this.keys;
    const l = this.limits;
    return decodeCancelReply(await this.redis.cancelCommand(
      k.commandsStream, k.command(commandId), k.events, k.commandDeadlines, k.commandCounts, k.dlq, k.fanoutsDue, k.commandsWaiting,
      CONSUMER_GROUP, this.replicaId, entryId, commandId, k.mailboxPrefix, k.agentPrefix, l.eventsMaxLen, l.dlqMaxLen,
      k.replicaPrefix, k.cancelsPrefix, WAKE_SUFFIX, WAKE_TTL_MS, CANCELS_TTL_MS, l.dlqPayloadBytes, requestedBy, reason, k.indexPrefix, ...original,
    ));
  }

  /**
   * Picks commands and cancels for an agent's session (fenced by its epoch); with `resend`,
   * also the commands already in flight to it (they may never have been written to it).
   */
  async deliver(agentId: string, epoch: number, window: number, resend = false): Promise<DeliveryPick> {
    const k = this.keys;
    this.writes.hold();
    return decodeDeliverReply(await this.redis.deliverCommands(
      k.agent(agentId), k.mailbox(agentId), k.events, k.commandCounts, k.cancelsPrefix + agentId, k.fanoutsDue,
      agentId, epoch, this.replicaId, window, window * 4 + 16, k.commandPrefix, this.limits.eventsMaxLen, resend ? 1 : 0, k.indexPrefix,
    ));
  }

  /** Records the agent's receipt of a command (timeline only); false if it is not in flight to that agent. */
  async ack(commandId: string, agentId: string, attempt: number): Promise<boolean> {
    return decodeFlag('ackCommand', await this.redis.ackCommand(this.keys.command(commandId), agentId, attempt, this.replicaId));
  }

  /**
   * Applies results in one script call, in order, and refills the windows they free; returns,
   * per result, what happened and, for a retry, the delay until it is due, and per refilled
   * agent what its session is to be sent now.
   */
  async completeBatch(results: readonly ResultInput[]): Promise<CompleteOutcome> {
    if (results.length === 0) return { applied: [], refills: [] };
    const k = this.keys;
    const l = this.limits;
    const args: (string | number)[] = [
      k.events, k.dlq, k.commandDeadlines, k.commandCounts, k.fanoutsDue,
      k.commandPrefix, k.mailboxPrefix, k.agentPrefix, this.replicaId, l.retryBaseMs, l.retryMaxMs, l.retentionMs,
      l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes, k.indexPrefix, results.length,
    ];
    for (const r of results) {
      args.push(r.commandId, r.agentId, r.epoch, r.outcome, r.output, r.error, r.durationMs, r.permanent ? 1 : 0, r.attempt, r.refillWindow);
    }
    this.writes.hold();
    return decodeCompleteReply(await this.redis.completeCommands(...args), results.length);
  }

  /** Dead-letters commands past their TTL; returns how many. */
  async expire(batch = 500, recheckMs = 5000): Promise<number> {
    const k = this.keys;
    const l = this.limits;
    return decodeCount('expireCommands', await this.redis.expireCommands(
      k.commandDeadlines, k.events, k.dlq, k.commandCounts, k.fanoutsDue, k.commandsWaiting,
      k.commandPrefix, k.mailboxPrefix, k.agentPrefix, batch, l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes,
      this.replicaId, l.retentionMs, recheckMs, k.indexPrefix,
    ));
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
