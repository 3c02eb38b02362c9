import { createServer, type Server as NetServer } from 'node:net';
import type { Server, ServerCredentials } from '@grpc/grpc-js';

/**
 * Pending connections the kernel queues for the gRPC port before the event loop accepts
 * them (Linux caps it at `net.core.somaxconn`).
 */
export const LISTEN_BACKLOG = 4096;

/**
 * The gRPC server's TCP listener: ours instead of grpc-js' `bindAsync` for its accept
 * backlog. grpc-js listens with Node's default of 511. When a replica dies, its agents come
 * back to the survivors within a second; a survivor whose event loop is busy for a few hundred
 * ms lets more than 511 connections queue, the kernel drops the rest of the SYNs, and each of
 * those agents waits out TCP's retransmit timer (1 s, then 3 s, 7 s) and often its welcome
 * timeout on top. Connections are handed to grpc-js through its connection injector (the
 * same credentials, options and handlers as a bound port).
 */
export class GrpcListener {
  private closed = false;

  private constructor(
    private readonly listener: NetServer,
    /** The port bound (the one asked for, or a free one for 0). */
    readonly port: number,
  ) {}

  /**
   * Listens on `host:port` (port 0 = any free port) for `server`. `onError` hears what goes
   * wrong once listening (an accept that fails: out of file descriptors); the port stays open.
   */
  static async listen(
    server: Server,
    host: string,
    port: number,
    credentials: ServerCredentials,
    onError: (err: Error) => void,
    backlog = LISTEN_BACKLOG,
  ): Promise<GrpcListener> {
    const injector = server.createConnectionInjector(credentials);
    const listener = createServer({ noDelay: true }, (socket) => injector.injectConnection(socket));
    // `[::1]` as gRPC targets write it; net wants the bare address.
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException): void => reject(new Error(`cannot listen on ${host}:${port}: ${err.code ?? err.message}`));
      listener.once('error', failed);
      listener.listen({ host: bare, port, backlog }, () => {
        listener.off('error', failed);
        listener.on('error', onError);
        resolve();
      });
    });
    const address = listener.address();
    return new GrpcListener(listener, typeof address === 'object' && address ? address.port : port);
  }

  /**
   * Stops accepting connections at once; those established stay open (the replica drains
   * them, and the gRPC server's shutdown ends them). Not awaited: net's close callback waits
   * for every connection to end. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listener.close();
  }
}
