import { Client, Metadata, status, type ChannelCredentials, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { AgentMessage, NexusPulseServiceService } from '../../src/generated/nexus/prime/pulse';
import type { RpcKey } from '../../src/orchestrator/auth/rpc-roles';

/** What one probe saw: the final status (OK when a stream produced a message first). */
export interface ProbeOutcome {
  readonly code: status;
  readonly details: string;
}

const raw = (b: Buffer): Buffer => b;

/**
 * Calls any method of NexusPulseService the way a client would, with an empty request (a
 * hello naming `agentId` for Pulse), and reports how it ended: the status, or OK as soon as a
 * stream yields its first message (the call is then cancelled). Each call has a deadline, so a
 * stream that waits for something counts as DEADLINE_EXCEEDED, never as a hang.
 */
export function probeRpc(address: string, creds: ChannelCredentials, key: RpcKey, options: { token?: string; agentId?: string; channel?: Record<string, string> } = {}): Promise<ProbeOutcome> {
  const method = NexusPulseServiceService[key];
  const client = new Client(address, creds, options.channel ?? {});
  const metadata = new Metadata();
  if (options.token !== undefined) metadata.set('authorization', `Bearer ${options.token}`);
  const callOptions = { deadline: Date.now() + 3000 };
  return new Promise<ProbeOutcome>((resolve) => {
    let settled = false;
    const done = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      client.close();
      resolve(outcome);
    };
    const onStatus = (s: StatusObject) => done({ code: s.code, details: s.details });
    if (!method.requestStream && !method.responseStream) {
      client.makeUnaryRequest(method.path, raw, raw, Buffer.alloc(0), metadata, callOptions, (err: ServiceError | null) => done(err ? { code: err.code, details: err.details } : { code: status.OK, details: '' }));
      return;
    }
    if (!method.requestStream) {
      const call = client.makeServerStreamRequest(method.path, raw, raw, Buffer.alloc(0), metadata, callOptions);
      call.on('data', () => {
        done({ code: status.OK, details: 'first message' });
        call.cancel();
      });
      call.on('error', () => undefined);
      call.on('status', onStatus);
      return;
    }
    const call = client.makeBidiStreamRequest(method.path, raw, raw, metadata, callOptions);
    call.on('data', () => {
      done({ code: status.OK, details: 'first message' });
      call.cancel();
    });
    call.on('error', () => undefined);
    call.on('status', onStatus);
    const hello = AgentMessage.fromPartial({ kind: { $case: 'hello', hello: { agentId: options.agentId ?? 'probe', agentType: 'probe', version: '1', maxConcurrency: 1 } } });
    call.write(Buffer.from(AgentMessage.encode(hello).finish()));
  });
}

/** Status codes that mean the role guard refused the call (anything else got through it). */
export const AUTH_CODES: readonly status[] = [status.PERMISSION_DENIED, status.UNAUTHENTICATED];
