import pino from 'pino';

/** Structured, leveled logger: one JSON line per event, a message plus fields. */
export type Logger = pino.Logger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Field names whose values are never logged. */
const REDACT = ['password', 'redisUrl', '*.password', '*.redisUrl', 'tlsKey', '*.tlsKey'];

/**
 * Creates the process logger. `base` fields (e.g. `replica`) appear on every line; components
 * take a child: `logger.child({ component: 'pulse' })`.
 */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...base },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** Removes the password from a Redis URL so it can be printed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
