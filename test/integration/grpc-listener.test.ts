import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { GrpcListener, LISTEN_BACKLOG } from '../../src/orchestrator/grpc-listener';
import { checkHealth, healthClient } from '../helpers/grpc-clients';

/** The accept backlog of the socket listening on `port`, as the kernel reports it (`ss`: Send-Q). */
function listenBacklog(port: number): number {
  const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim().split('\n')[0];
  return Number(line.trim().split(/\s+/)[2]);
}

function connectable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('the gRPC listener (ours, for its accept backlog)', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.forceShutdown();
  });

  function healthServer(): Server {
    const server = new Server();
    new HealthImplementation({ '': 'SERVING' }).addToServer(server);
    servers.push(server);
    return server;
  }

  it('listens with a backlog of 4096 (capped by somaxconn), not Node\'s 511, and serves gRPC', async () => {
    const server = healthServer();
    const listener = await GrpcListener.listen(server, '127.0.0.1', 0, ServerCredentials.createInsecure(), () => undefined);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect(listenBacklog(listener.port)).toBe(Math.min(LISTEN_BACKLOG, somaxconn));
    const health = healthClient(listener.port);
    expect(await checkHealth(health, '')).toBe('SERVING');
    health.close();
    listener.close();
  });

  it('close() stops new connections at once while an established call goes on', async () => {
    const server = healthServer();
    const listener = await GrpcListener.listen(server, '127.0.0.1', 0, ServerCredentials.createInsecure(), () => undefined);
    const health = healthClient(listener.port);
    expect(await checkHealth(health, '')).toBe('SERVING');
    listener.close();
    listener.close(); // idempotent
    expect(await connectable(listener.port)).toBe(false);
    expect(await checkHealth(health, '')).toBe('SERVING'); // the same connection
    health.close();
  });

  it('names the address when the port is taken', async () => {
    const first = await GrpcListener.listen(healthServer(), '127.0.0.1', 0, ServerCredentials.createInsecure(), () => undefined);
    await expect(GrpcListener.listen(healthServer(), '127.0.0.1', first.port, ServerCredentials.createInsecure(), () => undefined)).rejects.toThrow(
      `cannot listen on 127.0.0.1:${first.port}: EADDRINUSE`,
    );
    first.close();
  });
});
