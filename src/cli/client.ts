import { credentials, Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { NexusPulseServiceClient } from '../generated/nexus/prime/pulse';
import { CliError, EXIT, exitCodeOf } from './exit-codes';
import type { GlobalOptions } from './options';

/** The unary RPCs, by their method names on the generated client. */
type UnaryName = 'getSystemStatus' | 'getCommand' | 'submitCommand' | 'listCommands' | 'cancelCommands' | 'listDeadLetters' | 'redriveDeadLetters' | 'purgeDeadLetters';
type StreamName = 'watchCommand' | 'watchEvents';
type RequestOf<M extends UnaryName | StreamName> = Parameters<NexusPulseServiceClient[M]>[0];
type ResponseOf<M extends UnaryName> = Parameters<Extract<Parameters<NexusPulseServiceClient[M]>[3], (...args: never[]) => void>>[1];

/**
 * The gRPC client of one nexusctl run: credentials and the bearer token from the global
 * options, a deadline of `--timeout` on every unary call and on connecting, and errors turned
 * into CliErrors that name the server and carry the exit code of their status.
 */
export class NexusClient {
  private readonly client: NexusPulseServiceClient;

  constructor(private readonly opts: GlobalOptions) {
    const creds = opts.tls ? credentials.createSsl(opts.tls.ca ?? null, opts.tls.key ?? null, opts.tls.cert ?? null) : credentials.createInsecure();
    // Fail fast instead of retrying a dead address for the whole deadline one attempt at a time.
    this.client = new NexusPulseServiceClient(opts.server, creds, { 'grpc.enable_retries': 0 });
  }

  /** One unary call, with the deadline; throws a CliError. */
  call<M extends UnaryName>(method: M, request: RequestOf<M>): Promise<NonNullable<ResponseOf<M>>> {
    return new Promise((resolve, reject) => {
      const fn = this.client[method].bind(this.client) as unknown as (
        req: RequestOf<M>, md: Metadata, options: { deadline: number }, cb: (err: ServiceError | null, res?: ResponseOf<M>) => void,
      ) => void;
      fn(request, this.metadata(), { deadline: this.deadline() }, (err, res) => (err ? reject(this.failure(err, method)) : resolve(res as NonNullable<ResponseOf<M>>)));
    });
  }

  /** Opens a server stream once the server is reachable (waits at most the timeout for that). */
  async stream<M extends StreamName>(method: M, request: RequestOf<M>): Promise<ClientReadableStream<unknown>> {
    await new Promise<void>((resolve, reject) =>
      this.client.waitForReady(this.deadline(), (err) => (err ? reject(this.failure({ code: status.UNAVAILABLE, details: err.message } as ServiceError, method)) : resolve())),
    );
    const fn = this.client[method].bind(this.client) as unknown as (req: RequestOf<M>, md: Metadata) => ClientReadableStream<unknown>;
    return fn(request, this.metadata());
  }

  /** A stream's error as a CliError (for the commands that read streams). */
  failure(err: Partial<ServiceError>, method: string): CliError {
    const code = err.code;
    if (code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED) {
      // grpc-js appends an empty "Resolution note:" to connection failures.
      const why = (err.details || err.message || 'no answer').replace(/\.?\s*Resolution note:\s*$/, '');
      return new CliError(`cannot reach ${this.opts.server} (${method}): ${why} (timeout ${this.opts.timeoutSec} s; set --server or NEXUS_ADDR)`, EXIT.UNAVAILABLE);
    }
    if (code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED) {
      return new CliError(`${this.opts.server} refused ${method}: ${err.details} (a token with the right role: --token, --token-file or NEXUS_TOKEN)`, EXIT.DENIED);
    }
    return new CliError(err.details || err.message || 'unknown error', exitCodeOf(code));
  }

  close(): void {
    this.client.close();
  }

  private metadata(): Metadata {
    const md = new Metadata();
    if (this.opts.token) md.set('authorization', `Bearer ${this.opts.token}`);
    return md;
  }

  private deadline(): number {
    return Date.now() + this.opts.timeoutSec * 1000;
  }
}
