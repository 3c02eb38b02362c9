import type Redis from 'ioredis';
import type { Logger } from '../shared/logger';
import type { CommandStore } from '../redis-bridge/command-store';
import { trimIndex } from '../redis-bridge/command-index';
import { retireIdleConsumers } from '../redis-bridge/consumer-retirement';
import { trimIngress } from '../redis-bridge/ingress-trim';
import type { NexusKeys } from '../redis-bridge/keys';
import { readStreamStats } from '../redis-bridge/stream-stats';
import type { OrchestratorMetrics } from './metrics';

/**
 * Periodic upkeep of the command path, safe to run on every replica at once: dead-letter
 * commands past their TTL, trim the ingress below what the group handled, refresh the
 * stream gauges (pending, lag, DLQ length), and now and then drop from the command index what
 * no record can outlive.
 */
export class CommandMaintenance {
  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    private readonly store: CommandStore,
    private readonly ingressTargetLen: number,
    /** The longest a command record lives: the command index keeps ids this long. */
    private readonly indexLifeMs: number,
    private readonly consumer: { readonly name: string; readonly retireIdleMs: number },
    private readonly metrics: OrchestratorMetrics,
    private readonly logger: Logger,
  ) {}

  /** Consumers are looked at every this many runs (XINFO CONSUMERS is not free). */
  private static readonly CONSUMER_CHECK_EVERY = 30;
  private runs = 0;

  async run(): Promise<void> {
    const expired = await this.store.expire();
    if (expired > 0) this.logger.info({ expired }, 'commands past their TTL dead-lettered');
    const stats = await readStreamStats(this.redis, this.keys);
    this.metrics.streamsPending.set(stats.ingress.pending);
    this.metrics.streamsLag.set(stats.ingress.lag);
    this.metrics.dlqLength.set(stats.dlqLength);
    const trimmed = await trimIngress(this.redis, this.keys, stats, this.ingressTargetLen);
    if (trimmed > 0) this.logger.debug({ trimmed }, 'ingress trimmed below the group\'s progress');
    if (this.runs++ % CommandMaintenance.CONSUMER_CHECK_EVERY === 0) {
      const retired = await retireIdleConsumers(this.redis, this.keys, this.consumer.name, this.consumer.retireIdleMs);
      if (retired.length > 0) this.logger.info({ retired }, 'deleted idle consumers that held nothing');
      const dropped = await trimIndex(this.redis, this.keys, this.indexLifeMs);
      if (dropped > 0) this.logger.debug({ dropped }, 'command index trimmed by age');
    }
  }
}
