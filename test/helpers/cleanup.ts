import { afterAll } from 'vitest';
import { liveChildren } from './processes';
import { liveRedis } from './redis-server';

// Runs after every test file (vitest setupFiles): whatever a failed hook or test left running
// is stopped, so no replica, agent, cluster or redis-server outlives its file.
afterAll(async () => {
  await Promise.all([...liveChildren].map((child) => child.stop(3000)));
  await Promise.all([...liveRedis].map((redis) => redis.destroy()));
});
