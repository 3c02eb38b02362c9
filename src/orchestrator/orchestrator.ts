import type { Server as HttpServer } from 'node:http';
import { status, type Server } from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';
import type Redis from 'ioredis';
import type { Logger } from '../shared/logger';
import { Ticker } from '../shared/ticker';
import { NEXUS_VERSION } from '../shared/version';
import { AgentHolds } from '../redis-bridge/agent-holds';
import { AgentRegistry } from '../redis-bridge/agent-registry';
import { CommandStore } from '../redis-bridge/command-store';
import { DeadLetters } from '../redis-bridge/dead-letters';
import { retireConsumer } from '../redis-bridge/consumer-retirement';
import { IngressConsumer } from '../redis-bridge/ingress-consumer';
import { EventLog } from '../redis-bridge/event-log';
import { NexusKeys } from '../redis-bridge/keys';
import { closeRedis, createRedis } from '../redis-bridge/redis-connection';
import { ReplicaBell, type BellMessage } from '../redis-bridge/replica-bell';
import { ReplicaRegistry } from '../redis-bridge/replica-registry';
import { CommandIntake } from './command-intake';
import { CommandMaintenance } from './command-maintenance';
import { commandLimitsOf, entryRulesOf, fanoutLimitsOf, recordLifeMs } from './command-rules';
import { FanoutDriver } from './fanout-driver';
import { FanoutStore } from '../redis-bridge/fanout-store';
import type { OrchestratorConfig } from './config';
import { AckHolder } from './ack-holder';
import { authMode } from './auth/authenticator';
import { DeliveryRuns } from './delivery-runs';
import { GrpcListener } from './grpc-listener';
import { buildGrpcServer, READINESS_SERVICE, serverCredentials } from './grpc-server';
import { HeartbeatFlusher } from './heartbeat-flusher';
import { OrchestratorMetrics, serveMetrics } from './metrics';
import { PulseHandler, welcomeHeartbeatMs } from './pulse-handler';
import { Readiness } from './readiness';
import { MISSED_BEATS_TO_DEAD, ReplicaPresence } from './replica-presence';
import { requestHandlers } from './request-handlers';
import { ProgressWriter } from './progress-writer';
import { ResultBatcher } from './result-batcher';
import { Rebalancer, REBALANCE_TICK_MS } from './rebalancer';
import { SessionDrain } from './session-drain';
import { RetryTimers } from './retry-timers';
import { SessionRegistry } from './session-registry';
import { SilenceWatch } from './silence-watch';
import { StalenessMonitor } from './staleness-monitor';
import { WatchService } from './watch/watch-service';
import { ConsoleServer } from '../console/console-server';
import type { SseTimings } from '../console/sse';

/** created -> running -> draining -> stopped (see shutdown()). */
export type OrchestratorState = 'created' | 'running' | 'draining' | 'stopped';

/** Where a started orchestrator listens. */
export interface Endpoints {
  readonly grpcPort: number;
  readonly metricsPort: number;
  /** The web console's port; 0 when it is off. */
  readonly consolePort: number;
}

/** Internal knobs (tests shorten the console's SSE timings). */
export interface OrchestratorOptions {
  readonly consoleSse?: Partial<SseTimings>;
}

/**
 * One orchestrator replica: owns its Redis connections, gRPC server, metrics endpoint and
 * background loops, and tears them down in a fixed order on shutdown.
 */
export class Orchestrator {
  state: OrchestratorState = 'created';
  readonly sessions = new SessionRegistry();
  private readonly log: Logger;
  private readonly metrics: OrchestratorMetrics;
  private readonly redis: Redis;
  private readonly probe: Redis;
  private readonly subscriber: Redis;
  private readonly blocking: Redis;
  private readonly bell: ReplicaBell;
  private readonly delivery: DeliveryRuns;
  private readonly retries: RetryTimers;
  private readonly results: ResultBatcher;
  private readonly fanouts: FanoutDriver;
  private readonly acks: AckHolder;
  private readonly progress: ProgressWriter;
  private readonly drain: SessionDrain;
  private readonly consumer: IngressConsumer;
  private readonly keys: NexusKeys;
  private readonly readiness: Readiness;
  private readonly pulse: PulseHandler;
  private readonly tickers: Ticker[];
  private readonly presence: ReplicaPresence;
  private readonly holds: AgentHolds;
  private readonly silence: SilenceWatch;
  private readonly flusher: HeartbeatFlusher;
  private readonly watches: WatchService;
  private readonly server: Server;
  private readonly health: HealthImplementation;
  private metricsServer: HttpServer | undefined;
  private console: ConsoleServer | undefined;
  private readonly commandCounts: () => Promise<{ succeeded: number; failed: number; dead: number }>;
  private listener: GrpcListener | undefined;
  private readonly startedAtMs = Date.now();
  private closing: Promise<void> | undefined;

  constructor(private readonly config: OrchestratorConfig, logger: Logger, private readonly options: OrchestratorOptions = {}) {
    this.log = logger;
    this.metrics = new OrchestratorMetrics({ replica: config.replicaId }, () => {
      let n = 0;
      for (const s of this.sessions.values()) n += s.inflight;
      return n;
    });
    this.metrics.plaintext.set(config.tls ? 0 : 1);
    this.metrics.authOpen.set(authMode(config) === 'open' ? 1 : 0);
    const redisOptions = { name: `nexus:${config.replicaId}`, commandTimeoutMs: config.redisCommandTimeoutMs, tlsCa: config.redisTlsCa };
    this.redis = createRedis(config.redisUrl, 'command', redisOptions, logger);
    this.probe = createRedis(config.redisUrl, 'probe', { ...redisOptions, commandTimeoutMs: config.readinessProbeTimeoutMs }, logger);
    this.subscriber = createRedis(config.redisUrl, 'subscriber', redisOptions, logger);
    this.blocking = createRedis(config.redisUrl, 'blocking', redisOptions, logger);

    const keys = new NexusKeys(config.keyPrefix);
    this.keys = keys;
    const agents = new AgentRegistry(this.redis, keys, {
      recordTtlMs: config.agentRetentionMs,
      eventsMaxLen: config.eventsMaxLen,
      reconnectLimit: config.agentReconnectLimit,
      reconnectWindowMs: config.agentReconnectWindowMs,
    });
    const replicas = new ReplicaRegistry(this.redis, keys, config.eventsMaxLen);
    const events = new EventLog(this.redis, keys, config.eventsMaxLen);
    this.bell = new ReplicaBell(this.redis, this.subscriber, keys, logger.child({ component: 'bell' }));

    const store = new CommandStore(this.redis, keys, commandLimitsOf(config), config.replicaId);
    this.commandCounts = () => store.counts();
    const rules = entryRulesOf(config);
    const deliveryLog = logger.child({ component: 'delivery' });
    this.retries = new RetryTimers((agentId, resend) => this.delivery.kick(agentId, resend));
    this.delivery = new DeliveryRuns(this.sessions, store, this.redis, keys, config.replicaId, this.retries, deliveryLog);
    this.results = new ResultBatcher(store, this.delivery, this.retries, this.metrics, deliveryLog);
    this.progress = new ProgressWriter(this.redis, keys, config.commandLogMaxLines, this.metrics, deliveryLog);
    this.acks = new AckHolder((agentId, ack) => {
      store.ack(ack.commandId, agentId, ack.attempt).catch((err: Error) => deliveryLog.debug({ err: err.message }, 'ack not recorded'));
    });
    const deadLetters = new DeadLetters(this.redis, keys);
    const fanouts = new FanoutStore(this.redis, keys, fanoutLimitsOf(config), config.replicaId);
    this.fanouts = new FanoutDriver(fanouts, this.delivery, this.bell, config.replicaId, logger.child({ component: 'fanout' }));
    const intake = new CommandIntake(store, rules, this.delivery, this.bell, config.replicaId, logger.child({ component: 'intake' }), deadLetters, fanouts, this.fanouts);
    this.consumer = new IngressConsumer(this.blocking, this.redis, keys, config.replicaId, {
      batch: config.ingressBatch,
      blockMs: config.ingressBlockMs,
      claimMinIdleMs: config.claimMinIdleMs,
      claimSweepMs: config.claimSweepMs,
    }, intake.handleBatch, logger.child({ component: 'ingress' }));
    const maintenance = new CommandMaintenance(this.redis, keys, store, config.ingressTargetLen, recordLifeMs(config), { name: config.replicaId, retireIdleMs: config.consumerRetireIdleMs }, this.metrics, logger.child({ component: 'maintenance' }));

    // Watchers share one events reader with a connection of its own (opened with the first watcher).
    this.watches = new WatchService({
      connectTail: () => createRedis(config.redisUrl, 'blocking', { ...redisOptions, name: `nexus:${config.replicaId}:watch` }, logger),
      redis: this.redis, keys, maxWatchers: config.maxWatchers, gauge: this.metrics.watchersOpen, logger: logger.child({ component: 'watch' }),
    });

    const { server, health } = buildGrpcServer(config, {
      pulse: (call) => this.pulse.handle(call),
      ...requestHandlers({ redis: this.redis, keys, store, agents, replicas, events, deadLetters, rules, replicaId: config.replicaId, logger }),
      watchCommand: this.watches.watchCommand,
      watchEvents: this.watches.watchEvents,
    }, logger.child({ component: 'auth' }), (code) => this.metrics.authDenied.labels(status[code]).inc());
    this.server = server;
    this.health = health;
    this.drain = new SessionDrain(this.sessions, config.drainWindowMs);
    this.readiness = new Readiness(this.probe, config.readinessProbeTimeoutMs, (ready) => this.onReadiness(ready), logger.child({ component: 'readiness' }), (downMs) => this.onRedisBack(downMs));
    this.holds = new AgentHolds(this.redis, keys, config.eventsMaxLen, config.replicaId);
    const heartbeatMs = welcomeHeartbeatMs(config);
    this.silence = new SilenceWatch(this.sessions, agents, this.holds, config, heartbeatMs, (id, epoch, reason) => this.pulse.markOffline(id, epoch, reason), this.metrics, logger.child({ component: 'dampening' }));
    this.pulse = new PulseHandler({
      config,
      sessions: this.sessions,
      agents,
      bell: this.bell,
      metrics: this.metrics,
      delivery: this.delivery,
      acks: this.acks,
      results: this.results,
      progress: this.progress,
      logger,
      // Refuse at once while Redis is known unreachable: registration would only hang and fail.
      accepting: () => this.state === 'running' && this.readiness.redisReachable,
      silence: this.silence,
    });
    this.presence = new ReplicaPresence(replicas, events, config.replicaId, config.replicaBeatIntervalMs, () => ({
      address: config.advertiseAddress,
      version: NEXUS_VERSION,
      startedAtMs: this.startedAtMs,
      connectedAgents: this.sessions.size,
      ready: this.readiness.ready,
    }), logger.child({ component: 'presence' }), config.failoverGraceMs);

    const flusher = new HeartbeatFlusher(this.sessions, agents, (s) => this.pulse.reRegister(s), logger.child({ component: 'heartbeats' }));
    this.flusher = flusher;
    const staleness = new StalenessMonitor(this.sessions, agents, config, this.metrics, logger.child({ component: 'staleness' }));
    const rebalancer = new Rebalancer({
      replicaId: config.replicaId,
      address: config.advertiseAddress,
      ratePerSec: config.rebalanceRate,
      tolerancePct: config.rebalanceTolerancePct,
      settleMs: config.rebalanceSettleMs,
      maxSessionAgeMs: config.maxSessionAgeMs,
      admissionRatePerSec: config.sessionAdmissionRate,
    }, {
      sessions: this.sessions,
      drain: this.drain,
      replicas: () => replicas.list(),
      // Agents held by dampening are silent or gone, not placed: balance once they are back.
      unsettled: async () => {
        const held = await this.holds.list();
        return held.length > 0 ? `agents held (${held.map((h) => `${h.field}: ${h.reason}`).join(', ')})` : undefined;
      },
      publish: (n) => replicas.publishAgents(config.replicaId, n, config.replicaBeatIntervalMs * MISSED_BEATS_TO_DEAD),
      active: () => this.state === 'running' && this.readiness.ready,
      moves: this.metrics.rebalanceMoves,
      fairShare: this.metrics.fairShare,
      logger: logger.child({ component: 'rebalance' }),
    });
    const warn = (what: string) => (err: Error) => this.log.warn({ err: err.message }, `${what} failed`);
    this.tickers = [
      new Ticker(config.readinessProbeIntervalMs, () => this.checkReadiness(), warn('readiness probe')),
      new Ticker(config.replicaBeatIntervalMs, () => this.presence.beat(), warn('replica beat')),
      new Ticker(config.heartbeatFlushMs, () => flusher.flush(), warn('heartbeat flush')),
      new Ticker(config.stalenessCheckIntervalMs, () => staleness.check(), warn('staleness check')),
      new Ticker(SilenceWatch.tickMs(heartbeatMs), () => this.silence.tick(), warn('silence watch')),
      new Ticker(config.wakePollMs, () => this.delivery.pollWake(), warn('wake poll')),
      new Ticker(config.maintenanceIntervalMs, () => maintenance.run(), warn('command maintenance')),
      new Ticker(config.fanoutPollMs, this.fanouts.poll, warn('fan-out poll')),
      ...(rebalancer.enabled ? [new Ticker(REBALANCE_TICK_MS, rebalancer.tick, warn('rebalance'))] : []),
    ];
  }

  /** Open web console SSE responses, and the bytes they hold for slow browsers (diagnostics, tests). */
  get consoleStreams(): number {
    return this.console?.openStreams ?? 0;
  }

  get consoleBufferedBytes(): number {
    return this.console?.bufferedBytes ?? 0;
  }

  /**
   * Binds gRPC (and metrics), then starts the background loops. Does not wait for Redis: a
   * replica without Redis is alive but not ready, and becomes ready when Redis answers.
   */
  async start(): Promise<Endpoints> {
    if (this.state !== 'created') throw new Error(`cannot start: orchestrator is ${this.state}`);
    const { config } = this;
    this.listener = await GrpcListener.listen(this.server, config.grpcHost, config.grpcPort, serverCredentials(config.tls), (err) =>
      this.log.warn({ err: err.message }, 'gRPC listener error; still listening'));
    const grpcPort = this.listener.port;
    let metricsPort = 0;
    if (config.metricsPort > 0) {
      const served = await serveMetrics(this.metrics, config.grpcHost, config.metricsPort, this.log);
      this.metricsServer = served.server;
      metricsPort = served.port;
    }
    const consolePort = await this.startConsole(grpcPort);
    // Probe Redis once (bounded by the probe timeout) so a replica that just started can admit
    // sessions at once when Redis is there; it does not wait for Redis beyond that.
    await this.readiness.check();
    this.state = 'running';
    this.bell.start(config.replicaId, (m) => this.onBell(m), () => this.delivery.resendAll()).catch((err: Error) => this.log.error({ err: err.message }, 'could not subscribe to the replica bell'));
    for (const ticker of this.tickers) ticker.start(true);
    this.consumer.start();
    this.readiness.markStarted();
    this.log.info({ replicaId: config.replicaId, grpcPort, metricsPort, consolePort, version: NEXUS_VERSION }, 'orchestrator started');
    if (!config.tls) this.log.warn('gRPC is served without TLS (set TLS_CERT, TLS_KEY and TLS_CA for mutual TLS): use it on trusted networks only');
    else this.log.info({ mtls: config.tls.ca !== undefined }, config.tls.ca ? 'gRPC with mutual TLS: agent ids must match their certificates' : 'gRPC with TLS');
    this.logAuthMode();
    return { grpcPort, metricsPort, consolePort };
  }

  /**
   * The web console on CONSOLE_PORT, calling this replica's gRPC port over loopback; off when
   * the port is 0, and under mutual TLS (it has no client certificate to call with).
   */
  private async startConsole(grpcPort: number): Promise<number> {
    const { config } = this;
    if (config.consolePort === 0) return 0;
    if (config.tls?.ca) {
      this.log.warn({ consolePort: config.consolePort }, 'web console off: gRPC uses mutual TLS (set CONSOLE_PORT=0 to silence this)');
      return 0;
    }
    this.console = new ConsoleServer({
      host: config.grpcHost,
      port: config.consolePort,
      grpcHost: config.grpcHost,
      grpcPort,
      grpcTls: config.tls !== undefined,
      authTokens: config.authTokens,
      commandCounts: this.commandCounts,
      logger: this.log.child({ component: 'console' }),
      sse: this.options.consoleSse,
    });
    try {
      return await this.console.start();
    } catch (err) {
      throw new Error(`CONSOLE_PORT ${config.consolePort}: ${(err as Error).message} (set CONSOLE_PORT=0 to turn the console off)`);
    }
  }

  /**
   * Graceful shutdown, in order: readiness NOT_SERVING and no new sessions; close the web
   * console (its SSE streams end); stop consuming the
   * ingress (finishing a batch in hand) and delete this consumer if it holds nothing; stop
   * listening; tell every agent to reconnect elsewhere after a delay spread over the drain
   * window (results keep flowing meanwhile) and wait for them until the grace deadline; end
   * what remains; stop loops; retire from the registry; stop gRPC, metrics and Redis.
   * Idempotent: later calls return the same promise.
   */
  shutdown(reason = 'shutdown'): Promise<void> {
    this.closing ??= this.runShutdown(reason);
    return this.closing;
  }

  private async runShutdown(reason: string): Promise<void> {
    const { config } = this;
    const startedAt = Date.now();
    // Leave time after waiting for agents to finish the remaining steps inside the grace.
    const deadline = startedAt + config.shutdownGraceMs - Math.min(2000, config.shutdownGraceMs / 4);
    const wasRunning = this.state === 'running';
    this.state = 'draining';
    this.readiness.markDraining();
    // Tell the other replicas at once that this one is no rebalancing target (and pauses theirs).
    if (wasRunning) this.presence.beat().catch((err: Error) => this.log.debug({ err: err.message }, 'draining beat failed'));
    this.log.info({ reason, sessions: this.sessions.size }, 'draining');
    const steps: [string, () => unknown][] = [
      // Browsers' event streams end at once and reconnect (with Last-Event-ID) to another replica.
      ['close console', () => this.console?.close()],
      // Stop taking commands first; a batch being routed is finished, unread ones stay for the others.
      ['stop consuming', () => this.consumer.close()],
      ['stop launching fan-outs', () => this.fanouts.close()],
      // Leave no consumer name behind if nothing is pending on it (else the others reclaim it).
      ['retire consumer', () => wasRunning && retireConsumer(this.redis, this.keys, config.replicaId)],
      ['stop listening', () => this.listener?.close()],
      // Watchers move to another replica with their position (while Redis and gRPC still work).
      ['end watchers', () => this.watches.close()],
      ['drain sessions', () => this.drain.drainAll(deadline)],
      ['stop delivery runs', () => this.delivery.close()],
      ['stop retry timers', () => this.retries.close()],
      // Results that follow (or a redelivery) record the receipt.
      ['drop held acks', () => this.acks.close()],
      // Agents leaving a draining replica need not run these again.
      // Reports that came before a result are written before it.
      ['write last progress', () => this.progress.close()],
      ['apply last results', () => this.results.close()],
      ['stop loops', () => Promise.all(this.tickers.map((t) => t.close()))],
      // Ends without goodbye that waited for the settle delay are written now.
      ['write deferred disconnects', () => this.silence.close()],
      ['retire replica', () => wasRunning && this.presence.retire(reason)],
      ['close bell', () => this.bell.close()],
      ['stop grpc', () => this.server.forceShutdown()],
      ['stop metrics', () => new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()))],
      ['close redis', () => Promise.all([closeRedis(this.redis), closeRedis(this.probe), closeRedis(this.subscriber), closeRedis(this.blocking)])],
    ];
    for (const [name, step] of steps) {
      const stepStarted = Date.now();
      try {
        await step();
        this.log.debug({ step: name, tookMs: Date.now() - stepStarted }, 'shutdown step done');
      } catch (err) {
        this.log.warn({ err: (err as Error).message, step: name }, 'shutdown step failed; continuing');
      }
    }
    this.state = 'stopped';
    this.log.info({ tookMs: Date.now() - startedAt }, 'orchestrator stopped');
  }

  /**
   * Probes Redis; when it has been unreachable for REDIS_LOSS_DRAIN_MS while this replica runs,
   * its agents are told to move (spread over the drain window) to replicas that still reach
   * Redis. Their commands wait safely in Redis meanwhile.
   */
  private async checkReadiness(): Promise<void> {
    await this.readiness.check();
    if (this.state !== 'running' || this.readiness.redisDownForMs < this.config.redisLossDrainMs) return;
    const live = [...this.sessions.values()].filter((s) => s.state === 'live').length;
    if (live === 0) return;
    this.log.warn({ sessions: live, downMs: Math.round(this.readiness.redisDownForMs) }, 'redis unreachable too long: moving agents to other replicas');
    this.drain.tellToLeave('replica lost redis');
  }

  /**
   * Redis answers again after an outage: pulses sent meanwhile were not written, so every live
   * session's is rewritten at the next flush, and when the outage outlasted 2 replica beats
   * (others hold this replica's agents only that long, then reap it) its agents are held for
   * the failover grace (docs/dampening.md).
   */
  private onRedisBack(downMs: number): void {
    if (this.state !== 'running') return;
    const dirty = this.flusher.markAllDirty();
    const { failoverGraceMs, replicaBeatIntervalMs } = this.config;
    if (failoverGraceMs === 0 || downMs < 2 * replicaBeatIntervalMs) return;
    this.holds.hold(this.config.replicaId, failoverGraceMs, 'redis_back', { down_ms: Math.round(downMs) }).then(({ started }) => {
      if (started) this.metrics.holdsStarted.labels('redis_back').inc();
      this.log.warn({ downMs: Math.round(downMs), sessions: dirty, graceMs: failoverGraceMs }, 'redis back: pulses rewritten; this replica\'s agents are held for the failover grace');
    }, (err: Error) => this.log.warn({ err: err.message }, 'could not hold agents after redis returned'));
  }

  /** Says once how callers are told apart; an open replica is a warning (docs/roles.md). */
  private logAuthMode(): void {
    const mode = authMode(this.config);
    if (mode === 'open') {
      this.log.warn({ auth: mode }, 'auth is open: every caller may call every RPC (set TLS_CA for mutual TLS, or AUTH_TOKENS_FILE for bearer tokens)');
      return;
    }
    const tokens = this.config.authTokens?.length ?? 0;
    const note = mode === 'mtls' && tokens > 0 ? ' (AUTH_TOKENS_FILE is set too: the client certificate decides, tokens are not used)' : '';
    this.log.info({ auth: mode, tokens: mode === 'tokens' ? tokens : undefined }, `auth by ${mode === 'mtls' ? 'client certificate roles' : 'bearer tokens'}${note}`);
  }

  private onReadiness(ready: boolean): void {
    this.health.setStatus(READINESS_SERVICE, ready ? 'SERVING' : 'NOT_SERVING');
    this.metrics.ready.set(ready ? 1 : 0);
  }

  private onBell(message: BellMessage): void {
    if (message.kind === 'commands') {
      for (const { agentId, epoch, commands } of message.agents) this.delivery.sendRouted(agentId, epoch, commands);
      return;
    }
    if (message.kind === 'mail') {
      this.delivery.pollWake().catch((err: Error) => this.log.warn({ err: err.message }, 'wake poll failed'));
      return;
    }
    const session = this.sessions.get(message.agentId);
    if (message.kind === 'replaced' && session && session.epoch < message.epoch) {
      this.log.info({ agentId: message.agentId, epoch: session.epoch, newerEpoch: message.epoch }, 'session replaced on another replica; closing');
      session.close({ code: status.ABORTED, details: 'replaced by a newer session for the same agent id' }, true);
    }
  }
}
