import { status as grpcStatus, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  AgentState,
  type AgentInfo,
  type GetSystemStatusRequest,
  type GetSystemStatusResponse,
} from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import { parseSelector, SelectorError, type Selector } from '../shared/selector';
import type { AgentRecord, AgentStateName } from '../redis-bridge/agent-record';
import type { AgentRegistry } from '../redis-bridge/agent-registry';
import type { ReplicaRegistry } from '../redis-bridge/replica-registry';
import type { CommandCountsByState } from '../redis-bridge/command-types';
import type { IngressStats } from '../redis-bridge/stream-stats';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const STATE_TO_PROTO: Record<AgentStateName, AgentState> = {
  online: AgentState.AGENT_STATE_ONLINE,
  stale: AgentState.AGENT_STATE_STALE,
  offline: AgentState.AGENT_STATE_OFFLINE,
};

export interface StatusSources {
  readonly agents: AgentRegistry;
  readonly replicas: ReplicaRegistry;
  readonly streams: () => Promise<{ ingress: IngressStats; dlqLength: number }>;
  readonly commandCounts: () => Promise<CommandCountsByState>;
  readonly replicaId: string;
  readonly logger: Logger;
}

/**
 * GetSystemStatus: everything comes from Redis, so every replica gives the same answer.
 * Agents are paged by id with optional filters; counts cover the whole cluster.
 */
export class StatusService {
  constructor(private readonly sources: StatusSources) {}

  readonly handle = (call: ServerUnaryCall<GetSystemStatusRequest, GetSystemStatusResponse>, callback: sendUnaryData<GetSystemStatusResponse>): void => {
    const req = call.request;
    if (req.pageSize > MAX_PAGE_SIZE) {
      return callback({ code: grpcStatus.INVALID_ARGUMENT, details: `page_size must be at most ${MAX_PAGE_SIZE}` });
    }
    let afterId = '';
    if (req.pageToken) {
      afterId = Buffer.from(req.pageToken, 'base64url').toString('utf8');
      if (!afterId) return callback({ code: grpcStatus.INVALID_ARGUMENT, details: 'page_token is not a token from a previous response' });
    }
    const state = protoToState(req.state);
    if (state === null) return callback({ code: grpcStatus.INVALID_ARGUMENT, details: `unknown agent state ${req.state}` });
    let selector: Selector | undefined;
    try {
      selector = req.selector ? parseSelector(req.selector) : undefined;
    } catch (err) {
      if (err instanceof SelectorError) return callback({ code: grpcStatus.INVALID_ARGUMENT, details: err.message });
      throw err;
    }
    this.build(req, afterId, state, selector).then(
      (response) => callback(null, response),
      (err: Error) => {
        this.sources.logger.warn({ err: err.message }, 'GetSystemStatus failed');
        callback({ code: grpcStatus.UNAVAILABLE, details: 'cluster state unavailable (redis unreachable); retry' });
      },
    );
  };

  private async build(req: GetSystemStatusRequest, afterId: string, state: AgentStateName | undefined, selector: Selector | undefined): Promise<GetSystemStatusResponse> {
    const { agents, replicas, streams, commandCounts } = this.sources;
    const pageSize = req.pageSize || DEFAULT_PAGE_SIZE;
    const [replicaList, counts, page, streamStats, commands] = await Promise.all([
      replicas.list(),
      agents.counts(),
      req.summaryOnly
        ? Promise.resolve({ agents: [], nextAfterId: '' })
        : agents.page({ state, replicaId: req.replicaId || undefined, agentType: req.agentType || undefined, idPrefix: req.agentIdPrefix || undefined, selector }, pageSize, afterId),
      streams(),
      commandCounts(),
    ]);
    return {
      answeredBy: this.sources.replicaId,
      serverTimeUnixMs: Date.now(),
      replicas: replicaList.map((r) => ({
        replicaId: r.replicaId,
        address: r.address,
        version: r.version,
        startedAtUnixMs: r.startedAtMs,
        lastSeenUnixMs: r.lastSeenMs,
        connectedAgents: r.connectedAgents,
        ready: r.ready,
      })),
      agentCounts: { total: counts.online + counts.stale + counts.offline, ...counts },
      agents: page.agents.map(toAgentInfo),
      nextPageToken: page.nextAfterId ? Buffer.from(page.nextAfterId, 'utf8').toString('base64url') : '',
      ingress: streamStats.ingress,
      dlqLength: streamStats.dlqLength,
      commands,
    };
  }
}

/** undefined = no filter; null = not a valid state. */
function protoToState(state: AgentState): AgentStateName | undefined | null {
  switch (state) {
    case AgentState.AGENT_STATE_UNSPECIFIED: return undefined;
    case AgentState.AGENT_STATE_ONLINE: return 'online';
    case AgentState.AGENT_STATE_STALE: return 'stale';
    case AgentState.AGENT_STATE_OFFLINE: return 'offline';
    default: return null;
  }
}

function toAgentInfo(r: AgentRecord): AgentInfo {
  return {
    agentId: r.agentId,
    agentType: r.agentType,
    displayName: r.displayName,
    state: STATE_TO_PROTO[r.state],
    replicaId: r.replicaId,
    sessionId: r.sessionId,
    capabilities: r.capabilities,
    labels: r.labels,
    version: r.version,
    maxConcurrency: r.maxConcurrency,
    metrics: r.metrics,
    activeCommands: r.activeCommands,
    lastPulseUnixMs: r.lastPulseMs,
    connectedAtUnixMs: r.connectedAtMs,
    epoch: r.epoch,
  };
}
