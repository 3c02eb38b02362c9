import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src/console/security-headers';
import { useAgents } from '../helpers/agents';
import { DLQ, INGRESS } from '../helpers/commands';
import { ConsoleBrowser, startConsoleOrchestrator } from '../helpers/console';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

type Started = Awaited<ReturnType<typeof startConsoleOrchestrator>>;
const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const TOKENS = { agent: 'tok-agent-c0ns0le1', viewer: 'tok-viewer-c0ns0le2', operator: 'tok-operator-c0ns0le3' };

/** A dead letter (an ingress entry without a command type is dead-lettered `invalid`). */
async function deadLetter(db: Redis, id: string): Promise<void> {
  const before = await db.xlen(DLQ);
  await db.xadd(INGRESS, '*', 'type', 'command_issued', 'target', 'nobody', 'command_id', id);
  await waitFor(`${id} dead-lettered`, async () => (await db.xlen(DLQ)) > before);
}

describe('web console JSON API', () => {
  const redis = new RedisServer();
  const startAgent = useAgents();
  let db: Redis;
  let open: Started;
  let browser: ConsoleBrowser;

  beforeAll(async () => {
    await redis.start();
    db = new Redis(redis.url);
    open = await startConsoleOrchestrator(redis.url, { REPLICA_ID: 'open-1' });
    browser = new ConsoleBrowser(open.base);
  });

  afterAll(async () => {
    await open?.orchestrator.shutdown();
    db?.disconnect();
    await redis.destroy();
  });

  describe('open mode (no AUTH_TOKENS_FILE)', () => {
    it('is an operator without logging in, and sets the CSRF cookie on GET /api/session', async () => {
      const res = await browser.get('/api/session');
      expect(res.status).toBe(200);
      const setCookie = res.headers.getSetCookie().join('\n');
      expect(setCookie).toMatch(/nexus_csrf=[\w-]{32,}; Path=\/; SameSite=Strict/);
      expect(setCookie).not.toMatch(/HttpOnly/);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ mode: 'open', role: 'operator', name: '' });
      expect(body.csrf).toBe(browser.cookies.get('nexus_csrf'));
    });

    it('answers every GET endpoint with the gRPC responses as JSON', async () => {
      await startAgent('con-a1', open.grpcPort, {}, 4, { agentType: 'web' });
      const status = (await (await browser.get('/api/status')).json()) as Record<string, unknown>;
      expect(status).toMatchObject({ answeredBy: 'open-1' });
      expect(status.agents ?? []).toEqual([]); // summary only
      const agents = (await (await browser.get('/api/agents?state=online&type=web')).json()) as { agents: { agentId: string; state: string }[] };
      expect(agents.agents.map((a) => [a.agentId, a.state])).toEqual([['con-a1', 'AGENT_STATE_ONLINE']]);

      const sent = await browser.post('/api/commands', { target: 'con-a1', commandType: 'echo', commandId: 'con-cmd-1', payload: 'hi' });
      expect(sent.status).toBe(200);
      await waitFor('con-cmd-1 succeeded', async () => ((await (await browser.get('/api/commands/con-cmd-1')).json()) as { state: string }).state === 'COMMAND_STATE_SUCCEEDED');
      const cmd = (await (await browser.get('/api/commands/con-cmd-1')).json()) as Record<string, unknown>;
      expect(cmd).toMatchObject({ commandId: 'con-cmd-1', target: 'con-a1', output: 'hi' });
      expect(typeof cmd.createdAtUnixMs).toBe('number');
      const list = (await (await browser.get('/api/commands?states=succeeded&target=con-a1&page_size=10')).json()) as { commands: { commandId: string }[] };
      expect(list.commands.map((c) => c.commandId)).toContain('con-cmd-1');

      await deadLetter(db, 'con-dead-1');
      const dlq = (await (await browser.get('/api/dlq?reasons=invalid')).json()) as { deadLetters: { commandId: string; reason: string }[] };
      expect(dlq.deadLetters.map((d) => [d.commandId, d.reason])).toContainEqual(['con-dead-1', 'invalid']);

      const throughput = (await (await browser.get('/api/throughput')).json()) as { samples: { at: number; succeeded: number }[] };
      expect(throughput.samples.length).toBeGreaterThanOrEqual(1);
      expect(throughput.samples[0]).toEqual({ at: expect.any(Number), succeeded: expect.any(Number), failed: expect.any(Number), dead: expect.any(Number) });
    });

    it('answers unknown commands with 404 and bad input with 400 naming the field', async () => {
      const missing = await browser.get('/api/commands/no-such-command');
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ code: 'NOT_FOUND' });
      const cases: [string, RegExp][] = [
        ['/api/commands?states=queued,x', /^states: unknown state "x"/],
        ['/api/agents?state=sleepy', /^state: unknown state "sleepy"/],
        ['/api/commands?after=yesterday', /^after: "yesterday" is not a non-negative integer/],
        ['/api/commands?page_size=5000', /^page_size: 5000 is outside 1\.\.1000/],
        ['/api/dlq?colour=red', /^unknown query parameter "colour"/],
        ['/api/agents?selector=env%20in%20(', /selector|expected|end/i],
      ];
      for (const [path, message] of cases) {
        const res = await browser.get(path);
        expect(res.status, path).toBe(400);
        const body = (await res.json()) as { error: string; code: string };
        expect(body.error, path).toMatch(message);
        expect(body.code, path).toBe('INVALID_ARGUMENT');
      }
      expect((await browser.get('/api/nothing')).status).toBe(404);
    });

    it('refuses a POST without the CSRF header, from a foreign Origin or not JSON, and changes nothing', async () => {
      await deadLetter(db, 'con-dead-csrf');
      const before = await db.xlen(DLQ);
      const purgeAll = { filter: { reasons: ['invalid'] } };
      const refused = [
        await browser.post('/api/dlq/purge', purgeAll, { 'x-csrf-token': '' }),
        await browser.post('/api/dlq/purge', purgeAll, { 'x-csrf-token': 'not-the-cookie-value-at-all-0123456789' }),
        await browser.post('/api/dlq/purge', purgeAll, { origin: 'http://evil.example' }),
        await browser.post('/api/dlq/purge', purgeAll, { origin: '' }),
      ];
      for (const res of refused) {
        expect(res.status).toBe(403);
        expect(((await res.json()) as { error: string }).error).toMatch(/CSRF/);
      }
      expect((await browser.post('/api/dlq/purge', purgeAll, { origin: '', 'sec-fetch-site': 'same-origin' })).status).toBe(200);
      expect(await db.xlen(DLQ)).toBeLessThan(before);
      await deadLetter(db, 'con-dead-csrf-2');
      const plain = await browser.post('/api/dlq/purge', purgeAll, { 'content-type': 'text/plain' });
      expect(plain.status).toBe(415);
      expect(await db.xlen(DLQ)).toBe(1);
    });

    it('sends the security headers on pages, files and the API', async () => {
      for (const path of ['/', '/commands/some-id', '/api/status', '/api/nothing', '/vendor/htm-preact.js']) {
        const res = await browser.get(path);
        expect(res.headers.get('content-security-policy'), path).toBe(CONTENT_SECURITY_POLICY);
        expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
        expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
      }
      expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
      expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    });

    it('serves the HTML shell for every page route, no-cache with an ETag (304 when unchanged)', async () => {
      const shell = await browser.get('/');
      expect(shell.status).toBe(200);
      expect(shell.headers.get('content-type')).toMatch(/^text\/html/);
      expect(shell.headers.get('cache-control')).toBe('no-cache');
      const etag = shell.headers.get('etag')!;
      expect(etag).toMatch(/^".+"$/);
      const html = await shell.text();
      expect(html).not.toMatch(/<script>|<style>|\son\w+=/i); // nothing inline (the CSP forbids it)
      for (const page of ['/agents', '/agents/x', '/commands', '/commands/a/b', '/dlq', '/events']) {
        const res = await browser.get(page);
        expect(res.status, page).toBe(200);
        expect(await res.text(), page).toBe(html);
      }
      const again = await browser.get('/commands', { 'if-none-match': etag });
      expect(again.status).toBe(304);
      expect((await browser.get('/static/../console-server.ts')).status).toBe(404);
      expect((await browser.get('/static/nothing.js')).status).toBe(404);
    });

    it('serves the vendor files from node_modules, immutable, with ETag 304', async () => {
      for (const [path, type] of [['/vendor/htm-preact.js?v=1', /javascript/], ['/vendor/uplot.js', /javascript/], ['/vendor/uplot.css', /css/]] as const) {
        const res = await browser.get(path);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type'), path).toMatch(type);
        expect(res.headers.get('cache-control'), path).toBe('public, max-age=31536000, immutable');
        const body = await res.text();
        expect(body.length, path).toBeGreaterThan(1000);
        const etag = res.headers.get('etag')!;
        expect((await browser.get(path, { 'if-none-match': etag })).status, path).toBe(304);
      }
      // One ES module with no bare imports: the browser loads it as it is.
      const htm = await (await browser.get('/vendor/htm-preact.js')).text();
      expect(htm).not.toMatch(/import\s*[^'"]*from\s*['"](?![./])/);
    });
  });

  describe('token mode (AUTH_TOKENS_FILE)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nexus-console-'));
    let tokens: Started;

    beforeAll(async () => {
      writeFileSync(join(dir, 'tokens'), [`agent con-agent ${sha(TOKENS.agent)}`, `viewer bob ${sha(TOKENS.viewer)}`, `operator alice ${sha(TOKENS.operator)}`].join('\n'));
      tokens = await startConsoleOrchestrator(redis.url, { REPLICA_ID: 'tokens-1', AUTH_TOKENS_FILE: join(dir, 'tokens') });
    });

    afterAll(async () => {
      await tokens?.orchestrator.shutdown();
      rmSync(dir, { recursive: true, force: true });
    });

    it('needs a login: 401 without a cookie, 401 for an unknown token, 403 for an agent token', async () => {
      const b = new ConsoleBrowser(tokens.base);
      expect(await b.session()).toMatchObject({ mode: 'tokens', role: null });
      for (const path of ['/api/status', '/api/agents', '/api/commands', '/api/dlq', '/api/throughput', '/api/events/stream']) {
        const res = await b.get(path);
        expect(res.status, path).toBe(401);
        expect(await res.json(), path).toMatchObject({ code: 'UNAUTHENTICATED' });
      }
      expect((await b.post('/api/login', { token: 'tok-wrong-123456' })).status).toBe(401);
      expect((await b.post('/api/login', { token: TOKENS.agent })).status).toBe(403);
      expect((await b.post('/api/login', {})).status).toBe(400);
      expect(b.cookies.has('nexus_session')).toBe(false);
      // The login itself is a POST: CSRF applies.
      expect((await b.post('/api/login', { token: TOKENS.viewer }, { 'x-csrf-token': '' })).status).toBe(403);
    });

    it('a viewer reads but may not purge (the API guard says 403); an operator may; logout ends it', async () => {
      await deadLetter(db, 'con-dead-roles');
      const viewer = new ConsoleBrowser(tokens.base);
      await viewer.session();
      const login = await viewer.post('/api/login', { token: TOKENS.viewer });
      expect(login.status).toBe(200);
      expect(login.headers.getSetCookie().join('\n')).toMatch(/nexus_session=[^;]+; Path=\/; SameSite=Strict; HttpOnly/);
      expect(await login.json()).toMatchObject({ mode: 'tokens', role: 'viewer', name: 'bob' });
      expect(await viewer.session()).toMatchObject({ role: 'viewer', name: 'bob' });
      expect((await viewer.get('/api/status')).status).toBe(200);
      expect((await viewer.get('/api/dlq')).status).toBe(200);
      const before = await db.xlen(DLQ);
      const denied = await viewer.post('/api/dlq/purge', { filter: { reasons: ['invalid'] } });
      expect(denied.status).toBe(403);
      expect(await denied.json()).toMatchObject({ code: 'PERMISSION_DENIED', error: expect.stringMatching(/role viewer .*PurgeDeadLetters/) });
      expect(await db.xlen(DLQ)).toBe(before);

      const operator = new ConsoleBrowser(tokens.base);
      await operator.session();
      expect((await operator.post('/api/login', { token: TOKENS.operator })).status).toBe(200);
      const purged = await operator.post('/api/dlq/purge', { filter: { reasons: ['invalid'] } });
      expect(purged.status).toBe(200);
      expect(((await purged.json()) as { purged: number }).purged).toBeGreaterThanOrEqual(1);

      const out = await viewer.post('/api/logout', {});
      expect(out.status).toBe(200);
      expect(out.headers.getSetCookie().join('\n')).toMatch(/nexus_session=; .*Max-Age=0/);
      expect((await viewer.get('/api/status')).status).toBe(401);
    });
  });
});
