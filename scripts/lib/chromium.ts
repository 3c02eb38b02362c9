import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** Where chromium is: CHROME_PATH, else Debian's /usr/bin/chromium (or google-chrome). */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((p): p is string => !!p && existsSync(p));
}

/** A headless chromium (--no-sandbox when running as root, as in containers and CI). */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('no chromium found: install it (apt-get install chromium) or set CHROME_PATH');
  const args = ['--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-default-browser-check'];
  if (process.getuid?.() === 0) args.push('--no-sandbox', '--disable-setuid-sandbox');
  return puppeteer.launch({ executablePath, headless: true, args, defaultViewport: { width: 1280, height: 800 } });
}

/** What went wrong in a page: console errors, uncaught exceptions, CSP violations, failed requests. */
export interface PageProblems {
  readonly errors: string[];
}

/**
 * Records a page's console errors and warnings about CSP, uncaught errors and failed requests
 * (aborted EventSource requests on navigation are not problems).
 */
export function watchProblems(page: Page): PageProblems {
  const problems: PageProblems = { errors: [] };
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || /Content[- ]Security[- ]Policy|Refused to/i.test(text)) problems.errors.push(`console.${msg.type()}: ${text}`);
  });
  page.on('pageerror', (err) => problems.errors.push(`pageerror: ${(err as Error).message ?? String(err)}`));
  page.on('requestfailed', (req) => {
    const failure = req.failure()?.errorText ?? '';
    if (failure.includes('ERR_ABORTED')) return;
    problems.errors.push(`requestfailed: ${req.url()} ${failure}`);
  });
  return problems;
}
