import type Redis from 'ioredis';
import type { CommandLimits, Outgoing, RouteOutcome } from './command-types';
import type { NewCommand } from './ingress-entry';
import { BELL_SUFFIX, CONSUMER_GROUP, WAKE_SUFFIX, WAKE_TTL_MS, type NexusKeys } from './keys';
import { ROUTE_OUTCOMES } from './reply-codes';
import { ScriptReplyError } from './script-reply-error';
import type { TargetSpec } from './target-spec';
import { TurnWrites } from './turn-writes';

/** Limits of targeting by selector. */
export interface FanoutLimits extends CommandLimits {
  /** Most children one `pick all` command may have. */
  readonly maxFanout: number;
}

/** A command admitted to an agent by the launcher or a placement: what to send or whom to wake. */
export interface Admitted {
  agentId: string;
  outcome: RouteOutcome | 'cancelled' | 'cancel_requested';
  /** The agent's owner replica ('' if none): to send to (delivered), wake (queued, cancel_requested). */
  owner: string;
  /** Delivered at once: the session's epoch and the command as sent; else 0 and undefined. */
  epoch: number;
  command?: Outgoing;
}

/** What planning a targeted entry did. */
export type PlanResult =
  | { outcome: 'planned'; matched: number; skipped: number }
  | { outcome: 'placed'; admitted: Admitted }
  | { outcome: 'no_match' | 'too_many' | 'error'; error: string }
  | { outcome: 'waiting' | 'duplicate' | 'poison' | 'not_owner' };

/** One launcher step on a parent. */
export interface LaunchStep {
  phase: 'launch' | 'cancel' | 'idle';
  /** Call again at once: more children can start (or be cancelled) now. */
  more: boolean;
  admitted: Admitted[];
}

const PLAN_SCRIPT = 'planFanout';
const LAUNCH_SCRIPT = 'launchChildren';
const PLACE_SCRIPT = 'placeWaiting';

/** Fan-outs and `pick any` in Redis: planFanout, launchChildren and placeWaiting (./scripts). */
export class FanoutStore {
  private readonly writes: TurnWrites;

  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly limits: FanoutLimits,
    private readonly replicaId: string,
  ) {
    this.writes = new TurnWrites(redis);
  }

  /** Handles a targeted ingress entry (fenced by its pending owner); `original`: its fields for a dead letter. */
  async plan(entryId: string, c: NewCommand, spec: TargetSpec, original: string[]): Promise<PlanResult> {
    const k = this.keys;
    const l = this.limits;
    this.writes.hold();
    const v = list(PLAN_SCRIPT, await this.redis.planFanout(
      k.commandsStream, k.events, k.dlq, k.commandSeq, k.commandDeadlines, k.commandCounts, k.fanoutsDue, k.commandsWaiting,
      k.agentIndex, k.agentsOnline, k.agentsStale,
      CONSUMER_GROUP, this.replicaId, l.poisonDeliveries, l.retentionMs, l.mailboxMax, l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes,
      k.commandPrefix, k.mailboxPrefix, k.agentPrefix, k.replicaPrefix, BELL_SUFFIX, WAKE_SUFFIX, WAKE_TTL_MS,
      k.indexPrefix, l.indexLifeMs, k.labelPrefix, k.fanoutAgentsPrefix, k.fanoutSkippedPrefix, l.maxFanout,
      entryId, c.commandId, c.commandType, c.payload, c.priority, c.correlationId, c.maxAttempts, c.ttlMs, c.requestedBy,
      spec.selector, spec.plan, spec.pick, spec.batchCount, spec.batchPercent, spec.batchSpec, spec.maxFailures, spec.batchWaitMs,
      spec.includeOffline ? 1 : 0, ...original,
    ));
    switch (v[0]) {
      case 'planned':
        return { outcome: 'planned', matched: int(PLAN_SCRIPT, v[1]), skipped: int(PLAN_SCRIPT, v[2]) };
      case 'placed': {
        const outcome = routeOutcome(PLAN_SCRIPT, v[1]);
        const epoch = outcome === 'delivered' ? int(PLAN_SCRIPT, v[3]) : 0;
        const command: Outgoing | undefined = outcome === 'delivered'
          ? { commandId: c.commandId, commandType: c.commandType, payload: c.payload, priority: c.priority, attempt: 1, correlationId: c.correlationId, deadlineUnixMs: int(PLAN_SCRIPT, v[4]) }
          : undefined;
        return { outcome: 'placed', admitted: { agentId: String(v[5]), outcome, owner: String(v[2]), epoch, command } };
      }
      case 'no_match':
      case 'too_many':
      case 'error':
        return { outcome: v[0], error: String(v[1]) };
      case 'waiting':
      case 'duplicate':
      case 'poison':
      case 'not_owner':
        return { outcome: v[0] };
      default:
        throw new ScriptReplyError(PLAN_SCRIPT, `unknown outcome ${JSON.stringify(v[0])}`);
    }
  }

  /** Launches (or cancels) the next chunk of a parent's children. */
  async launch(parentId: string, chunk: number): Promise<LaunchStep> {
    const k = this.keys;
    const l = this.limits;
    this.writes.hold();
    const v = list(LAUNCH_SCRIPT, await this.redis.launchChildren(
      k.events, k.dlq, k.commandSeq, k.commandDeadlines, k.commandCounts, k.fanoutsDue,
      k.commandPrefix, k.mailboxPrefix, k.agentPrefix, k.replicaPrefix, BELL_SUFFIX, WAKE_SUFFIX, WAKE_TTL_MS,
      k.indexPrefix, l.indexLifeMs, l.retentionMs, l.mailboxMax, l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes,
      this.replicaId, k.fanoutAgentsPrefix, k.cancelsPrefix, chunk, parentId,
    ));
    const phase = v[0];
    if (phase !== 'launch' && phase !== 'cancel' && phase !== 'idle') throw new ScriptReplyError(LAUNCH_SCRIPT, `unknown phase ${JSON.stringify(phase)}`);
    const [commandType, payload, priority, correlationId] = [String(v[2]), String(v[3]), Number(v[4]), String(v[5])];
    const n = int(LAUNCH_SCRIPT, v[6]);
    if (v.length !== 7 + n * 6) throw new ScriptReplyError(LAUNCH_SCRIPT, `${v.length} values for ${n} children`);
    const admitted: Admitted[] = [];
    for (let i = 7; i < v.length; i += 6) {
      const outcome = phase === 'cancel' ? cancelOutcome(v[i + 2]) : routeOutcome(LAUNCH_SCRIPT, v[i + 2]);
      const delivered = outcome === 'delivered';
      admitted.push({
        agentId: String(v[i + 1]),
        outcome,
        owner: String(v[i + 3]),
        epoch: delivered ? int(LAUNCH_SCRIPT, v[i + 4]) : 0,
        command: delivered
          ? { commandId: String(v[i]), commandType, payload, priority, attempt: 1, correlationId, deadlineUnixMs: int(LAUNCH_SCRIPT, v[i + 5]) }
          : undefined,
      });
    }
    return { phase, more: v[1] === 1 || v[1] === '1', admitted };
  }

  /** Places up to `max` waiting `pick any` commands; returns them and how many still wait. */
  async placeWaiting(max: number): Promise<{ waiting: number; admitted: Admitted[] }> {
    const k = this.keys;
    const l = this.limits;
    this.writes.hold();
    const v = list(PLACE_SCRIPT, await this.redis.placeWaiting(
      k.events, k.dlq, k.commandDeadlines, k.commandCounts, k.commandsWaiting, k.agentIndex, k.agentsOnline,
      k.commandPrefix, k.mailboxPrefix, k.agentPrefix, k.replicaPrefix, BELL_SUFFIX, WAKE_SUFFIX, WAKE_TTL_MS,
      k.indexPrefix, l.indexLifeMs, l.retentionMs, l.mailboxMax, l.eventsMaxLen, l.dlqMaxLen, l.dlqPayloadBytes,
      this.replicaId, k.labelPrefix, `${k.fanoutAgentsPrefix}#pick:${this.replicaId}`, max,
    ));
    const n = int(PLACE_SCRIPT, v[1]);
    if (v.length !== 2 + n * 10) throw new ScriptReplyError(PLACE_SCRIPT, `${v.length} values for ${n} commands`);
    const admitted: Admitted[] = [];
    for (let i = 2; i < v.length; i += 10) {
      const outcome = routeOutcome(PLACE_SCRIPT, v[i + 2]);
      const delivered = outcome === 'delivered';
      admitted.push({
        agentId: String(v[i + 1]),
        outcome,
        owner: String(v[i + 3]),
        epoch: delivered ? int(PLACE_SCRIPT, v[i + 4]) : 0,
        command: delivered
          ? { commandId: String(v[i]), commandType: String(v[i + 6]), payload: String(v[i + 7]), priority: Number(v[i + 8]), attempt: 1, correlationId: String(v[i + 9]), deadlineUnixMs: int(PLACE_SCRIPT, v[i + 5]) }
          : undefined,
      });
    }
    return { waiting: int(PLACE_SCRIPT, v[0]), admitted };
  }

  /** Parents with launches (or cancels) due now, oldest first, and how many `pick any` commands wait. */
  async due(max: number): Promise<{ parents: string[]; waiting: number }> {
    const [[e1, parents], [e2, waiting]] = (await this.redis
      .pipeline()
      .zrangebyscore(this.keys.fanoutsDue, '-inf', Date.now() + 1000, 'WITHSCORES', 'LIMIT', 0, max)
      .zcard(this.keys.commandsWaiting)
      .exec()) as [[Error | null, string[]], [Error | null, number]];
    if (e1 || e2) throw e1 ?? e2;
    // Scores are Redis-clock times and a replica's clock may differ: read a second ahead; the
    // launcher checks the Redis time itself and leaves what is not due yet.
    const ids: string[] = [];
    for (let i = 0; i < parents.length; i += 2) ids.push(parents[i]);
    return { parents: ids, waiting };
  }
}

function list(script: string, reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new ScriptReplyError(script, `expected an array, got ${typeof reply}`);
  return reply;
}

function int(script: string, value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN;
  if (!Number.isInteger(n)) throw new ScriptReplyError(script, `not an integer: ${JSON.stringify(value)}`);
  return n;
}

function routeOutcome(script: string, value: unknown): RouteOutcome {
  if (!ROUTE_OUTCOMES.includes(value as RouteOutcome)) throw new ScriptReplyError(script, `unknown outcome ${JSON.stringify(value)}`);
  return value as RouteOutcome;
}

function cancelOutcome(value: unknown): 'cancelled' | 'cancel_requested' {
  if (value !== 'cancelled' && value !== 'cancel_requested') throw new ScriptReplyError(LAUNCH_SCRIPT, `unknown cancel outcome ${JSON.stringify(value)}`);
  return value;
}
