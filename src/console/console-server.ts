import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../shared/logger';
import { Authenticator } from '../orchestrator/auth/authenticator';
import type { TokenEntry } from '../orchestrator/auth/tokens-file';
import { handleApi } from './api-routes';
import { ApiError, sendError, sendJson } from './http-io';
import { LoopbackClient, loopbackAddress } from './loopback-client';
import { setSecurityHeaders } from './security-headers';
import { ConsoleSessions } from './session';
import { SSE_TIMINGS, SseStreams, type SseTimings } from './sse';
import { StaticFiles } from './static-files';
import { ThroughputSampler } from './throughput';

/** What the console needs of its replica. */
export interface ConsoleServerOptions {
  readonly host: string;
  readonly port: number;
  /** The replica's bound gRPC port (the console calls it over loopback). */
  readonly grpcHost: string;
  readonly grpcPort: number;
  /** Whether the gRPC port serves TLS (without client certificates: with them the console is off). */
  readonly grpcTls: boolean;
  /** AUTH_TOKENS_FILE's entries; undefined = open mode (everyone operates). */
  readonly authTokens: readonly TokenEntry[] | undefined;
  /** The cluster's finished-command counts (for the throughput chart). */
  readonly commandCounts: () => Promise<{ succeeded: number; failed: number; dead: number }>;
  readonly logger: Logger;
  /** SSE timings; tests shorten them. */
  readonly sse?: Partial<SseTimings>;
}

/**
 * The web console of one replica: pages, vendor files, the JSON API and its SSE streams on
 * CONSOLE_PORT. Every answer comes from this replica's own gRPC API, called with the browser's
 * token, so the API's role guard decides what a browser may see and do.
 */
export class ConsoleServer {
  private readonly server: Server;
  private readonly api: LoopbackClient;
  private readonly sessions: ConsoleSessions;
  private readonly streams: SseStreams;
  private readonly throughput: ThroughputSampler;
  private readonly files = new StaticFiles();
  private readonly log: Logger;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: ConsoleServerOptions) {
    this.log = opts.logger;
    this.api = new LoopbackClient(loopbackAddress(opts.grpcHost, opts.grpcPort), opts.grpcTls);
    this.sessions = new ConsoleSessions(opts.authTokens ? 'tokens' : 'open', new Authenticator(opts.authTokens ? 'tokens' : 'open', opts.authTokens ?? []), this.api);
    this.streams = new SseStreams(this.log, { ...SSE_TIMINGS, ...opts.sse });
    this.throughput = new ThroughputSampler(opts.commandCounts, this.log);
    this.server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16 * 1024 }, (req, res) => this.handle(req, res));
    this.server.maxConnections = 1000;
  }

  /** Open SSE responses (for tests and logs). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Bytes the open SSE responses hold for slow browsers (bounded by the pause). */
  get bufferedBytes(): number {
    return this.streams.bufferedBytes;
  }

  /** Listens; returns the bound port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.throughput.start();
    return (this.server.address() as AddressInfo).port;
  }

  /** Ends every SSE stream, stops listening and the sampler. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.throughput.close();
      this.streams.closeAll();
      if (!this.server.listening) {
        this.api.close();
        return resolve();
      }
      this.server.close(() => {
        this.api.close();
        resolve();
      });
      this.server.closeIdleConnections();
      // Requests in progress get a moment to finish; then their connections go too.
      setTimeout(() => this.server.closeAllConnections(), 1000).unref();
    });
    return this.closing;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    setSecurityHeaders(res);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://console');
    } catch {
      return sendError(res, new ApiError(400, 'bad request URL', 'INVALID_ARGUMENT'));
    }
    if (this.closing) res.setHeader('connection', 'close');
    const work = url.pathname.startsWith('/api/') ? handleApi(this.apiDeps, req, res, url) : this.serveFile(req, res, url.pathname);
    work.catch((err: unknown) => {
      if (err instanceof ApiError) return sendError(res, err);
      this.log.error({ err: (err as Error).message, path: url.pathname }, 'console request failed');
      sendError(res, new ApiError(500, 'internal error', 'INTERNAL'));
    });
  }

  private get apiDeps() {
    return { api: this.api, sessions: this.sessions, streams: this.streams, throughput: this.throughput };
  }

  private async serveFile(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, `${req.method} is not allowed here`, 'UNIMPLEMENTED');
    if (await this.files.serve(req, res, pathname)) return;
    sendJson(res, 404, { error: `not found: ${pathname.slice(0, 200)}`, code: 'NOT_FOUND' });
  }
}
