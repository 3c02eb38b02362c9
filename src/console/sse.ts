import type { IncomingMessage, ServerResponse } from 'node:http';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../shared/logger';
import { fromGrpc, sendError } from './http-io';

/** Timings of the SSE streams (tests shorten them). */
export interface SseTimings {
  /** A `: keep-alive` comment this often, so proxies keep an idle stream open. */
  readonly keepAliveMs: number;
  /** A browser that has not taken what was written for this long is closed. */
  readonly stuckMs: number;
  /** Headers go out at the first message, or after this long without an error. */
  readonly settleMs: number;
}

export const SSE_TIMINGS: SseTimings = Object.freeze({ keepAliveMs: 15_000, stuckMs: 30_000, settleMs: 250 });

/** Turns one gRPC message into an SSE frame (`id`, `event`, `data`). */
export type Framer = (message: unknown) => { id: string; event: string; data: unknown };

/**
 * Pipes gRPC watch streams into Server-Sent Events responses. Memory stays bounded: when the
 * socket does not take a write, the gRPC stream is paused (grpc-js then stops reading, and
 * HTTP/2 flow control holds the server back) until `drain`; a browser stuck longer than
 * `stuckMs` is disconnected. Errors before the first message are plain JSON errors (so a
 * 401/403/404 is not retried by EventSource); afterwards the stream just ends.
 */
export class SseStreams {
  /** Each open response, by the function that ends it. */
  private readonly open = new Map<() => void, ServerResponse>();

  constructor(private readonly logger: Logger, private readonly timings: SseTimings = SSE_TIMINGS) {}

  /** Open SSE responses. */
  get size(): number {
    return this.open.size;
  }

  /** Bytes written to open responses that their sockets have not taken yet. */
  get bufferedBytes(): number {
    let n = 0;
    for (const res of this.open.values()) n += res.writableLength;
    return n;
  }

  /** Ends every response (a draining replica): browsers reconnect elsewhere with Last-Event-ID. */
  closeAll(): void {
    for (const end of [...this.open.keys()]) end();
  }

  /** Streams `call` into `res`; `endEvent` is written when the gRPC stream ends OK. */
  pipe(req: IncomingMessage, res: ServerResponse, call: ClientReadableStream<unknown>, frame: Framer, endEvent?: string): void {
    const { keepAliveMs, stuckMs, settleMs } = this.timings;
    let stuck: NodeJS.Timeout | undefined;
    let done = false;
    const begin = (): void => {
      if (res.headersSent) return;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write('retry: 2000\n\n');
    };
    const settle = setTimeout(begin, settleMs);
    const write = (text: string): void => {
      begin();
      if (res.write(text) || stuck) return;
      call.pause();
      stuck = setTimeout(() => {
        this.logger.info({ path: req.url?.split('?')[0], stuckMs }, 'console stream closed: the browser did not read');
        finish(() => res.destroy());
      }, stuckMs);
    };
    const keepAlive = setInterval(() => stuck || write(': keep-alive\n\n'), keepAliveMs);
    const finish = (how: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(settle);
      clearTimeout(stuck);
      clearInterval(keepAlive);
      this.open.delete(drainEnd);
      call.removeAllListeners('data');
      call.on('error', () => undefined); // cancelling reports CANCELLED
      call.cancel();
      how();
    };
    const drainEnd = (): void => finish(() => (res.headersSent ? res.end() : sendError(res, fromGrpc({ code: status.UNAVAILABLE, details: 'this replica is shutting down' }))));
    this.open.set(drainEnd, res);

    res.on('drain', () => {
      if (!stuck || done) return;
      clearTimeout(stuck);
      stuck = undefined;
      call.resume();
    });
    res.on('close', () => finish(() => undefined));
    call.on('data', (message: unknown) => {
      const f = frame(message);
      write(`id: ${f.id}\nevent: ${f.event}\ndata: ${JSON.stringify(f.data)}\n\n`);
    });
    call.on('end', () => finish(() => {
      begin();
      res.end(endEvent ? `event: ${endEvent}\ndata: {}\n\n` : undefined);
    }));
    call.on('error', (err: ServiceError) => finish(() => {
      if (!res.headersSent) return sendError(res, fromGrpc(err));
      this.logger.debug({ code: status[err.code], err: err.details }, 'console stream ended by the API');
      res.end();
    }));
  }
}
