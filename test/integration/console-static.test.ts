import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticFiles } from '../../src/console/static-files';

describe('console static files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-console-static-'));
  let server: Server;
  let base = '';

  beforeAll(async () => {
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'index.html'), '<link rel="stylesheet" href="/vendor/uplot.css"><script type="module" src="/static/app.js"></script>');
    writeFileSync(join(dir, 'app.js'), "import { html } from '/vendor/htm-preact.js';\nimport uPlot from '/vendor/uplot.js?v=0.0.1';\n");
    writeFileSync(join(dir, 'lib', 'x.css'), 'body { color: red }');
    writeFileSync(join(dir, '.secret'), 'no');
    const files = new StaticFiles(dir);
    server = createServer((req, res) => {
      void files.serve(req, res, new URL(req.url ?? '/', 'http://x').pathname).then((served) => served || res.writeHead(404).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives vendor references the package version (a version already there is kept)', async () => {
    const { version: uplot } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'node_modules', 'uplot', 'package.json'), 'utf8')) as { version: string };
    const html = await (await fetch(`${base}/events`)).text();
    expect(html).toContain(`href="/vendor/uplot.css?v=${uplot}"`);
    const app = await fetch(`${base}/static/app.js`);
    expect(app.headers.get('content-type')).toMatch(/^text\/javascript/);
    const text = await app.text();
    expect(text).toMatch(/from '\/vendor\/htm-preact\.js\?v=\d+\.\d+\.\d+'/);
    expect(text).toContain("'/vendor/uplot.js?v=0.0.1'");
  });

  it('serves nested files and nothing outside the directory or hidden', async () => {
    expect((await fetch(`${base}/static/lib/x.css`)).status).toBe(200);
    for (const path of ['/static/.secret', '/static/%2e%2e/package.json', '/static/..%2F..%2Fetc/passwd', '/other']) {
      expect((await fetch(base + path)).status, path).toBe(404);
    }
  });
});
