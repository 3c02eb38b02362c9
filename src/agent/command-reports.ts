import type { AgentMessage } from '../generated/nexus/prime/pulse';
import { cutUtf8 } from '../shared/cut-utf8';

/** Progress and log lines of a command are sent at most this often (per agent, one timer). */
export const REPORT_INTERVAL_MS = 250;
/** Log lines per CommandLog message. */
export const LOG_LINES_PER_MESSAGE = 100;
/** Log lines buffered per command between two sends; more are dropped and counted. */
export const MAX_BUFFERED_LINES = 1000;
/** A log line (and a progress message) is cut to this many UTF-8 bytes. */
export const MAX_LINE_BYTES = 1024;

interface Pending {
  attempt: number;
  progress: { percent: number; message: string } | undefined;
  lines: string[];
  dropped: number;
}

/**
 * Coalesces what handlers report with `ctx.progress()` and `ctx.log()`, so a handler calling
 * them in a tight loop cannot flood the link (or, behind it, Redis). Per command: only the
 * newest progress is kept; log lines are buffered (at most MAX_BUFFERED_LINES, the rest counted
 * as `dropped`). Every REPORT_INTERVAL_MS, each command with something pending sends its
 * progress and one CommandLog of at most LOG_LINES_PER_MESSAGE lines: a command reports at most
 * 4 progress updates and 400 lines a second, bursts up to MAX_BUFFERED_LINES included. The timer
 * runs only while something is pending.
 */
export class CommandReports {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (message: AgentMessage) => void,
    /** True while the current session's Welcome said accepts_progress. */
    private readonly enabled: () => boolean,
  ) {}

  /** Keeps `percent` (clamped to 0..100; NaN counts as 0) and `message` as the newest progress. */
  progress(commandId: string, attempt: number, percent: number, message = ''): void {
    if (!this.enabled()) return;
    const p = this.entry(commandId, attempt);
    const n = Number(percent);
    p.progress = { percent: Number.isNaN(n) ? 0 : Math.min(100, Math.max(0, n)), message: cutUtf8(String(message), MAX_LINE_BYTES) };
    this.schedule();
  }

  /** Buffers one line (cut to MAX_LINE_BYTES), or counts it as dropped when the buffer is full. */
  log(commandId: string, attempt: number, line: string): void {
    if (!this.enabled()) return;
    const p = this.entry(commandId, attempt);
    if (p.lines.length >= MAX_BUFFERED_LINES) p.dropped++;
    else p.lines.push(cutUtf8(String(line), MAX_LINE_BYTES));
    this.schedule();
  }

  /** Sends everything pending for the command (call right before sending its result). */
  flushCommand(commandId: string): void {
    const p = this.pending.get(commandId);
    if (!p) return;
    this.forget(commandId);
    if (!this.enabled()) return;
    this.sendProgress(commandId, p);
    while (p.lines.length > 0 || p.dropped > 0) this.sendLines(commandId, p);
  }

  /** Forgets everything and stops the timer (the session ended, or the agent is closing). */
  clear(): void {
    this.pending.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Commands with something pending (for tests and diagnostics). */
  get size(): number {
    return this.pending.size;
  }

  /** Forgets a command; the timer stops with the last one (no idle wake-ups). */
  private forget(commandId: string): void {
    this.pending.delete(commandId);
    if (this.pending.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private entry(commandId: string, attempt: number): Pending {
    let p = this.pending.get(commandId);
    if (!p || p.attempt !== attempt) {
      p = { attempt, progress: undefined, lines: [], dropped: 0 };
      this.pending.set(commandId, p);
    }
    return p;
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => this.tick(), REPORT_INTERVAL_MS);
    this.timer.unref?.();
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.enabled()) return this.pending.clear();
    for (const [commandId, p] of this.pending) {
      this.sendProgress(commandId, p);
      if (p.lines.length > 0 || p.dropped > 0) this.sendLines(commandId, p);
      if (p.lines.length === 0) this.pending.delete(commandId);
    }
    if (this.pending.size > 0) this.schedule();
  }

  private sendProgress(commandId: string, p: Pending): void {
    if (!p.progress) return;
    this.send({ kind: { $case: 'commandProgress', commandProgress: { commandId, attempt: p.attempt, percent: p.progress.percent, message: p.progress.message } } });
    p.progress = undefined;
  }

  private sendLines(commandId: string, p: Pending): void {
    const lines = p.lines.splice(0, LOG_LINES_PER_MESSAGE);
    this.send({ kind: { $case: 'commandLog', commandLog: { commandId, attempt: p.attempt, lines, dropped: p.dropped } } });
    p.dropped = 0;
  }
}
