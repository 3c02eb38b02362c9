import Redis from 'ioredis';
import { RedisProcess } from '../../scripts/lib/redis-process';

/** Every test Redis created in this test file; cleanup.ts destroys what is left. */
export const liveRedis = new Set<RedisServer>();

/** A private redis-server for one suite, plus a client for assertions. */
export class RedisServer extends RedisProcess {
  constructor(...args: ConstructorParameters<typeof RedisProcess>) {
    super(...args);
    liveRedis.add(this);
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    liveRedis.delete(this);
  }

  /** A plain client; errors are swallowed because tests stop Redis on purpose. */
  client(): Redis {
    const client = new Redis(this.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    return client;
  }
}
