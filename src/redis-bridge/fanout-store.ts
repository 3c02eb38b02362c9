import type Redis from 'ioredis';
import type { CommandLimits, Outgoing, RouteOutcome } from './command-types';
import type { NewCommand } from './ingress-entry';
import { BELL_SUFFIX, CONSUMER_GROUP, WAKE_SUFFIX, WAKE_TTL_MS, type NexusKeys } from './keys';
import { ROUTE_OUTCOMES } from './reply-codes';
import { int, list, oneOf } from './script-replies';
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
        return { outcome: 'planned', matched: int(PLAN_SCRIPT, v[1], 'matched'), skipped: int(PLAN_SCRIPT, v[2], 'skipped') };
      case 'placed': {
        // outcome, owner, epoch, expiry, agent: as admittedAt reads them, with the id first.
        const row = [c.commandId, v[5], v[1], v[2], v[3], v[4]];
        return { outcome: 'placed', admitted: admittedAt(PLAN_SCRIPT, row, 0, oneOf(PLAN_SCRIPT, v[1], ROUTE_OUTCOMES, 'outcome'), c) };
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
    const body = { commandType: String(v[2]), payload: String(v[3]), priority: Number(v[4]), correlationId: String(v[5]) };
    const n = int(LAUNCH_SCRIPT, v[6], 'children');
    if (v.length !== 7 + n * 6) throw new ScriptReplyError(LAUNCH_SCRIPT, `${v.length} values for ${n} children`);
    const admitted: Admitted[] = [];
    for (let i = 7; i < v.length; i += 6) {
      const outcome = phase === 'cancel' ? oneOf(LAUNCH_SCRIPT, v[i + 2], CANCEL_STEPS, 'cancel outcome') : oneOf(LAUNCH_SCRIPT, v[i + 2], ROUTE_OUTCOMES, 'outcome');
      admitted.push(admittedAt(LAUNCH_SCRIPT, v, i, outcome, body));
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
    const n = int(PLACE_SCRIPT, v[1], 'placed');
    if (v.length !== 2 + n * 10) throw new ScriptReplyError(PLACE_SCRIPT, `${v.length} values for ${n} commands`);
    const admitted: Admitted[] = [];
    for (let i = 2; i < v.length; i += 10) {
      const body = { commandType: String(v[i + 6]), payload: String(v[i + 7]), priority: Number(v[i + 8]), correlationId: String(v[i + 9]) };
      admitted.push(admittedAt(PLACE_SCRIPT, v, i, oneOf(PLACE_SCRIPT, v[i + 2], ROUTE_OUTCOMES, 'outcome'), body));
    }
    return { waiting: int(PLACE_SCRIPT, v[0], 'waiting'), admitted };
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

const CANCEL_STEPS = ['cancelled', 'cancel_requested'] as const;

/**
 * One admitted command of a reply, its values at `i`: command id, agent, outcome, owner, and
 * for `delivered` the session's epoch and the expiry; `body` is what the agent is sent with it.
 */
function admittedAt(script: string, v: readonly unknown[], i: number, outcome: Admitted['outcome'], body: Pick<Outgoing, 'commandType' | 'payload' | 'priority' | 'correlationId'>): Admitted {
  const delivered = outcome === 'delivered';
  return {
    agentId: String(v[i + 1]),
    outcome,
    owner: String(v[i + 3]),
    epoch: delivered ? int(script, v[i + 4], 'epoch') : 0,
    command: delivered
      ? { commandId: String(v[i]), commandType: body.commandType, payload: body.payload, priority: body.priority, attempt: 1, correlationId: body.correlationId, deadlineUnixMs: int(script, v[i + 5], 'expiry') }
      : undefined,
  };
}
