import { credentials, Metadata, type ChannelCredentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { NexusPulseServiceClient } from '../generated/nexus/prime/pulse';
import { fromGrpc } from './http-io';

type UnaryName = 'getSystemStatus' | 'getCommand' | 'submitCommand' | 'listCommands' | 'cancelCommands' | 'listDeadLetters' | 'redriveDeadLetters' | 'purgeDeadLetters';
type StreamName = 'watchCommand' | 'watchEvents';
/** The request type of one RPC of the generated client. */
export type RequestOf<M extends UnaryName | StreamName> = Parameters<NexusPulseServiceClient[M]>[0];
type ResponseOf<M extends UnaryName> = Parameters<Extract<Parameters<NexusPulseServiceClient[M]>[3], (...args: never[]) => void>>[1];

/** Unary calls fail after this long (the API answers from Redis, well within it). */
const UNARY_DEADLINE_MS = 15_000;

/** Where the console reaches its own replica's gRPC port. */
export function loopbackAddress(grpcHost: string, grpcPort: number): string {
  const host = grpcHost === '0.0.0.0' || grpcHost === '' ? '127.0.0.1' : grpcHost === '::' ? '[::1]' : grpcHost.includes(':') ? `[${grpcHost}]` : grpcHost;
  return `${host}:${grpcPort}`;
}

/**
 * The gRPC client the console calls its own replica with, passing the browser's token as
 * `authorization: Bearer <token>` so the API's role guard decides what the browser may do.
 * With server TLS (no client certificates) the console connects to its own replica's bound
 * port on this host, so it does not verify the certificate (which names the replica's public
 * name and may chain to a CA this process was never given).
 */
export class LoopbackClient {
  private readonly client: NexusPulseServiceClient;

  constructor(address: string, tls: boolean) {
    const creds: ChannelCredentials = tls
      ? credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined })
      : credentials.createInsecure();
    this.client = new NexusPulseServiceClient(address, creds, { 'grpc.enable_retries': 0 });
  }

  /** One unary call with the token; rejects with an ApiError. */
  call<M extends UnaryName>(method: M, request: RequestOf<M>, token: string | undefined): Promise<NonNullable<ResponseOf<M>>> {
    return new Promise((resolve, reject) => {
      const fn = this.client[method].bind(this.client) as unknown as (
        req: RequestOf<M>, md: Metadata, options: { deadline: number }, cb: (err: ServiceError | null, res?: ResponseOf<M>) => void,
      ) => void;
      fn(request, metadataOf(token), { deadline: Date.now() + UNARY_DEADLINE_MS }, (err, res) => (err ? reject(fromGrpc(err)) : resolve(res as NonNullable<ResponseOf<M>>)));
    });
  }

  /** Opens a server stream with the token (errors arrive on the stream). */
  stream<M extends StreamName>(method: M, request: RequestOf<M>, token: string | undefined): ClientReadableStream<unknown> {
    const fn = this.client[method].bind(this.client) as unknown as (req: RequestOf<M>, md: Metadata) => ClientReadableStream<unknown>;
    return fn(request, metadataOf(token));
  }

  close(): void {
    this.client.close();
  }
}

function metadataOf(token: string | undefined): Metadata {
  const md = new Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return md;
}
