import type { PeerCertificate } from 'node:tls';
import { status, type Metadata, type StatusObject } from '@grpc/grpc-js';
import { NexusPulseServiceService, type NexusPulseServiceServer } from '../../generated/nexus/prime/pulse';
import type { Logger } from '../../shared/logger';
import type { Authenticator } from './authenticator';
import { setCaller, type Caller } from './caller';
import { mayCall, rpcName, RPC_ROLES, type RpcKey } from './rpc-roles';

/** What the guard needs of any grpc-js server call: credentials in, a way to refuse out. */
interface GuardedCall {
  readonly metadata: Metadata;
  getAuthContext(): { sslPeerCertificate?: PeerCertificate };
  getPeer(): string;
}

type AnyHandler = (call: GuardedCall, callback?: (error: Partial<StatusObject> | null) => void) => void;

/** Counts refusals (nexus_auth_denied_total) without the guard knowing the metrics class. */
export type DenialCounter = (code: status) => void;

/**
 * Wraps every handler of the service map so the caller is authenticated and its role checked
 * (RPC_ROLES) before the handler runs: unary calls are answered through their callback, streams
 * (server streaming and the Pulse bidi stream) with an error status. Allowed calls carry their
 * Caller (callerOf(call)). Health and reflection are other services: they stay open.
 */
export function guardHandlers(handlers: NexusPulseServiceServer, auth: Authenticator, logger: Logger, denied: DenialCounter = () => undefined): NexusPulseServiceServer {
  const guarded: Record<string, AnyHandler> = {};
  for (const key of Object.keys(RPC_ROLES) as RpcKey[]) {
    const handler = handlers[key] as unknown as AnyHandler | undefined;
    // The guard supplies every method to grpc-js, so it must catch a missing one itself.
    if (typeof handler !== 'function') throw new Error(`no handler for ${rpcName(key)} (register it, or list it in not-built.ts)`);
    const unary = !NexusPulseServiceService[key].responseStream && !NexusPulseServiceService[key].requestStream;
    guarded[key] = (call, callback) => {
      const decision = decide(auth, key, call);
      if ('caller' in decision) {
        setCaller(call, decision.caller);
        return handler(call, callback);
      }
      denied(decision.code);
      // Who was refused and why; never the token (nor its hash): only the role and name it stands
      // for. Debug, not info: a misconfigured client retrying must not flood the log (the
      // counter nexus_auth_denied_total is the signal to alert on).
      logger.debug({ rpc: rpcName(key), code: status[decision.code], peer: call.getPeer() }, decision.details);
      const error = { code: decision.code, details: decision.details };
      if (unary && callback) return callback(error);
      (call as unknown as NodeJS.EventEmitter).emit('error', error);
    };
  }
  return guarded as unknown as NexusPulseServiceServer;
}

/** The caller to run the handler for, or the status to refuse with (naming the role and RPC). */
function decide(auth: Authenticator, key: RpcKey, call: GuardedCall): { caller: Caller } | { code: status; details: string } {
  const authn = auth.authenticate(call.getAuthContext().sslPeerCertificate, call.metadata);
  if (!authn.ok) return { code: authn.code, details: `${rpcName(key)}: ${authn.details}` };
  const { caller } = authn;
  if (auth.mode === 'open' || mayCall(caller.role, key)) return { caller: caller as Caller };
  const allowed = RPC_ROLES[key].join(' or ');
  const who = caller.name ? ` (${caller.role}/${caller.name})` : '';
  return { code: status.PERMISSION_DENIED, details: `role ${caller.role}${who} may not call ${rpcName(key)} (needs ${allowed})` };
}
