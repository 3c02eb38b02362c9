#!/usr/bin/env node
/**
 * Fleet connect benchmark: one replica (a child process on a private Redis), then a swarm of
 * N agents in one process. Prints the time until all N are online in GetSystemStatus and the
 * replica's RSS before and after, per connected agent.
 *   node dist/scripts/bench/fleet-connect.js [agents=300]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { NexusPulseServiceClient, type GetSystemStatusResponse } from '../../src/generated/nexus/prime/pulse';
import { freePort } from '../lib/free-port';
import { RedisProcess } from '../lib/redis-process';
import { rssMb } from './proc-stats';
import { sleep } from './wait-until';

const AGENTS = Number(process.argv[2] ?? 300);
const DIST = join(__dirname, '..', '..', 'src');

function online(client: NexusPulseServiceClient): Promise<number> {
  const request = { state: 0, replicaId: '', agentType: '', agentIdPrefix: '', pageSize: 0, pageToken: '', summaryOnly: true, selector: '' };
  return new Promise((resolve, reject) =>
    client.getSystemStatus(request, (err, res: GetSystemStatusResponse) => (err ? reject(err) : resolve(res.agentCounts?.online ?? 0))),
  );
}


async function main(): Promise<void> {
  const redis = await new RedisProcess('none').start();
  const port = await freePort();
  const children: ChildProcess[] = [];
  try {
    const replica = spawn(process.execPath, [join(DIST, 'orchestrator/main.js')], {
      env: { ...process.env, REDIS_URL: redis.url, GRPC_HOST: '127.0.0.1', GRPC_PORT: String(port), METRICS_PORT: '0', CONSOLE_PORT: '0', LOG_LEVEL: 'warn', MAX_CONCURRENT_STREAMS: '100' },
      stdio: 'ignore',
    });
    children.push(replica);
    const client = new NexusPulseServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    for (let i = 0; ; i++) {
      try {
        await online(client);
        break;
      } catch {
        if (i > 100) throw new Error('replica did not start');
        await sleep(100);
      }
    }
    await sleep(2000); // let the idle replica settle
    const before = rssMb(replica.pid!);
    const started = Date.now();
    const swarm = spawn(process.execPath, [join(DIST, 'agent/main.js')], {
      env: { ...process.env, ORCHESTRATOR_HOST: `127.0.0.1:${port}`, AGENT_ID: 'bench', AGENT_COUNT: String(AGENTS), LOG_LEVEL: 'warn', HEARTBEAT_INTERVAL: '10' },
      stdio: 'ignore',
    });
    children.push(swarm);
    while ((await online(client)) < AGENTS) await sleep(50);
    const connectMs = Date.now() - started;
    await sleep(3000);
    const after = rssMb(replica.pid!);
    console.log(JSON.stringify({
      agents: AGENTS,
      allOnlineMs: connectMs,
      replicaRssIdleMb: Math.round(before * 10) / 10,
      replicaRssConnectedMb: Math.round(after * 10) / 10,
      rssPerAgentKb: Math.round(((after - before) * 1024) / AGENTS),
    }));
    client.close();
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await redis.destroy();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
