import { credentials, type ChannelOptions } from '@grpc/grpc-js';
import { NexusPulseServiceClient } from '../generated/nexus/prime/pulse';
import type { CompiledAgentOptions } from './agent-options';

/**
 * Channel options for one agent. Keepalive must agree with the orchestrator's
 * (it accepts pings every 5 s or slower, also without active calls).
 */
export function agentChannelOptions(options: CompiledAgentOptions): ChannelOptions {
  return {
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
    // See a headless service's new pod addresses within seconds, not the default 30 s.
    'grpc.dns_min_time_between_resolutions_ms': 5000,
    // Spread agents over every address of the target (headless service, ipv4: list)
    // instead of all piling onto the first one.
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ pick_first: { shuffleAddressList: true } }] }),
  };
}

/**
 * A fresh client (and channel) for one connection attempt. The agent closes it when the
 * session ends and waits out its own full-jitter backoff before creating the next, so grpc-js'
 * channel-level reconnect backoff never stacks on top of ours.
 */
export function createPulseClient(options: CompiledAgentOptions): NexusPulseServiceClient {
  return new NexusPulseServiceClient(options.orchestrator, credentials.createInsecure(), agentChannelOptions(options));
}
