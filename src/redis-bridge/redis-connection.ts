import Redis, { type RedisOptions } from 'ioredis';
import { redactUrl, type Logger } from '../shared/logger';
import { defineScripts } from './script-loader';
import './script-commands';

/**
 * What a connection is for; each role gets the options its use needs.
 * - command: scripts and reads; fails a command after one reconnect instead of queueing it
 *   for minutes, so callers see errors while Redis is away.
 * - probe: readiness PING with a short timeout and no offline queue (never the blocking reader).
 * - blocking: XREADGROUP BLOCK; must wait forever (`maxRetriesPerRequest: null`).
 * - subscriber: pub/sub.
 */
export type ConnectionRole = 'command' | 'probe' | 'blocking' | 'subscriber';

export interface ConnectionOptions {
  /** Name shown in CLIENT LIST and logs. */
  readonly name: string;
  /** Per-command timeout for `command` connections and the probe's PING (ms). */
  readonly commandTimeoutMs: number;
  /** CA to verify a `rediss://` server with (system CAs when unset). */
  readonly tlsCa?: Buffer;
}

const ROLE_OPTIONS: Record<ConnectionRole, (o: ConnectionOptions) => RedisOptions> = {
  command: (o) => ({ maxRetriesPerRequest: 1, commandTimeout: o.commandTimeoutMs }),
  // The probe's caller judges its own deadline after pending I/O; this one only bounds a hung Redis.
  probe: (o) => ({ maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 2 * o.commandTimeoutMs }),
  blocking: () => ({ maxRetriesPerRequest: null }),
  subscriber: () => ({ maxRetriesPerRequest: null }),
};

/**
 * Opens a connection to `url` (redis:// or rediss://) with the options of its role and the
 * Nexus scripts defined. Connection state changes are logged once each (not every retry),
 * with the password removed from the URL.
 */
export function createRedis(url: string, role: ConnectionRole, options: ConnectionOptions, logger: Logger): Redis {
  const redis = new Redis(url, {
    connectionName: options.name,
    // rediss:// turns TLS on in ioredis; a private CA is added here.
    ...(url.startsWith('rediss:') && options.tlsCa ? { tls: { ca: options.tlsCa } } : {}),
    // Reconnect forever with a capped, jittered delay (ioredis' default shape, capped at 2 s).
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100),
    ...ROLE_OPTIONS[role](options),
  });
  if (role !== 'subscriber' && role !== 'probe') defineScripts(redis);
  const log = logger.child({ component: 'redis', role, url: redactUrl(url) });
  // Log each change of state once, not every retry of a reconnect loop.
  let state: 'unknown' | 'up' | 'down' = 'unknown';
  redis.on('ready', () => {
    if (state !== 'up') log.info('redis connection ready');
    state = 'up';
  });
  redis.on('error', (err: Error) => {
    if (state !== 'down') log.warn({ err: err.message }, 'redis unreachable; retrying');
    state = 'down';
  });
  return redis;
}

/** Quits politely, or disconnects when Redis does not answer in time. Never throws. */
export async function closeRedis(redis: Redis, timeoutMs = 1000): Promise<void> {
  if (redis.status === 'end') return;
  const timer = setTimeout(() => redis.disconnect(), timeoutMs);
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
