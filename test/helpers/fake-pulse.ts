import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { NexusPulseServiceService, type AgentMessage, type OrchestratorMessage } from '../../src/generated/nexus/prime/pulse';

export type PulseCall = ServerDuplexStream<AgentMessage, OrchestratorMessage>;

/** A real gRPC server on loopback serving only Pulse, with `pulse` as its handler. */
export async function pulseServer(pulse: (call: PulseCall) => void): Promise<{ server: Server; port: number }> {
  const server = new Server();
  const unimplemented = (_c: unknown, cb: (e: { code: number }) => void) => cb({ code: 12 });
  server.addService(NexusPulseServiceService, { pulse, getSystemStatus: unimplemented, getCommand: unimplemented, submitCommand: unimplemented });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { server, port };
}

/** The welcome of session `n` from `replicaId`. */
export const welcome = (replicaId: string, n: number): OrchestratorMessage => ({ kind: { $case: 'welcome', welcome: { replicaId, sessionId: String(n), heartbeatIntervalMs: 0, epoch: n, acceptsResultBatches: false, acceptsProgress: false } } });
