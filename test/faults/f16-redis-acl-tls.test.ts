import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { TestPki } from '../helpers/certs';
import { allAgents, getStatus, statusClient } from '../helpers/grpc-clients';
import { spawnAgent, spawnReplica, type Child } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';
import { FAULT_KNOBS } from './harness/fault-cluster';

const PASSWORD = 'n3xus-Secret-Pa55';
/** The ACL line the README gives operators: Nexus keys and channels, no dangerous commands. */
const NEXUS_ACL = `nexus on >${PASSWORD} ~nexus:* &nexus:* +@all -@dangerous +info`;

describe('F16: Redis over TLS with an ACL user limited to the Nexus keys', () => {
  const pki = new TestPki('redis-ca');
  const server = pki.issue('redis', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  const tls = { ca: readFileSync(pki.path('redis-ca.pem')), servername: 'localhost' };
  const redis = new RedisServer('none', {
    cert: server.cert, key: server.key, ca: pki.path('redis-ca.pem'),
    users: [NEXUS_ACL],
    probe: { tls, username: 'nexus', password: PASSWORD },
  });
  const children: Child[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await redis.destroy();
    pki.destroy();
  });

  it('works end to end over rediss:// with the ACL user, refuses everything else, and never prints the password', async () => {
    await redis.start();
    const url = `rediss://nexus:${PASSWORD}@127.0.0.1:${redis.port}/0`;
    const replica = await spawnReplica(url, { ...FAULT_KNOBS, REPLICA_ID: 'acl', REDIS_TLS_CA: pki.path('redis-ca.pem'), LOG_LEVEL: 'debug' });
    children.push(replica);
    const agent = spawnAgent(`127.0.0.1:${replica.port}`, { AGENT_ID: 'acl-agent', LOG_LEVEL: 'debug' });
    children.push(agent);

    const db = new Redis(redis.port, '127.0.0.1', { tls, username: 'nexus', password: PASSWORD });
    const client = statusClient(replica.port);
    await waitFor('agent online', async () => (await allAgents(client)).length === 1);
    await db.xadd('nexus:commands:stream', '*', 'target', 'acl-agent', 'command_id', 'acl-1', 'command_type', 'echo', 'payload', 'over tls');
    await waitFor('command succeeded', async () => (await db.hget('nexus:command:acl-1', 'state')) === 'succeeded');

    // The ACL user cannot do what Nexus never needs.
    await expect(db.flushall()).rejects.toThrow(/NOPERM/);
    await expect(db.config('SET', 'appendonly', 'no')).rejects.toThrow(/NOPERM/);
    await expect(db.set('other-app:key', '1')).rejects.toThrow(/NOPERM/);
    // No plaintext, no default user.
    const plain = new Redis(redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    plain.on('error', () => undefined);
    await expect(plain.connect().then(() => plain.ping())).rejects.toThrow();
    plain.disconnect();
    const anonymous = new Redis(redis.port, '127.0.0.1', { tls, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    anonymous.on('error', () => undefined);
    // The default user is off: ioredis' HELLO is refused (NOAUTH) and it closes the connection.
    await expect(anonymous.connect().then(() => anonymous.ping())).rejects.toThrow(/NOAUTH|Connection is closed/);
    anonymous.disconnect();

    const status = JSON.stringify(await getStatus(client));
    const metrics = await (await fetch(`http://127.0.0.1:${replica.metricsPort}/metrics`)).text();
    const logs = [...replica.output, ...agent.output].join('\n');
    console.log(`F16: rediss:// + ACL user worked; password occurrences: logs ${logs.split(PASSWORD).length - 1}, status ${status.split(PASSWORD).length - 1}, metrics ${metrics.split(PASSWORD).length - 1}; log lines checked ${replica.output.length + agent.output.length}`);
    expect(logs).toContain('rediss://nexus:***@127.0.0.1');
    expect(logs).not.toContain(PASSWORD);
    expect(status).not.toContain(PASSWORD);
    expect(metrics).not.toContain(PASSWORD);
    client.close();
    db.disconnect();
  });
});
