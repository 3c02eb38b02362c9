import { status } from '@grpc/grpc-js';
import type { HostMetrics } from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import type { AgentRegistry, HeartbeatWrite } from '../redis-bridge/agent-registry';
import type { Session } from './session';
import type { SessionRegistry } from './session-registry';

/**
 * Writes the newest heartbeat of every session that has one pending, all in one pipeline per
 * flush. Coalescing bounds Redis load (one write per agent per flush, however chatty) and,
 * while Redis is away, what waits for it (one pending heartbeat per agent, in memory).
 * A fenced write means a newer session owns the agent: this one is closed. A missing record
 * (Redis lost its data) re-registers the session under a new epoch.
 */
export class HeartbeatFlusher {
  constructor(
    private readonly sessions: SessionRegistry,
    private readonly agents: AgentRegistry,
    private readonly reRegister: (session: Session) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  async flush(): Promise<void> {
    const batch: Session[] = [];
    const writes: HeartbeatWrite[] = [];
    for (const session of this.sessions.values()) {
      if (!session.dirty || session.state === 'closed') continue;
      session.dirty = false;
      batch.push(session);
      writes.push({ agentId: session.agentId, epoch: session.epoch, metricsJson: metricsJson(session.metrics), activeCommands: session.activeCommands });
    }
    let outcomes;
    try {
      outcomes = await this.agents.recordHeartbeats(writes);
    } catch (err) {
      // Keep them pending for the next flush; nothing newer is lost since a newer heartbeat
      // simply overwrites the session's fields.
      for (const s of batch) s.dirty = true;
      throw err;
    }
    for (let i = 0; i < batch.length; i++) {
      const session = batch[i];
      if (outcomes[i] === 'fenced') {
        this.logger.info({ agentId: session.agentId, epoch: session.epoch }, 'session fenced by a newer one; closing');
        session.close({ code: status.ABORTED, details: 'replaced by a newer session for the same agent id' }, true);
      } else if (outcomes[i] === 'missing' && session.state !== 'closed') {
        this.logger.warn({ agentId: session.agentId }, 'agent record missing in Redis; registering the session again');
        await this.reRegister(session);
      }
    }
  }

  /**
   * Marks every live session as having a heartbeat to write, so the next flush rewrites their
   * pulses at once (after this replica regained Redis: pulses sent meanwhile were not written).
   */
  markAllDirty(): number {
    let n = 0;
    for (const session of this.sessions.values()) {
      if (session.state === 'closed') continue;
      session.dirty = true;
      n++;
    }
    return n;
  }
}

/** Metrics as stored in the agent record (a small JSON object). */
export function metricsJson(m: HostMetrics | undefined): string {
  if (!m) return '';
  return JSON.stringify({
    cpuPercent: m.cpuPercent,
    memoryUsedBytes: m.memoryUsedBytes,
    memoryTotalBytes: m.memoryTotalBytes,
    loadAverage1m: m.loadAverage1m,
    uptimeSeconds: m.uptimeSeconds,
  });
}
