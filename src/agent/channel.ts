import { credentials, Metadata, type ChannelOptions } from '@grpc/grpc-js';
import { NexusPulseServiceClient } from '../generated/nexus/prime/pulse';
import type { CompiledAgentOptions } from './agent-options';

/**
 * Channel options for one agent. Keepalive must agree with the orchestrator's
 * (it accepts pings every 5 s or slower, also without active calls).
 */
export function agentChannelOptions(options: CompiledAgentOptions): ChannelOptions {
  return {
    ...(options.tls?.serverName ? { 'grpc.ssl_target_name_override': options.tls.serverName } : {}),
    // Ping after this much idle time, and drop the connection when the ping goes unanswered:
    // the only way to notice a half-open link (no FIN, no RST).
    'grpc.keepalive_time_ms': options.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    // Each agent gets its own connection, also when many share a process (swarm mode):
    // otherwise they would multiplex onto one HTTP/2 connection and fail together.
    'grpc.use_local_subchannel_pool': 1,
    // Channelz keeps a trace per channel and subchannel that nothing here reads.
    'grpc.enable_channelz': 0,
    // See a headless service's new pod addresses within seconds, not the default 30 s.
    'grpc.dns_min_time_between_resolutions_ms': 5000,
    // Spread agents over every address of a resolved target (dns:/// of a headless service)
    // instead of all piling onto the first one. Address lists we shuffle ourselves (below).
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ pick_first: { shuffleAddressList: true } }] }),
  };
}

/**
 * The target for one connection attempt: `ipv4:`/`ipv6:` address lists come back in a fresh
 * uniformly random order. grpc-js 1.14's own shuffle (pick_first shuffleAddressList) loops
 * `i > 1` instead of `i > 0`, so the second address can never come first: with three
 * replicas, one would never get a first pick. Other targets are returned unchanged.
 */
export function attemptTarget(target: string, random: () => number = Math.random): string {
  const match = /^(ipv4|ipv6):(.*)$/.exec(target);
  if (!match) return target;
  const addresses = match[2].split(',');
  for (let i = addresses.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [addresses[i], addresses[j]] = [addresses[j], addresses[i]];
  }
  return `${match[1]}:${addresses.join(',')}`;
}

/**
 * A fresh client (and channel) for one connection attempt, to `target` (the agent's own, or a
 * replica a drain named). The agent closes it when the session ends and waits out its own
 * full-jitter backoff before creating the next, so grpc-js' channel-level reconnect backoff
 * never stacks on top of ours.
 */
export function createPulseClient(options: CompiledAgentOptions, target = options.orchestrator): NexusPulseServiceClient {
  const tls = options.tls;
  const creds = tls ? credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : credentials.createInsecure();
  return new NexusPulseServiceClient(attemptTarget(target), creds, agentChannelOptions(options));
}

/**
 * A drain's `reconnect_to` when it is a plain `host:port` (a host name, IPv4, or `[IPv6]`),
 * else undefined: the hint is a hint, never a resolver scheme or a list.
 */
export function reconnectHint(value: string): string | undefined {
  return value.length <= 261 && /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value) ? value : undefined;
}

/**
 * The metadata of a Pulse call: `authorization: Bearer <token>` when the agent has a token
 * (orchestrators with AUTH_TOKENS_FILE; docs/roles.md), else none.
 */
export function pulseMetadata(options: CompiledAgentOptions): Metadata {
  const metadata = new Metadata();
  if (options.authToken) metadata.set('authorization', `Bearer ${options.authToken}`);
  return metadata;
}
