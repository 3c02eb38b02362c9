import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import Redis from 'ioredis';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/free-port';
import { PermanentError } from '../../src/agent/command-errors';
import { NexusPulseServiceClient, SubmitCommandRequest } from '../../src/generated/nexus/prime/pulse';
import type { Orchestrator } from '../../src/orchestrator/orchestrator';
import { launchBrowser, watchProblems, type PageProblems } from '../browser/browser';
import { useAgents } from '../helpers/agents';
import { DLQ, INGRESS } from '../helpers/commands';
import { startOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const TOKENS = { viewer: 'tok-viewer-br0wser1', operator: 'tok-operator-br0wser2' };

/** Submits a command over gRPC (as nexusctl would), not through the page. */
function submit(client: NexusPulseServiceClient, request: Partial<SubmitCommandRequest>): Promise<string> {
  return new Promise((resolve, reject) => {
    client.submitCommand(SubmitCommandRequest.fromPartial(request), (err, res) => (err ? reject(err) : resolve(res.commandId)));
  });
}

/** Opens `path` and waits for the page's root element (and, when given, `ready`). */
async function open(page: Page, base: string, path: string, root: string, ready?: string): Promise<void> {
  await page.goto(base + path, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector(`[data-testid="${root}"]`, { timeout: 10_000 });
  if (ready) await page.waitForSelector(ready, { timeout: 10_000 });
}

/** Waits until the element's text is `text`. */
const textIs = (page: Page, selector: string, text: string) =>
  page.waitForFunction(`document.querySelector(${JSON.stringify(selector)})?.textContent === ${JSON.stringify(text)}`, { timeout: 10_000 });

const points = (page: Page, agentId: string) =>
  page.$eval(`tr[data-agent="${agentId}"] [data-testid="cpu-spark"]`, (el) => (el.getAttribute('data-points') ?? '').split(',').filter(Boolean).map(Number));

describe('web console in chromium', () => {
  const redis = new RedisServer();
  const startAgent = useAgents();
  let db: Redis;
  let browser: Browser;
  let orchestrator: Orchestrator;
  let tokensOrchestrator: Orchestrator;
  let base = '';
  let tokensBase = '';
  let grpc: NexusPulseServiceClient;
  let grpcPort = 0;
  let tokensDir = '';

  beforeAll(async () => {
    await redis.start();
    db = new Redis(redis.url);
    tokensDir = mkdtempSync(join(tmpdir(), 'nexus-console-'));
    writeFileSync(join(tokensDir, 'tokens'), [`viewer vera ${sha(TOKENS.viewer)}`, `operator otto ${sha(TOKENS.operator)}`].join('\n'));
    const [openMode, tokenMode, b] = await Promise.all([
      startOrchestrator(redis.url, { REPLICA_ID: 'br-open', CONSOLE_PORT: String(await freePort()) }),
      startOrchestrator(redis.url, { REPLICA_ID: 'br-tokens', CONSOLE_PORT: String(await freePort()), AUTH_TOKENS_FILE: join(tokensDir, 'tokens') }),
      launchBrowser(),
    ]);
    orchestrator = openMode.orchestrator;
    tokensOrchestrator = tokenMode.orchestrator;
    base = `http://127.0.0.1:${openMode.consolePort}`;
    tokensBase = `http://127.0.0.1:${tokenMode.consolePort}`;
    grpcPort = openMode.grpcPort;
    grpc = new NexusPulseServiceClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    browser = b;
  });

  afterAll(async () => {
    await browser?.close();
    grpc?.close();
    await Promise.all([orchestrator?.shutdown(), tokensOrchestrator?.shutdown()]);
    db?.disconnect();
    await redis.destroy();
    if (tokensDir) rmSync(tokensDir, { recursive: true, force: true });
  });

  /** A fresh page (own cookies) whose problems are recorded. */
  async function newPage(): Promise<{ page: Page; problems: PageProblems; close: () => Promise<void> }> {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    return { page, problems: watchProblems(page), close: () => context.close() };
  }

  it('renders every page with no console errors or CSP violations; an agent sparkline moves with heartbeats', async () => {
    await startAgent('br-a1', grpcPort, { echo: ({ payload }) => `echo ${payload}` }, 4, { agentType: 'web', labels: { env: 'test' } });
    const id = await submit(grpc, { target: 'br-a1', commandType: 'echo', payload: 'hi' });
    const { page, problems, close } = await newPage();
    try {
      await open(page, base, '/', 'page-overview', '[data-testid="replica-row"]');
      await open(page, base, '/agents', 'page-agents', 'tr[data-agent="br-a1"]');
      // Heartbeats every 300 ms, polled every 2 s: the CPU line gains points without a reload.
      const first = await waitFor('a first CPU point', async () => ((await points(page, 'br-a1')).length >= 1 ? points(page, 'br-a1') : undefined));
      const later = await waitFor('more CPU points', async () => {
        const p = await points(page, 'br-a1');
        return p.length >= first.length + 2 ? p : undefined;
      }, { timeoutMs: 10_000 });
      expect(later.length).toBeGreaterThan(first.length);
      expect(later.every((v: number) => v >= 0 && v <= 100)).toBe(true);
      await open(page, base, '/agents/br-a1', 'page-agent', '[data-testid="agent-commands"]');
      await open(page, base, `/commands/${id}`, 'page-command', '[data-testid="timeline"]');
      await textIs(page, '[data-testid="page-command"] h1 [data-testid="state"]', 'succeeded');
      expect(await page.$eval('[data-testid="output"]', (el) => el.textContent)).toBe('echo hi');
      await open(page, base, '/dlq', 'page-dlq');
      await open(page, base, '/events?types=command_succeeded', 'page-events');
      await submit(grpc, { target: 'br-a1', commandType: 'echo', payload: 'for the tail' });
      await page.waitForSelector('[data-testid="event-row"][data-type="command_succeeded"]', { timeout: 10_000 });
      await page.click('[data-testid="pause"]');
      expect(await page.$eval('[data-testid="pause"]', (el) => el.textContent)).toMatch(/Resume/);
      await open(page, base, '/commands?states=succeeded', 'page-commands', '[data-testid="command-row"]');
      expect(problems.errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it('shows a command sent while the Commands page is open, and it turns succeeded without a reload', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await startAgent('br-a2', grpcPort, { slow: async () => (await gate, 'done') });
    const { page, problems, close } = await newPage();
    try {
      await open(page, base, '/commands', 'page-commands');
      await page.waitForSelector('[data-testid="live"].live-live', { timeout: 10_000 });
      const id = await submit(grpc, { target: 'br-a2', commandType: 'slow' });
      const row = `tr[data-command="${id}"] [data-testid="state"]`;
      await page.waitForSelector(row, { timeout: 10_000 });
      expect(await page.$eval(row, (el) => el.textContent)).not.toBe('succeeded');
      release();
      await textIs(page, row, 'succeeded');
      expect(problems.errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it('redrives a dead letter from the Dead letters page after a confirmation with the count', async () => {
    let broken = true;
    await startAgent('br-a3', grpcPort, {
      flaky: () => {
        if (broken) throw new PermanentError('broken on purpose');
        return 'fixed';
      },
    });
    const id = await submit(grpc, { target: 'br-a3', commandType: 'flaky', maxAttempts: 1 });
    const dl = await waitFor('the dead letter', async () => {
      const entries = (await db.xrange(DLQ, '-', '+')) as [string, string[]][];
      return entries.find(([, f]) => f.includes(id));
    });
    broken = false;
    const { page, problems, close } = await newPage();
    try {
      await open(page, base, '/dlq?reasons=failed', 'page-dlq', `tr[data-id="${dl[0]}"]`);
      await page.click(`tr[data-id="${dl[0]}"] [data-testid="dlq-select"]`);
      await page.click('[data-testid="redrive"]');
      await page.waitForSelector('[data-testid="confirm"]');
      expect(await page.$eval('[data-testid="confirm-yes"]', (el) => el.textContent)).toBe('Redrive 1');
      expect(await page.$eval('[data-testid="confirm"] [data-testid="cli"] code', (el) => el.textContent)).toBe(`nexusctl dlq redrive ${dl[0]}`);
      await page.click('[data-testid="confirm-yes"]');
      await page.waitForSelector('[data-testid="dlq-result"]', { timeout: 10_000 });
      expect(await page.$eval('[data-testid="dlq-result"]', (el) => el.textContent)).toMatch(/Redriven 1 of 1/);
      const redriven = await page.$eval('[data-testid="dlq-result"] a code', (el) => el.textContent ?? '');
      expect(redriven).not.toBe(id);
      await open(page, base, `/commands/${redriven}`, 'page-command', '[data-testid="timeline"]');
      await textIs(page, '[data-testid="page-command"] h1 [data-testid="state"]', 'succeeded');
      expect(await page.$eval('[data-testid="output"]', (el) => el.textContent)).toBe('fixed');
      expect(problems.errors).toEqual([]);
    } finally {
      await close();
    }
  });

  it('with AUTH_TOKENS_FILE: a viewer logs in, sees no action buttons, and a forged POST is refused 403', async () => {
    await db.xadd(INGRESS, '*', 'type', 'command_issued', 'target', 'nobody', 'command_id', 'br-invalid-1');
    await waitFor('a dead letter to show', async () => ((await db.xlen(DLQ)) > 0 ? true : undefined));
    const { page, problems, close } = await newPage();
    try {
      await page.goto(tokensBase + '/dlq', { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('[data-testid="login"]');
      await page.type('[data-testid="login-token"]', TOKENS.viewer);
      await page.click('[data-testid="login-submit"]');
      await page.waitForSelector('[data-testid="dlq-row"]', { timeout: 10_000 });
      expect(await page.$eval('[data-testid="role"]', (el) => el.textContent)).toMatch(/viewer/);
      expect(await page.$('[data-testid="dlq-actions"]')).toBeNull();
      expect(await page.$('[data-testid="redrive"]')).toBeNull();
      expect(await page.$('[data-testid="dlq-select"]')).toBeNull();
      await open(page, tokensBase, '/commands', 'page-commands');
      expect(await page.$('[data-testid="send-open"]')).toBeNull();
      expect(problems.errors).toEqual([]);
      // The page's own script could do this (same origin, the CSRF cookie is readable): the API's role guard refuses it.
      const forged = await page.evaluate(`(async () => {
        const csrf = decodeURIComponent((document.cookie.match(/(?:^|;\\s*)nexus_csrf=([^;]+)/) || [])[1] || '');
        const res = await fetch('/api/dlq/purge', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ filter: {}, dryRun: false }) });
        return { status: res.status, csrf: csrf.length > 0 };
      })()`);
      expect(forged).toEqual({ status: 403, csrf: true });
      expect(await db.xlen(DLQ)).toBeGreaterThan(0);
    } finally {
      await close();
    }
  });
});
