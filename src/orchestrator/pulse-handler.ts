import { randomUUID } from 'node:crypto';
import { Metadata, status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { AgentMessage, CommandResult, Hello, OrchestratorMessage } from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import { ReconnectLimitError, type AgentRegistry } from '../redis-bridge/agent-registry';
import { Admission } from './admission';
import { helloProblem, toProfile } from './hello-validation';
import { callerOf } from './auth/caller';
import type { ReplicaBell } from '../redis-bridge/replica-bell';
import type { OrchestratorConfig } from './config';
import type { AckHolder } from './ack-holder';
import type { DeliveryRuns } from './delivery-runs';
import type { ProgressWriter } from './progress-writer';
import type { ResultBatcher } from './result-batcher';
import type { OrchestratorMetrics } from './metrics';
import { Session } from './session';
import type { SessionRegistry } from './session-registry';
import type { SilenceWatch } from './silence-watch';

type PulseCall = ServerDuplexStream<AgentMessage, OrchestratorMessage>;

/** Trailer telling a refused agent when to try again (ms); the agent honours it. */
export const RETRY_AFTER_HEADER = 'retry-after-ms';

/** The longest heartbeat interval agents are told to use (Welcome): a third of the staleness threshold. */
export function welcomeHeartbeatMs(config: Pick<OrchestratorConfig, 'stalenessThresholdMs'>): number {
  return Math.max(100, Math.floor(config.stalenessThresholdMs / 3));
}

/** In-flight window of an agent that states no max_concurrency. */
const DEFAULT_WINDOW = 4;

export interface PulseHandlerDeps {
  readonly config: OrchestratorConfig;
  readonly sessions: SessionRegistry;
  readonly agents: AgentRegistry;
  readonly bell: ReplicaBell;
  readonly metrics: OrchestratorMetrics;
  readonly delivery: DeliveryRuns;
  readonly acks: AckHolder;
  readonly results: ResultBatcher;
  /** Writes what agents report about running commands (ctx.progress, ctx.log). */
  readonly progress: ProgressWriter;
  readonly logger: Logger;
  /** False while draining or before start: new sessions are refused with UNAVAILABLE. */
  readonly accepting: () => boolean;
  /** Takes over ends without goodbye (mass silence, docs/dampening.md); without it they are written at once. */
  readonly silence?: SilenceWatch;
}

/**
 * Runs the server side of one Pulse stream: hello (with a deadline) -> registration in Redis
 * (new fencing epoch; an older session for the id is closed wherever it lives) -> welcome ->
 * heartbeats, until either side ends it. Protocol errors end the stream with a status code;
 * nothing an agent sends can throw out of here.
 */
export class PulseHandler {
  private readonly log: Logger;
  private readonly admission: Admission;

  constructor(private readonly deps: PulseHandlerDeps) {
    this.log = deps.logger.child({ component: 'pulse' });
    this.admission = new Admission(deps.config.sessionAdmissionRate);
  }

  /** The grpc-js handler for NexusPulseService/Pulse. */
  readonly handle = (call: PulseCall): void => {
    const { config, metrics } = this.deps;
    let session: Session | undefined;
    let registering = false;
    let ended = false;

    const reject = (code: status, details: string, retryAfterMs = 0): void => {
      metrics.sessionsRejected.labels(status[code]).inc();
      if (session) return session.close({ code, details });
      if (call.writableEnded) return;
      const metadata = new Metadata();
      if (retryAfterMs > 0) metadata.set(RETRY_AFTER_HEADER, String(retryAfterMs));
      call.emit('error', { code, details, metadata });
    };

    if (!this.deps.accepting()) return reject(status.UNAVAILABLE, 'replica is not accepting sessions (draining or not ready); reconnect elsewhere');
    const waitMs = this.admission.take();
    if (waitMs > 0) return reject(status.RESOURCE_EXHAUSTED, 'too many new sessions at once; retry later', waitMs);

    const helloTimer = setTimeout(() => reject(status.FAILED_PRECONDITION, `no hello within ${config.helloTimeoutMs} ms`), config.helloTimeoutMs);

    const finish = (reason: string): void => {
      clearTimeout(helloTimer);
      if (ended) return;
      ended = true;
      if (session) this.release(session, reason);
    };
    call.on('error', () => finish('stream error'));
    call.on('cancelled', () => finish('cancelled by peer'));
    call.on('close', () => finish('stream closed'));
    call.on('end', () => {
      // The agent half-closed its side: finish ours. Not proof of an orderly end: grpc-js also
      // ends the readable side when keepalive drops a dead link, so only a goodbye counts.
      if (session) session.close({ code: status.OK, details: 'bye' });
      else if (!call.writableEnded) call.end();
      finish('agent ended stream');
    });

    call.on('data', (message: AgentMessage) => {
      const kind = message.kind;
      metrics.countPulse(kind?.$case ?? 'empty');
      if (!session) {
        if (registering) return; // the stream is paused while registering; late data is dropped
        if (kind?.$case !== 'hello') return reject(status.FAILED_PRECONDITION, 'the first message on a Pulse stream must be hello');
        const problem = helloProblem(kind.hello);
        if (problem) return reject(status.INVALID_ARGUMENT, problem);
        const caller = callerOf(call);
        if (caller.role === 'agent' && caller.name !== kind.hello.agentId) {
          // The certificate or token, not the hello, says which agent this is (an operator may
          // stand in for any). Checked before any directive.
          const proof = config.tls?.ca ? 'the client certificate identity' : "the bearer token's name";
          this.log.warn({ claimed: kind.hello.agentId, certified: caller.name, peer: call.getPeer() }, `hello agent_id does not match ${proof}`);
          return reject(status.PERMISSION_DENIED, `agent_id ${kind.hello.agentId} does not match ${proof}`);
        }
        clearTimeout(helloTimer);
        registering = true;
        call.pause();
        this.register(call, kind.hello).then(
          (s) => {
            registering = false;
            if (ended) {
              this.release(s, 'ended during registration');
              return;
            }
            session = s;
            call.resume();
          },
          (err: Error) => {
            registering = false;
            if (err instanceof ReconnectLimitError) {
              this.log.warn({ agentId: kind.hello.agentId, retryAfterMs: err.retryAfterMs }, 'agent id over its session limit');
              return reject(status.RESOURCE_EXHAUSTED, `agent id ${kind.hello.agentId} started too many sessions; retry later`, err.retryAfterMs);
            }
            this.log.warn({ err: err.message, agentId: kind.hello.agentId }, 'registration failed');
            reject(status.UNAVAILABLE, 'registry unavailable; retry later');
          },
        );
        return;
      }
      const previousHeardAt = session.lastHeardAt;
      session.lastHeardAt = performance.now();
      switch (kind?.$case) {
        case 'heartbeat':
          session.metrics = kind.heartbeat.metrics;
          session.activeCommands = kind.heartbeat.activeCommands;
          session.dirty = true;
          // Answer a heartbeat with a ping unless a directive went down since the agent last
          // spoke: an agent hears from a live replica at least once per heartbeat interval.
          if (session.lastSentAt <= previousHeardAt) {
            session.send({ kind: { $case: 'ping', ping: { sentAtUnixMs: Date.now() } } });
          }
          return;
        case 'hello':
          return reject(status.FAILED_PRECONDITION, 'hello may be sent only once per stream');
        case 'goodbye':
          session.orderly = true;
          this.log.debug({ agentId: session.agentId, reason: kind.goodbye.reason }, 'agent said goodbye');
          return;
        case 'commandAck':
          return this.deps.acks.hold(session.agentId, kind.commandAck);
        case 'commandResult':
          return this.onResult(session, kind.commandResult);
        case 'commandResults':
          for (const result of kind.commandResults.results) this.onResult(session, result);
          return;
        case 'commandProgress':
          return this.deps.progress.progress(session.agentId, kind.commandProgress);
        case 'commandLog':
          return this.deps.progress.log(session.agentId, kind.commandLog);
        default:
          return reject(status.INVALID_ARGUMENT, 'empty AgentMessage');
      }
    });
  };

  /** A result stands for the command's ack: a held one is not recorded on its own. */
  private onResult(session: Session, result: CommandResult): void {
    this.deps.acks.settle(session.agentId, result.commandId);
    this.deps.progress.beforeResult(session.agentId, result.commandId);
    this.deps.results.add(session, result);
  }

  /** The longest heartbeat interval agents are told to use: a third of the staleness threshold. */
  get welcomeHeartbeatMs(): number {
    return welcomeHeartbeatMs(this.deps.config);
  }

  private async register(call: PulseCall, hello: Hello): Promise<Session> {
    const { config, sessions, agents, bell, metrics } = this.deps;
    const sessionId = randomUUID();
    const profile = toProfile(hello);
    const window = Math.min(config.deliveryWindowMax, profile.maxConcurrency || DEFAULT_WINDOW);
    const takeover = await agents.connect(hello.agentId, config.replicaId, sessionId, profile, window);
    const session = new Session(call, hello.agentId, sessionId, takeover.epoch, profile, window, hello.acceptsCommandBatches, call.getPeer(), (kind) => metrics.countSent(kind));

    const displaced = sessions.add(session);
    if (displaced) displaced.close({ code: status.ABORTED, details: 'replaced by a newer session for the same agent id' }, true);
    if (takeover.previousReplica && takeover.previousReplica !== config.replicaId && takeover.previousState !== 'offline') {
      void bell.ring(takeover.previousReplica, { kind: 'replaced', agentId: hello.agentId, epoch: takeover.epoch });
    }
    metrics.connectedAgents.set(sessions.size);
    session.send({
      kind: {
        $case: 'welcome',
        welcome: { replicaId: config.replicaId, sessionId, heartbeatIntervalMs: this.welcomeHeartbeatMs, epoch: takeover.epoch, acceptsResultBatches: true, acceptsProgress: true },
      },
    });
    this.log.info({ agentId: hello.agentId, sessionId, epoch: takeover.epoch, peer: session.peer, replaced: takeover.previousReplica || undefined }, 'agent connected');
    // Backpressure relief and a fresh session both mean: deliver what waits in the mailbox.
    // The first run also sends what routing delivered to this session before it was listed.
    call.on('drain', () => this.deps.delivery.kick(hello.agentId));
    this.deps.delivery.kick(hello.agentId, true);
    return session;
  }

  /**
   * Registers a live session again under a new epoch (its record vanished: Redis restarted
   * without persistence, or the record expired while Redis was away).
   */
  async reRegister(session: Session): Promise<void> {
    const { config, agents } = this.deps;
    const takeover = await agents.connect(session.agentId, config.replicaId, session.sessionId, session.profile, session.window);
    session.epoch = takeover.epoch;
  }

  /**
   * Forgets a session that ended and marks the agent offline unless a newer session owns it.
   * An end without goodbye goes to the silence watch, which may defer it or, while this
   * replica holds its agents, leave it to the sweep (docs/dampening.md).
   */
  private release(session: Session, reason: string): void {
    const { sessions, metrics, silence } = this.deps;
    session.state = 'closed';
    if (!sessions.remove(session)) return; // replaced locally: the newer session owns the id
    metrics.connectedAgents.set(sessions.size);
    if (!session.orderly && silence?.sessionEnded(session, reason)) {
      this.log.info({ agentId: session.agentId, sessionId: session.sessionId, reason, held: silence.holding }, silence.holding ? 'agent disconnected; left to the sweep while dampening' : 'agent disconnected; offline written after the settle delay');
      return;
    }
    void this.markOffline(session.agentId, session.epoch, reason, session.sessionId);
  }

  /** Writes an agent offline (fenced by epoch); a failure is logged, the sweep catches up. */
  readonly markOffline = async (agentId: string, epoch: number, reason: string, sessionId?: string): Promise<void> => {
    const { config, agents } = this.deps;
    try {
      const marked = await agents.disconnect(agentId, epoch, config.replicaId, reason);
      this.log.info({ agentId, sessionId, reason, markedOffline: marked }, 'agent disconnected');
    } catch (err) {
      this.log.warn({ agentId, err: (err as Error).message }, 'could not record disconnect; the staleness sweep will');
    }
  };
}
