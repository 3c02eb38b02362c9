import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize } from 'node:path';

/**
 * A stand-in for the console server with canned data, for looking at the pages without a
 * cluster (scripts and quick checks). Same headers as the real one (strict CSP).
 */
// Run from the repository root (vitest, npm scripts): the page files are read from the sources.
const ROOT = join(process.cwd(), 'src', 'console', 'static');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8' };

export interface FakeConsole {
  url: string;
  server: Server;
  /** Replace a JSON answer (path without query) or make it fail with a status. */
  answers: Map<string, { status: number; body: unknown }>;
}


export function cannedAnswers(now = Date.now()): Map<string, { status: number; body: unknown }> {
  const agents = ['web-1', 'web-2', 'batch-7'].map((id, i) => ({
    agentId: id, agentType: i < 2 ? 'web' : 'batch', state: i === 2 ? 'AGENT_STATE_STALE' : 'AGENT_STATE_ONLINE', replicaId: 'r-a1',
    labels: { env: 'prod', region: i ? 'eu' : 'us' }, maxConcurrency: 4, activeCommands: i, lastPulseUnixMs: now - 1000 * i,
    metrics: { cpuPercent: 10 + 20 * i + Math.random() * 10, memoryUsedBytes: 3e9 + i * 1e9, memoryTotalBytes: 8e9, loadAverage1m: 0.5, uptimeSeconds: 3600 },
  }));
  const samples = Array.from({ length: 40 }, (_, i) => ({ at: now - (40 - i) * 5000, succeeded: i * 12 + (i % 5), failed: i, dead: Math.floor(i / 8) }));
  return new Map<string, { status: number; body: unknown }>([
    ['/api/session', { status: 200, body: { mode: 'open', role: 'operator', name: '', csrf: 'x' } }],
    ['/api/status', { status: 200, body: { answeredBy: 'r-a1', serverTimeUnixMs: now, replicas: [{ replicaId: 'r-a1', address: '127.0.0.1:50051', ready: true, connectedAgents: 3, version: '0.1.0', startedAtUnixMs: now - 3600e3, lastSeenUnixMs: now - 500 }], agentCounts: { total: 3, online: 2, stale: 1 }, ingress: { length: 120, pending: 2, lag: 0, consumers: 1 }, dlqLength: 2, commands: { queued: 1, delivered: 2, succeeded: 480, failed: 40, dead: 2 } } }],
    ['/api/throughput', { status: 200, body: { samples } }],
    ['/api/agents', { status: 200, body: { answeredBy: 'r-a1', serverTimeUnixMs: now, agents } }],
    ['/api/commands', { status: 200, body: { answeredBy: 'r-a1', commands: [
      { commandId: 'cmd-1', state: 'COMMAND_STATE_SUCCEEDED', target: 'web-1', commandType: 'deploy', attempts: 1, createdAtUnixMs: now - 60e3, finishedAtUnixMs: now - 58e3 },
      { commandId: 'cmd-2', state: 'COMMAND_STATE_DELIVERED', target: 'web-2', commandType: 'backup', attempts: 1, createdAtUnixMs: now - 30e3, progress: { percent: 40, message: 'copying' } },
      { commandId: 'cmd-3', state: 'COMMAND_STATE_DEAD', target: 'batch-7', commandType: 'reindex', attempts: 3, createdAtUnixMs: now - 20e3, finishedAtUnixMs: now - 10e3, deadReason: 'failed', error: 'disk full' },
    ] } }],
    ['/api/dlq', { status: 200, body: { deadLetters: [
      { id: `${now - 10e3}-0`, commandId: 'cmd-3', reason: 'failed', error: 'disk full', target: 'batch-7', commandType: 'reindex', attempts: 3, deadAtUnixMs: now - 10e3 },
      { id: `${now - 5e3}-0`, commandId: 'cmd-9', reason: 'expired', target: 'web-2', commandType: 'ping', deadAtUnixMs: now - 5e3 },
    ], countsByReason: { failed: 1, expired: 1 }, total: 2 } }],
    ['/api/dlq/redrive', { status: 200, body: { matched: 1, redriven: 1, commandIds: ['cmd-3-r1'] } }],
    ['/api/dlq/purge', { status: 200, body: { matched: 1, purged: 1 } }],
  ]);
}

export async function startFakeConsole(port = 0): Promise<FakeConsole> {
  const root = ROOT;
  const answers = cannedAnswers();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('content-security-policy', CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (p.startsWith('/vendor/')) {
      const file = { '/vendor/htm-preact.js': 'htm/preact/standalone.module.js', '/vendor/uplot.js': 'uplot/dist/uPlot.esm.js', '/vendor/uplot.css': 'uplot/dist/uPlot.min.css' }[p];
      if (!file) return send(404, 'text/plain', 'no');
      const full = join(process.cwd(), 'node_modules', file);
      return send(200, TYPES[extname(full)] ?? 'text/plain', readFileSync(full));
    }
    if (p.startsWith('/static/')) {
      const rel = normalize(p.slice('/static/'.length));
      if (rel.startsWith('..')) return send(404, 'text/plain', 'no');
      try {
        return send(200, TYPES[extname(rel)] ?? 'application/octet-stream', readFileSync(join(root, rel)));
      } catch {
        return send(404, 'text/plain', 'no');
      }
    }
    if (p.endsWith('/stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write('retry: 2000\n\n');
      const m = p.match(/^\/api\/commands\/([^/]+)\/stream$/);
      if (m) {
        const id = decodeURIComponent(m[1]);
        const now = Date.now();
        const snap = { commandId: id, state: 'COMMAND_STATE_DELIVERED', target: 'web-2', commandType: 'backup', attempts: 1, maxAttempts: 3, createdAtUnixMs: now - 30e3, handledBy: 'r-a1',
          timeline: [{ event: 'queued', atUnixMs: now - 30e3, replicaId: 'r-a1' }, { event: 'delivered', atUnixMs: now - 29e3, attempt: 1, replicaId: 'r-a1' }], progress: { percent: 40, message: 'copying', atUnixMs: now - 2e3, attempt: 1 } };
        res.write(`id: 1\nevent: snapshot\ndata: ${JSON.stringify(snap)}\n\n`);
        res.write(`id: 2\nevent: log\ndata: ${JSON.stringify({ line: 'copied 400 of 1000 files', atUnixMs: now - 1e3, attempt: 1 })}\n\n`);
      } else {
        let n = 0;
        const t = setInterval(() => {
          n++;
          res.write(`id: ${Date.now()}-${n}\nevent: lifecycle\ndata: ${JSON.stringify({ id: `${Date.now()}-${n}`, type: n % 2 ? 'command_queued' : 'command_succeeded', commandId: `cmd-${n}`, agentId: 'web-1', replicaId: 'r-a1', atUnixMs: Date.now(), fields: {} })}\n\n`);
        }, 300);
        req.on('close', () => clearInterval(t));
      }
      return undefined;
    }
    if (p.startsWith('/api/')) {
      const key = p.startsWith('/api/commands/') && p !== '/api/commands/cancel' ? '/api/commands/:id' : p;
      const a = answers.get(key);
      if (!a) return send(404, 'application/json', JSON.stringify({ error: `no ${p}`, code: 'NOT_FOUND' }));
      return send(a.status, 'application/json', JSON.stringify(a.body));
    }
    return send(200, TYPES['.html'], readFileSync(join(root, 'index.html')));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addr = server.address();
  return { url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`, server, answers };
}
