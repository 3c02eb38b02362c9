import { credentials, Metadata } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../src/generated/grpc/health/v1/health';
import {
  NexusPulseServiceClient,
  type AgentInfo,
  type GetSystemStatusRequest,
  type GetSystemStatusResponse,
} from '../../src/generated/nexus/prime/pulse';

/** A status client for one replica on loopback. */
export function statusClient(port: number): NexusPulseServiceClient {
  return new NexusPulseServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

/** GetSystemStatus with a 3 s deadline. */
export function getStatus(client: NexusPulseServiceClient, request: Partial<GetSystemStatusRequest> = {}): Promise<GetSystemStatusResponse> {
  const full: GetSystemStatusRequest = { state: 0, replicaId: '', agentType: '', agentIdPrefix: '', pageSize: 0, pageToken: '', summaryOnly: false, selector: '', ...request };
  return new Promise((resolve, reject) => {
    client.getSystemStatus(full, new Metadata(), { deadline: Date.now() + 3000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Every agent, following page tokens. */
export async function allAgents(client: NexusPulseServiceClient, request: Partial<GetSystemStatusRequest> = {}): Promise<AgentInfo[]> {
  const agents: AgentInfo[] = [];
  let pageToken = '';
  do {
    const page = await getStatus(client, { ...request, pageToken });
    agents.push(...page.agents);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return agents;
}

/** A health client for one replica on loopback. */
export function healthClient(port: number): HealthClient {
  return new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

/** Health Check of `service` ('' = liveness), as the status name; errors reject. */
export function checkHealth(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.check({ service }, new Metadata(), { deadline: Date.now() + 2000 }, (err, res) => (err ? reject(err) : resolve(HealthCheckResponse_ServingStatus[res.status])));
  });
}
