import Redis from 'ioredis';
import { RedisProcess } from '../../scripts/lib/redis-process';

/** A private redis-server for one suite, plus a client for assertions. */
export class RedisServer extends RedisProcess {
  /** A plain client; errors are swallowed because tests stop Redis on purpose. */
  client(): Redis {
    const client = new Redis(this.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    return client;
  }
}
