import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../shared/logger';

/** The orchestrator's Prometheus metrics (names are part of the external contract). */
export class OrchestratorMetrics {
  readonly registry = new Registry();
  /** Messages received on Pulse streams, by kind. */
  readonly pulseTotal = new Counter({ name: 'nexus_pulse_total', help: 'Messages received on Pulse streams', labelNames: ['kind'], registers: [this.registry] });
  /** Messages sent to agents, by kind. */
  readonly directivesSent = new Counter({ name: 'nexus_directives_sent', help: 'Messages sent to agents on Pulse streams', labelNames: ['kind'], registers: [this.registry] });
  /** Sessions held by this replica. */
  readonly connectedAgents = new Gauge({ name: 'nexus_connected_agents', help: 'Agent sessions held by this replica', registers: [this.registry] });
  /** Pulse streams refused or ended by the server, by gRPC status name. */
  readonly sessionsRejected = new Counter({ name: 'nexus_sessions_rejected_total', help: 'Pulse streams refused or ended with an error', labelNames: ['code'], registers: [this.registry] });
  /** Readiness as reported to the health service (1 serving). */
  readonly ready = new Gauge({ name: 'nexus_ready', help: '1 when this replica reports SERVING for readiness', registers: [this.registry] });
  /** Whether gRPC runs without TLS (1) — plaintext is for trusted networks only. */
  readonly plaintext = new Gauge({ name: 'nexus_grpc_plaintext', help: '1 when the gRPC port is served without TLS', registers: [this.registry] });
  /** Whether any caller may call every RPC (1: neither mTLS nor AUTH_TOKENS_FILE). */
  readonly authOpen = new Gauge({ name: 'nexus_auth_open', help: '1 when this replica checks no identity (neither TLS_CA nor AUTH_TOKENS_FILE)', registers: [this.registry] });
  /** Calls refused by the auth guard, by gRPC status name (UNAUTHENTICATED, PERMISSION_DENIED). */
  readonly authDenied = new Counter({ name: 'nexus_auth_denied_total', help: 'Calls refused by the role guard', labelNames: ['code'], registers: [this.registry] });

  /** Commands in flight on this replica's sessions (delivered, no result yet). */
  readonly activeTasks: Gauge;
  /** Ingress entries read by the group and not yet acknowledged. */
  readonly streamsPending = new Gauge({ name: 'nexus_redis_streams_pending', help: 'Ingress entries pending in the consumer group', registers: [this.registry] });
  /** Ingress entries not yet read by the group. */
  readonly streamsLag = new Gauge({ name: 'nexus_redis_streams_lag', help: 'Ingress entries not yet read by the consumer group', registers: [this.registry] });
  /** Dead letters held. */
  readonly dlqLength = new Gauge({ name: 'nexus_dlq_length', help: 'Entries in the dead-letter stream', registers: [this.registry] });
  /** Command results applied by this replica, by outcome. */
  readonly commandsTotal = new Counter({ name: 'nexus_commands_total', help: 'Command results applied by this replica, by outcome', labelNames: ['outcome'], registers: [this.registry] });

  /** Progress reports and log lines agents sent that this replica did not write (Redis too slow, or not delivered there). */
  readonly progressDropped = new Counter({ name: 'nexus_progress_dropped_total', help: 'Progress reports and log lines from agents not written to Redis, by kind (progress, log) and reason (backlog, error)', labelNames: ['kind', 'reason'], registers: [this.registry] });
  /** Sessions this replica told to reconnect elsewhere to balance the fleet, by reason (rebalance, max_age). */
  readonly rebalanceMoves = new Counter({ name: 'nexus_rebalance_moves_total', help: 'Agents told to reconnect to balance the fleet, by reason (rebalance: this replica held more than its fair share; max_age: MAX_SESSION_AGE_MS)', labelNames: ['reason'], registers: [this.registry] });
  /** Agents per ready replica if the fleet were even, as this replica last computed it. */
  readonly fairShare = new Gauge({ name: 'nexus_fleet_fair_share', help: 'Agents per ready replica if the fleet were even (the rebalancer\'s target)', registers: [this.registry] });
  /** Open WatchCommand / WatchEvents streams on this replica, by kind. */
  readonly watchersOpen = new Gauge({ name: 'nexus_watchers_open', help: 'Open WatchCommand and WatchEvents streams on this replica', labelNames: ['kind'], registers: [this.registry] });

  /** Dampening (docs/dampening.md): 1 while this replica holds its own agents for mass silence. */
  readonly dampeningActive = new Gauge({ name: 'nexus_dampening_active', help: '1 while this replica holds its agents\' offline transitions (mass silence)', registers: [this.registry] });
  /** Due transitions this replica's sweeps did not make because a hold covered the agent (each sweep counts again). */
  readonly transitionsHeld = new Counter({ name: 'nexus_agent_transitions_held_total', help: 'Due stale/offline transitions held back by this replica\'s sweeps (counted per sweep)', registers: [this.registry] });
  /** Agents whose due transition the last sweep of this replica held. */
  readonly agentsHeld = new Gauge({ name: 'nexus_agents_held', help: 'Agents held by the last staleness sweep of this replica', registers: [this.registry] });
  /** Holds active in the cluster (replicas held, plus `*`) as this replica's last sweep saw them. */
  readonly activeHolds = new Gauge({ name: 'nexus_agent_holds', help: 'Active holds on agent transitions in the cluster (last sweep of this replica)', registers: [this.registry] });
  /** Holds this replica set or found, by reason (mass_silence, redis_back, replica_down, sweep_gap). */
  readonly holdsStarted = new Counter({ name: 'nexus_dampening_started_total', help: 'Holds begun by this replica, by reason', labelNames: ['reason'], registers: [this.registry] });
  /** This replica's agents silent or gone without goodbye within the staleness window (silence watch). */
  readonly silentAgents = new Gauge({ name: 'nexus_silent_agents', help: 'Agents of this replica silent or gone without goodbye in the last staleness window', registers: [this.registry] });

  private readonly pulseByKind = new Map<string, ReturnType<Counter['labels']>>();
  private readonly sentByKind = new Map<string, ReturnType<Counter['labels']>>();
  private readonly outcomes = new Map<string, ReturnType<Counter['labels']>>();

  constructor(labels: Record<string, string>, activeTasks: () => number) {
    this.activeTasks = new Gauge({
      name: 'nexus_active_tasks',
      help: 'Commands delivered to agents on this replica and not finished',
      registers: [this.registry],
      collect() {
        this.set(activeTasks());
      },
    });
    this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one received message (label children are cached: this is the hot path). */
  countPulse(kind: string): void {
    let child = this.pulseByKind.get(kind);
    if (!child) this.pulseByKind.set(kind, (child = this.pulseTotal.labels(kind)));
    child.inc();
  }

  /** Counts one applied result. */
  countOutcome(outcome: string): void {
    let child = this.outcomes.get(outcome);
    if (!child) this.outcomes.set(outcome, (child = this.commandsTotal.labels(outcome)));
    child.inc();
  }

  /** Counts one sent message. */
  countSent(kind: string): void {
    let child = this.sentByKind.get(kind);
    if (!child) this.sentByKind.set(kind, (child = this.directivesSent.labels(kind)));
    child.inc();
  }
}

/** Serves `/metrics` over HTTP; returns the bound port. */
export async function serveMetrics(metrics: OrchestratorMetrics, host: string, port: number, logger: Logger): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found: try /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => {
        logger.error({ err: err.message }, 'metrics collection failed');
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : port };
}
