import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../browser/browser';
import { startFakeConsole, type FakeConsole } from '../browser/fake-console';

/** The pages against canned answers (no cluster): errors, empty states, the login form. */
describe('console pages with canned answers', () => {
  let fake: FakeConsole;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    [fake, browser] = await Promise.all([startFakeConsole(), launchBrowser()]);
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => fake?.server.close(resolve));
  });

  const text = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');

  it('a 503 shows "replica unavailable, retrying" in the page, and the page recovers by itself', async () => {
    const ok = fake.answers.get('/api/status')!;
    fake.answers.set('/api/status', { status: 503, body: { error: 'no replica is ready', code: 'UNAVAILABLE' } });
    await page.goto(`${fake.url}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('[data-testid="page-overview"] [data-testid="error"]');
    expect(await text('[data-testid="page-overview"] [data-testid="error"]')).toMatch(/^replica unavailable, retrying/);
    fake.answers.set('/api/status', ok);
    await page.waitForSelector('[data-testid="replica-row"]', { timeout: 5000 });
    expect(await page.$('[data-testid="page-overview"] [data-testid="error"]')).toBeNull();
  });

  it('shows empty states, with the filters from the URL and their nexusctl command', async () => {
    fake.answers.set('/api/dlq', { status: 200, body: {} });
    await page.goto(`${fake.url}/dlq`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('[data-testid="empty"]');
    expect(await text('[data-testid="empty"]')).toBe('The dead letter queue is empty.');
    fake.answers.set('/api/agents', { status: 200, body: {} });
    await page.goto(`${fake.url}/agents?state=stale`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('[data-testid="empty"]');
    expect(await text('[data-testid="empty"]')).toBe('No agents match these filters.');
    expect(await page.$eval('[data-testid="filter-state"]', (el) => (el as unknown as { value: string }).value)).toBe('stale');
    expect(await text('[data-testid="cli"] code')).toBe('nexusctl agents --state stale');
  });

  it('in token mode without a session: the login form, and no page', async () => {
    fake.answers.set('/api/session', { status: 200, body: { mode: 'tokens', role: null, name: '', csrf: 'x' } });
    await page.goto(`${fake.url}/commands`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('[data-testid="login"]');
    expect(await page.$('[data-testid="page-commands"]')).toBeNull();
  });
});
