import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/free-port';
import { TestPki } from '../helpers/certs';
import { ConsoleBrowser, readSse } from '../helpers/console';
import { Child, FAST_ORCHESTRATOR_ENV, ORCHESTRATOR_BIN, spawnReplica } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const TOKENS = { viewer: 'tok-viewer-pr0cess-8c2e', operator: 'tok-operator-pr0cess-4f1a', wrong: 'tok-wrong-pr0cess-7d3b' };

/** A built replica started directly (its gRPC port may need TLS, so no health wait): resolves once it says it started. */
async function startBuilt(redisUrl: string, env: Record<string, string>): Promise<Child> {
  const child = new Child('replica', spawn(process.execPath, [ORCHESTRATOR_BIN], {
    env: { ...process.env, ...FAST_ORCHESTRATOR_ENV, REDIS_URL: redisUrl, GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  await waitFor('the replica to start', () => {
    if (!child.running) throw new Error(child.tail());
    return child.output.some((l) => l.includes('orchestrator started'));
  });
  return child;
}

describe('web console of a built replica', () => {
  const redis = new RedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'nexus-console-proc-'));
  const pki = new TestPki('console-ca');

  beforeAll(async () => {
    await redis.start();
    pki.issue('server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  });

  afterAll(async () => {
    await redis.destroy();
    rmSync(dir, { recursive: true, force: true });
    pki.destroy();
  });

  it('serves the copied pages and never logs a token (debug level, logins good and bad, a refusal)', async () => {
    writeFileSync(join(dir, 'tokens'), [`viewer vic ${sha(TOKENS.viewer)}`, `operator ola ${sha(TOKENS.operator)}`].join('\n'));
    const consolePort = await freePort();
    const replica = await spawnReplica(redis.url, { AUTH_TOKENS_FILE: join(dir, 'tokens'), LOG_LEVEL: 'debug', CONSOLE_PORT: String(consolePort) });
    try {
      const b = new ConsoleBrowser(`http://127.0.0.1:${consolePort}`);
      const shell = await b.get('/dlq');
      expect(shell.status).toBe(200);
      expect(await shell.text()).toMatch(/<html/i);
      await b.session();
      expect((await b.post('/api/login', { token: TOKENS.wrong })).status).toBe(401);
      b.cookies.set('nexus_session', TOKENS.wrong); // a forged cookie: the API refuses it
      expect((await b.get('/api/status')).status).toBe(401);
      expect((await b.post('/api/login', { token: TOKENS.viewer })).status).toBe(200);
      expect((await b.get('/api/agents')).status).toBe(200);
      expect((await b.post('/api/dlq/purge', { ids: ['1-1'] })).status).toBe(403);
      const events = await b.get('/api/events/stream');
      expect(events.status).toBe(200);
      await readSse(events).cancel();
      const operator = new ConsoleBrowser(`http://127.0.0.1:${consolePort}`);
      await operator.session();
      expect((await operator.post('/api/login', { token: TOKENS.operator })).status).toBe(200);
      expect((await operator.post('/api/dlq/purge', { ids: ['1-1'], dryRun: true })).status).toBe(200);
      await replica.stop();
      const log = replica.output.join('\n');
      expect(log).toMatch(/"consolePort":\d+/);
      expect(log).toMatch(/PurgeDeadLetters/); // the guard logged the viewer's refusal (at debug)
      for (const token of Object.values(TOKENS)) expect(log).not.toContain(token);
      expect(log).not.toContain(sha(TOKENS.viewer));
    } finally {
      await replica.stop();
    }
  });

  it('is off, with one warning, when gRPC uses mutual TLS', async () => {
    const consolePort = await freePort();
    const replica = await startBuilt(redis.url, { TLS_CERT: pki.path('server.pem'), TLS_KEY: pki.path('server.key'), TLS_CA: pki.path('console-ca.pem'), CONSOLE_PORT: String(consolePort) });
    try {
      const warnings = replica.json().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('web console off'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 'warn', msg: expect.stringMatching(/mutual TLS/) });
      await expect(fetch(`http://127.0.0.1:${consolePort}/api/session`)).rejects.toThrow();
    } finally {
      await replica.stop();
    }
  });

  it('works when gRPC serves TLS without client certificates', async () => {
    const consolePort = await freePort();
    const replica = await startBuilt(redis.url, { TLS_CERT: pki.path('server.pem'), TLS_KEY: pki.path('server.key'), CONSOLE_PORT: String(consolePort) });
    try {
      const res = await waitFor('the console to answer from gRPC over TLS', async () => {
        const r = await fetch(`http://127.0.0.1:${consolePort}/api/status`);
        return r.status === 200 ? r : false;
      });
      expect(((await res.json()) as { answeredBy: string }).answeredBy).toMatch(/\S/);
    } finally {
      await replica.stop();
    }
  });
});
