import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of Redis or a replica that a test can break:
 * - pass: forwards both ways;
 * - blackhole: accepts and holds connections but forwards nothing and never closes them
 *   (a half-open link: no FIN, no RST), existing ones included;
 * - reset: resets existing connections and every new one.
 */
export class ChaosProxy {
  port = 0;
  private mode: 'pass' | 'blackhole' | 'reset' = 'pass';
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly held = new Set<Socket>();
  private server: Server | undefined;

  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  setMode(mode: 'pass' | 'blackhole' | 'reset'): void {
    this.mode = mode;
    if (mode === 'pass') return;
    for (const [client, upstream] of this.pairs) {
      if (mode === 'reset') {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      } else {
        // Stop forwarding without telling either side.
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
        this.held.add(client).add(upstream);
      }
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    for (const s of this.held) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'reset') return void client.resetAndDestroy();
    if (this.mode === 'blackhole') {
      client.pause();
      this.held.add(client);
      return;
    }
    const upstream = createConnection(this.targetPort, this.targetHost);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const forget = (): void => void this.pairs.delete(pair);
    client.on('close', () => {
      upstream.destroy();
      forget();
    });
    upstream.on('close', () => {
      client.destroy();
      forget();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
