#!/usr/bin/env node
/**
 * `npm run docs:screenshots`: the console's pages as docs/console/<page>.png (1280x800), taken
 * from a real cluster in this process: a private redis-server, one orchestrator with its
 * console, three demo agents, a few commands (one a fan-out, one dead-lettered), chromium
 * (CHROME_PATH or /usr/bin/chromium) through puppeteer-core.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import type { Page } from 'puppeteer-core';
import { Agent } from '../src/agent/agent';
import { PermanentError } from '../src/agent/command-errors';
import type { CommandHandler } from '../src/agent/handlers';
import { NexusPulseServiceClient, SubmitCommandRequest } from '../src/generated/nexus/prime/pulse';
import { compileOrchestratorConfig } from '../src/orchestrator/config';
import { Orchestrator } from '../src/orchestrator/orchestrator';
import { createLogger } from '../src/shared/logger';
import { launchBrowser, watchProblems } from './lib/chromium';
import { freePort } from './lib/free-port';
import { RedisProcess } from './lib/redis-process';

const OUT = join(__dirname, '..', '..', 'docs', 'console');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function submit(client: NexusPulseServiceClient, request: Partial<SubmitCommandRequest>): Promise<string> {
  return new Promise((resolve, reject) => {
    client.submitCommand(SubmitCommandRequest.fromPartial(request), (err, res) => (err ? reject(err) : resolve(res.commandId)));
  });
}

const deploy: CommandHandler = async ({ payload, progress, log }) => {
  for (let i = 1; i <= 4; i++) {
    await sleep(400);
    progress(i * 25, `step ${i} of 4`);
    log(`deploying ${payload || 'app'}: step ${i} done`);
  }
  return `deployed ${payload || 'app'}`;
};

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const redis = await new RedisProcess().start();
  const config = compileOrchestratorConfig({ REDIS_URL: redis.url, GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', METRICS_PORT: '0', CONSOLE_PORT: String(await freePort()), REPLICA_ID: 'docs-1', LOG_LEVEL: 'error' });
  const orchestrator = new Orchestrator(config, createLogger(config.logLevel));
  const agents: Agent[] = [];
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  const client = { current: undefined as NexusPulseServiceClient | undefined };
  let trickle: NodeJS.Timeout | undefined;
  try {
    process.stdout.write('starting redis-server, an orchestrator with its console and three agents\n');
    const { grpcPort, consolePort } = await orchestrator.start();
    const base = `http://127.0.0.1:${consolePort}`;
    const grpc = (client.current = new NexusPulseServiceClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure()));
    const specs = [
      { agentId: 'web-1', agentType: 'web', labels: { env: 'prod', region: 'eu' } },
      { agentId: 'web-2', agentType: 'web', labels: { env: 'prod', region: 'us' } },
      { agentId: 'batch-1', agentType: 'batch', labels: { env: 'staging', region: 'eu' } },
    ];
    for (const spec of specs) {
      const agent = new Agent({ ...spec, orchestrator: `127.0.0.1:${grpcPort}`, heartbeatIntervalMs: 1000, initialBackoffMs: 50, maxBackoffMs: 500 }, { logger: createLogger('silent') });
      agent.handle('deploy', deploy);
      agent.handle('reindex', () => {
        throw new PermanentError('index locked by another job');
      });
      agents.push(agent);
      agent.start();
    }
    await sleep(1500);
    const echo = await submit(grpc, { target: 'web-1', commandType: 'echo', payload: 'hello' });
    const fanout = await submit(grpc, { selector: 'env=prod', commandType: 'deploy', payload: 'v2.4.1', batch: '1' });
    await submit(grpc, { target: 'batch-1', commandType: 'reindex', maxAttempts: 1 });
    await submit(grpc, { target: 'gone-agent', commandType: 'echo', ttlMs: 1000 });
    void echo;
    // A steady trickle while the pages are taken, so the throughput chart has a shape.
    let tick = 0;
    trickle = setInterval(() => {
      tick++;
      const request = tick % 9 === 0 ? { target: 'batch-1', commandType: 'reindex', maxAttempts: 1 } : { target: `web-${1 + (tick % 2)}`, commandType: 'echo', payload: `tick ${tick}` };
      submit(grpc, request).catch(() => undefined);
    }, 200 + (tick % 3) * 150);

    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    const problems = watchProblems(page);
    const shot = async (name: string, path: string, ready: string, waitMs: number, during?: (p: Page) => Promise<void>) => {
      await page.goto(base + path, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector(ready, { timeout: 15_000 }).catch(async (err: Error) => {
        await page.screenshot({ path: join(OUT, `${name}.failed.png`) });
        throw new Error(`${path}: ${err.message} (the page as it was: docs/console/${name}.failed.png)`);
      });
      if (during) await during(page);
      await sleep(waitMs);
      await page.screenshot({ path: join(OUT, `${name}.png`) });
      process.stdout.write(`docs/console/${name}.png\n`);
    };
    await shot('agents', '/agents', '[data-testid="agent-row"]', 12_000, async () => {
      for (let i = 0; i < 6; i++) await submit(grpc, { target: `web-${1 + (i % 2)}`, commandType: 'echo', payload: `n${i}` });
    });
    // Into the agent's page by its link (no reload), so its sparklines keep the list's points.
    await page.click('a[href="/agents/web-1"]');
    await page.waitForSelector('[data-testid="agent-commands"]', { timeout: 15_000 });
    await sleep(2500);
    await page.screenshot({ path: join(OUT, 'agent.png') });
    process.stdout.write('docs/console/agent.png\n');
    await shot('command', `/commands/${fanout}`, '[data-testid="children"]', 4000);
    await shot('commands', '/commands', '[data-testid="command-row"]', 1500);
    await shot('dlq', '/dlq', '[data-testid="dlq-row"]', 500, async (p) => {
      await p.click('[data-testid="dlq-row"] [data-testid="dlq-select"]');
      await p.click('[data-testid="redrive"]');
      await p.waitForSelector('[data-testid="confirm"]');
    });
    await shot('events', '/events', '[data-testid="live"].live-live', 2500, async () => {
      await submit(grpc, { selector: 'env=prod', commandType: 'deploy', payload: 'v2.4.2' });
      await submit(grpc, { target: 'batch-1', commandType: 'echo', payload: 'ping' });
    });
    await shot('overview', '/', '[data-testid="replica-row"]', 6000);
    if (problems.errors.length) throw new Error(`the pages reported problems:\n${problems.errors.join('\n')}`);
  } finally {
    clearInterval(trickle);
    await browser?.close();
    client.current?.close();
    await Promise.all(agents.map((a) => a.close()));
    await orchestrator.shutdown();
    await redis.destroy();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`docs:screenshots: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
