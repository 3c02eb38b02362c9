import { Server, ServerCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { NexusPulseServiceService, type NexusPulseServiceServer } from '../generated/nexus/prime/pulse';
import { createLogger, type Logger } from '../shared/logger';
import { Authenticator, authMode } from './auth/authenticator';
import { guardHandlers, type DenialCounter } from './auth/guard';
import type { OrchestratorConfig } from './config';
import { DescriptorIndex } from './descriptor-index';
import { ReflectionService } from './reflection-service';

/** The readiness service name (external contract); liveness is the empty name. */
export const READINESS_SERVICE = 'nexus.prime.NexusPulseService';

/** Server channel options. Keepalive must agree with the agents' (see agent/channel.ts). */
export function serverOptions(config: OrchestratorConfig): ChannelOptions {
  return {
    // Ping every connection after this much idle time, so a half-open link is noticed...
    'grpc.keepalive_time_ms': config.keepaliveTimeMs,
    // ...and closed when the ping is not answered within this time.
    'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs,
    // Keep pinging idle connections too. (grpc-js servers do not police client pings, so
    // agents' keepalive can never earn a `too_many_pings` GOAWAY from a Nexus replica.)
    'grpc.keepalive_permit_without_calls': 1,
    // Bound what one peer can make us hold: message sizes both ways, streams per connection.
    'grpc.max_receive_message_length': config.maxMessageBytes,
    'grpc.max_send_message_length': config.maxMessageBytes,
    'grpc.max_concurrent_streams': config.maxConcurrentStreams,
  };
}

/**
 * Builds the gRPC server: the Nexus service (every handler behind the role guard: the client
 * certificate or bearer token must allow the RPC, docs/roles.md), health (liveness "" and
 * readiness) and reflection over the build's own descriptors (both open).
 */
export function buildGrpcServer(
  config: OrchestratorConfig,
  handlers: NexusPulseServiceServer,
  logger?: Logger,
  denied?: DenialCounter,
): { server: Server; health: HealthImplementation } {
  const server = new Server(serverOptions(config));
  const auth = new Authenticator(authMode(config), config.authTokens);
  const log = logger ?? createLogger('silent');
  server.addService(NexusPulseServiceService, guardHandlers(handlers, auth, log, denied));
  const health = new HealthImplementation({ '': 'SERVING', [READINESS_SERVICE]: 'NOT_SERVING' });
  health.addToServer(server);
  const index = DescriptorIndex.load();
  new ReflectionService(index, [
    READINESS_SERVICE,
    'grpc.health.v1.Health',
    'grpc.reflection.v1.ServerReflection',
    'grpc.reflection.v1alpha.ServerReflection',
  ]).addToServer(server);
  return { server, health };
}

/** Server credentials: plaintext, TLS, or mutual TLS when a client CA is configured. */
export function serverCredentials(tls: OrchestratorConfig['tls']): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.ca ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.ca !== undefined);
}
