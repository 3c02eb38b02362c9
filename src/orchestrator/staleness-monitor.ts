import { status } from '@grpc/grpc-js';
import type { Logger } from '../shared/logger';
import type { AgentRegistry, SweepRules } from '../redis-bridge/agent-registry';
import type { OrchestratorMetrics } from './metrics';
import type { SessionRegistry } from './session-registry';

/** What the monitor needs from the config. */
export interface StalenessSettings {
  readonly stalenessThresholdMs: number;
  readonly offlineThresholdMs: number;
  readonly stalenessCheckIntervalMs: number;
  readonly replicaBeatIntervalMs: number;
  readonly failoverGraceMs: number;
  readonly replicaId: string;
}

/**
 * Slack on top of two check intervals before a pause in the sweeps counts as a gap: every
 * replica sweeps at the interval, so a longer pause means none could (Redis or all replicas down).
 */
const GAP_SLACK_MS = 1000;

/**
 * Moves silent agents online -> stale -> offline in the cluster registry (the sweep is a Lua
 * script on Redis time; any replica may run it, each transition happens once; holds keep
 * transitions back, docs/dampening.md), and closes local sessions that have been silent past
 * the offline threshold (a stuck agent or a half-open link that keepalive has not caught yet).
 */
export class StalenessMonitor {
  private readonly rules: SweepRules;

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly agents: AgentRegistry,
    private readonly settings: StalenessSettings,
    private readonly metrics: OrchestratorMetrics,
    private readonly logger: Logger,
  ) {
    this.rules = {
      staleAfterMs: settings.stalenessThresholdMs,
      offlineAfterMs: settings.offlineThresholdMs,
      replicaBeatMs: settings.replicaBeatIntervalMs,
      gapAfterMs: 2 * settings.stalenessCheckIntervalMs + GAP_SLACK_MS,
      failoverGraceMs: settings.failoverGraceMs,
    };
  }

  async check(): Promise<void> {
    const now = performance.now();
    for (const session of this.sessions.values()) {
      if (now - session.lastHeardAt > this.settings.offlineThresholdMs) {
        this.logger.warn({ agentId: session.agentId, silentMs: Math.round(now - session.lastHeardAt) }, 'closing silent session');
        session.close({ code: status.UNAVAILABLE, details: 'no pulse within the offline threshold; reconnect' });
      }
    }
    const { held, gap, holdsEnded, activeHolds, ...moved } = await this.agents.sweep(this.rules, this.settings.replicaId);
    this.metrics.agentsHeld.set(held);
    this.metrics.activeHolds.set(activeHolds);
    if (held > 0) this.metrics.transitionsHeld.inc(held);
    if (gap) {
      this.metrics.holdsStarted.labels(gap).inc();
      this.logger.warn({ graceMs: this.settings.failoverGraceMs }, 'gap in the staleness sweeps (Redis or every replica was down): no agent goes stale during the failover grace');
    }
    if (holdsEnded.length > 0) this.logger.warn({ holds: holdsEnded }, 'dampening ended: holds reached their bound; held agents go stale and offline as usual');
    if (moved.stale || moved.offline || moved.forgotten) this.logger.info({ ...moved, held }, 'agent states swept');
  }
}
