import { status } from '@grpc/grpc-js';
import type { Logger } from '../shared/logger';
import type { AgentRegistry } from '../redis-bridge/agent-registry';
import type { SessionRegistry } from './session-registry';

/**
 * Moves silent agents online -> stale -> offline in the cluster registry (the sweep is a Lua
 * script on Redis time; any replica may run it, each transition happens once), and closes
 * local sessions that have been silent past the offline threshold (a stuck agent or a
 * half-open link that keepalive has not caught yet).
 */
export class StalenessMonitor {
  constructor(
    private readonly sessions: SessionRegistry,
    private readonly agents: AgentRegistry,
    private readonly settings: { stalenessThresholdMs: number; offlineThresholdMs: number; replicaId: string },
    private readonly logger: Logger,
  ) {}

  async check(): Promise<void> {
    const now = performance.now();
    for (const session of this.sessions.values()) {
      if (now - session.lastHeardAt > this.settings.offlineThresholdMs) {
        this.logger.warn({ agentId: session.agentId, silentMs: Math.round(now - session.lastHeardAt) }, 'closing silent session');
        session.close({ code: status.UNAVAILABLE, details: 'no pulse within the offline threshold; reconnect' });
      }
    }
    const moved = await this.agents.sweep(this.settings.stalenessThresholdMs, this.settings.offlineThresholdMs, this.settings.replicaId);
    if (moved.stale || moved.offline || moved.forgotten) this.logger.info(moved, 'agent states swept');
  }
}
