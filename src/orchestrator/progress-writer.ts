import type Redis from 'ioredis';
import type { CommandLog, CommandProgress } from '../generated/nexus/prime/pulse';
import type { NexusKeys } from '../redis-bridge/keys';
import { decodeFlag } from '../redis-bridge/script-replies';
import { TurnWrites } from '../redis-bridge/turn-writes';
import { cutUtf8 } from '../shared/cut-utf8';
import type { Logger } from '../shared/logger';
import type { OrchestratorMetrics } from './metrics';

/**
 * Lines waiting or being written, per replica (at most about 10 MiB of text); beyond, new lines
 * are dropped (and counted).
 */
export const MAX_PENDING_LINES = 10_000;
/** Commands with a report waiting or being written, per replica; beyond, new reports are dropped. */
export const MAX_PENDING_COMMANDS = 5_000;
/** A line or progress message is cut to this many UTF-8 bytes (agents cut theirs already). */
export const MAX_REPORT_BYTES = 1024;
/** Longest command id looked at (as GetCommand accepts). */
const MAX_COMMAND_ID = 128;
/** Drops are logged at most this often. */
const WARN_EVERY_MS = 10_000;

interface Pending {
  agentId: string;
  commandId: string;
  attempt: number;
  progress: { percent: string; message: string } | undefined;
  lines: string[];
  dropped: number;
}

/**
 * Writes what agents report about running commands (CommandProgress, CommandLog) to Redis:
 * the newest progress on the record, progress and lines in the command's log stream (script
 * recordProgress, which ignores reports for commands not delivered to that agent at that
 * attempt). Reports arriving within one event-loop turn are merged per command and written in
 * one round trip (one script call per command, on one corked socket write). Memory is bounded:
 * at most MAX_PENDING_LINES lines and MAX_PENDING_COMMANDS commands wait or are in flight; when
 * Redis is slower than the agents are chatty, new reports are dropped, counted in
 * `nexus_progress_dropped_total` and logged. Writes go on the connection that applies results, and
 * a result whose command has reports waiting writes them first (beforeResult), so a command's
 * last lines precede its result in Redis as they did on the stream.
 */
export class ProgressWriter {
  private queued = new Map<string, Pending>();
  /** `<agent>\0<command>` of what is queued: a result for one of them writes the queue first. */
  private queuedCommands = new Set<string>();
  private flush: NodeJS.Immediate | undefined;
  private pendingLines = 0;
  private pendingCommands = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly writes: TurnWrites;
  private lastWarnAt = 0;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: NexusKeys,
    /** COMMAND_LOG_MAX_LINES: the exact cap of each command's log stream. */
    private readonly maxLines: number,
    private readonly metrics: OrchestratorMetrics,
    private readonly logger: Logger,
  ) {
    this.writes = new TurnWrites(redis);
  }

  /** Queues a progress report of `agentId`'s command (the newest of a turn wins). */
  progress(agentId: string, report: CommandProgress): void {
    const p = this.entry(agentId, report.commandId, report.attempt, 'progress', 1);
    if (!p) return;
    const n = Number(report.percent);
    const percent = Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : 0;
    p.progress = { percent: String(Math.round(percent * 100) / 100), message: cutUtf8(report.message, MAX_REPORT_BYTES) };
  }

  /** Queues log lines of `agentId`'s command (at most the stream's cap per command and turn). */
  log(agentId: string, report: CommandLog): void {
    let lines = report.lines;
    let dropped = Math.max(0, Math.floor(Number(report.dropped) || 0));
    // Only the newest `maxLines` can survive the stream's trim: the rest count as dropped.
    if (lines.length > this.maxLines) {
      dropped += lines.length - this.maxLines;
      lines = lines.slice(-this.maxLines);
    }
    if (this.pendingLines + lines.length > MAX_PENDING_LINES) {
      this.drop('log', 'backlog', lines.length);
      return;
    }
    const p = this.entry(agentId, report.commandId, report.attempt, 'log', lines.length);
    if (!p) return;
    for (const line of lines) p.lines.push(cutUtf8(line, MAX_REPORT_BYTES));
    this.pendingLines += lines.length;
    p.dropped += dropped;
  }

  /**
   * Call before a command's result is queued for Redis: if reports of that command wait,
   * everything queued is written now, so its last progress and lines go before the result on
   * the connection (a result batch already waiting for this turn would otherwise run first,
   * and the script would take the reports for late ones).
   */
  beforeResult(agentId: string, commandId: string): void {
    // Every result passes here: nothing queued (the usual case) costs no key.
    if (this.queuedCommands.size > 0 && this.queuedCommands.has(`${agentId}\u0000${commandId}`)) {
      clearImmediate(this.flush);
      this.write();
    }
  }

  /** Writes what is queued and waits for every write in flight. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flush || this.inFlight.size > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await Promise.all(this.inFlight);
    }
  }

  /** Lines and commands waiting or in flight (for tests and diagnostics). */
  get backlog(): { lines: number; commands: number } {
    return { lines: this.pendingLines, commands: this.pendingCommands };
  }

  private entry(agentId: string, commandId: string, attempt: number, kind: 'progress' | 'log', items: number): Pending | undefined {
    if (!commandId || commandId.length > MAX_COMMAND_ID || !Number.isInteger(attempt) || attempt < 1) {
      this.drop(kind, 'invalid', items);
      return undefined;
    }
    const key = `${agentId}\u0000${commandId}\u0000${attempt}`;
    let p = this.queued.get(key);
    if (p) return p;
    if (this.pendingCommands >= MAX_PENDING_COMMANDS) {
      this.drop(kind, 'backlog', items);
      return undefined;
    }
    p = { agentId, commandId, attempt, progress: undefined, lines: [], dropped: 0 };
    this.queued.set(key, p);
    this.queuedCommands.add(`${agentId}\u0000${commandId}`);
    this.pendingCommands++;
    this.flush ??= setImmediate(() => this.write());
    return p;
  }

  private drop(kind: 'progress' | 'log', reason: string, count: number): void {
    if (count <= 0) return;
    this.metrics.progressDropped.labels(kind, reason).inc(count);
    const now = Date.now();
    if (reason !== 'invalid' && now - this.lastWarnAt >= WARN_EVERY_MS) {
      this.lastWarnAt = now;
      this.logger.warn({ kind, reason, count, backlog: this.backlog }, 'agent progress/log reports dropped (Redis slower than the agents report); see nexus_progress_dropped_total');
    }
  }

  private write(): void {
    this.flush = undefined;
    const batch = this.queued;
    this.queued = new Map();
    this.queuedCommands.clear();
    this.writes.hold();
    for (const p of batch.values()) {
      const args: (string | number)[] = [
        this.keys.command(p.commandId), this.keys.commandLog(p.commandId),
        p.agentId, p.attempt, this.maxLines,
        p.progress ? 1 : 0, p.progress?.percent ?? '', p.progress?.message ?? '', p.dropped,
        ...p.lines,
      ];
      const work = this.redis.recordProgress(...args).then(
        (reply) => void decodeFlag('recordProgress', reply),
        (err: Error) => {
          if (p.progress) this.drop('progress', 'error', 1);
          this.drop('log', 'error', p.lines.length);
          if (!this.closed) this.logger.debug({ err: err.message, commandId: p.commandId }, 'progress not recorded');
        },
      ).finally(() => {
        this.pendingLines -= p.lines.length;
        this.pendingCommands--;
        this.inFlight.delete(work);
      });
      this.inFlight.add(work);
    }
  }
}
