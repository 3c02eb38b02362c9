import { freePort } from '../../scripts/lib/free-port';
import type { OrchestratorOptions } from '../../src/orchestrator/orchestrator';
import { startOrchestrator } from './in-process';

/** An in-process orchestrator with its web console on a free port. */
export async function startConsoleOrchestrator(redisUrl: string, env: Record<string, string> = {}, options: OrchestratorOptions = {}) {
  const started = await startOrchestrator(redisUrl, { CONSOLE_PORT: String(await freePort()), ...env }, options);
  return { ...started, base: `http://127.0.0.1:${started.consolePort}` };
}

/**
 * A browser's view of the console: its cookies (set by the server), the CSRF header and a
 * same-origin Origin on every POST, as the pages send them.
 */
export class ConsoleBrowser {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.keep(await fetch(this.base + path, { headers: { ...this.cookieHeader(), ...headers } }));
  }

  /** A POST as the pages send it; `headers` may override (or blank) the CSRF parts. */
  async post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const all: Record<string, string> = { 'content-type': 'application/json', origin: this.base, 'x-csrf-token': this.cookies.get('nexus_csrf') ?? '', ...this.cookieHeader(), ...headers };
    for (const [k, v] of Object.entries(all)) if (v === '') delete all[k];
    return this.keep(await fetch(this.base + path, { method: 'POST', headers: all, body: JSON.stringify(body) }));
  }

  /** GET /api/session (which sets the CSRF cookie) and its body. */
  async session(): Promise<{ mode: string; role: string | null; name: string; csrf: string }> {
    return (await (await this.get('/api/session')).json()) as { mode: string; role: string | null; name: string; csrf: string };
  }

  private cookieHeader(): Record<string, string> {
    return this.cookies.size ? { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {};
  }

  private keep(res: Response): Response {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
      if (attrs.some((a) => a.trim() === 'Max-Age=0')) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

/** One Server-Sent Event. */
export interface SseEvent {
  id: string;
  event: string;
  data: string;
}

/** Reads an SSE response as events, as they come; `done` resolves when the server ends it. */
export function readSse(res: Response): { events: SseEvent[]; done: Promise<void>; cancel: () => Promise<void> } {
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const done = (async () => {
    for (;;) {
      const { value, done: ended } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (ended) return;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const e: SseEvent = { id: '', event: 'message', data: '' };
        let any = false;
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          if (colon === 0) continue;
          const [field, v] = [line.slice(0, colon), line.slice(colon + 1).replace(/^ /, '')];
          if (field === 'id' || field === 'event' || field === 'data') {
            e[field] = v;
            any = true;
          }
        }
        if (any && e.data !== '') events.push(e);
      }
    }
  })();
  return { events, done, cancel: () => reader.cancel().catch(() => undefined) };
}
