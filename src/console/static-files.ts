import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';

/** The pages and their files (copied next to the compiled code by scripts/copy-assets.js). */
export const STATIC_DIR = join(__dirname, 'static');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.map': 'application/json',
};

/** The client-side routes: each is the one HTML shell. */
const PAGES = /^\/(?:|agents|agents\/[^/]+|commands|commands\/.+|dlq|events)$/;

/** Vendor files, served from the installed packages (no internet, no bundler). */
const VENDOR: Record<string, { pkg: string; file: string }> = {
  '/vendor/htm-preact.js': { pkg: 'htm', file: 'preact/standalone.module.js' },
  '/vendor/uplot.js': { pkg: 'uplot', file: 'dist/uPlot.esm.js' },
  '/vendor/uplot.css': { pkg: 'uplot', file: 'dist/uPlot.min.css' },
};

interface Loaded {
  readonly body: Buffer;
  readonly etag: string;
  readonly type: string;
}

/** The directory and version of an installed package (its `exports` may hide package.json). */
function packageOf(name: string): { dir: string; version: string } {
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name) return { dir, version: pkg.version ?? '0' };
    } catch {
      // not the package root yet
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`package ${name} not found`);
    dir = up;
  }
}

const loaded = (body: Buffer, path: string): Loaded => ({ body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`, type: TYPES[extname(path)] ?? 'application/octet-stream' });

/**
 * The console's files: the app (`no-cache` + ETag, so a new version shows at once and an
 * unchanged one costs a 304) and the vendor libraries (immutable for a year: their URLs carry
 * the package version, which the app's references get here: `/vendor/uplot.js?v=1.6.32`).
 */
export class StaticFiles {
  private readonly vendor = new Map<string, Loaded>();
  private readonly versions: Record<string, string> = {};

  constructor(private readonly dir = STATIC_DIR) {
    for (const [path, { pkg, file }] of Object.entries(VENDOR)) {
      const { dir: root, version } = packageOf(pkg);
      this.versions[path] = version;
      this.vendor.set(path, loaded(readFileSync(join(root, file)), file));
    }
  }

  /** Answers a GET/HEAD for a file or page; false when `pathname` is none of them. */
  async serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    const vendor = this.vendor.get(pathname);
    if (vendor) return this.send(req, res, vendor, 'public, max-age=31536000, immutable');
    let file: string | undefined;
    if (PAGES.test(pathname)) file = 'index.html';
    else if (pathname.startsWith('/static/')) file = pathname.slice('/static/'.length);
    if (file === undefined) return false;
    const path = normalize(join(this.dir, file));
    if (!path.startsWith(this.dir + sep) || file.split('/').some((p) => p.startsWith('.'))) return false;
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch {
      return false;
    }
    return this.send(req, res, loaded(this.versioned(path, body), path), 'no-cache');
  }

  /** Vendor references in app text files get `?v=<package version>`. */
  private versioned(path: string, body: Buffer): Buffer {
    if (!['.html', '.js', '.css'].includes(extname(path))) return body;
    const text = body.toString('utf8').replace(/\/vendor\/(?:htm-preact\.js|uplot\.js|uplot\.css)(?![?\w.-])/g, (ref) => `${ref}?v=${this.versions[ref]}`);
    return Buffer.from(text, 'utf8');
  }

  private send(req: IncomingMessage, res: ServerResponse, file: Loaded, cacheControl: string): true {
    const headers = { 'content-type': file.type, 'cache-control': cacheControl, etag: file.etag };
    const match = req.headers['if-none-match'];
    if (match && match.split(',').some((t) => t.trim().replace(/^W\//, '') === file.etag)) {
      res.writeHead(304, headers).end();
      return true;
    }
    res.writeHead(200, { ...headers, 'content-length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  }
}
