import type { Hello } from '../generated/nexus/prime/pulse';
import type { AgentProfile } from '../redis-bridge/agent-record';
import { agentIdProblem } from '../shared/agent-id';

/** Longest accepted hello text field (agent_type, display_name, version, a capability, a label key or value). */
export const MAX_HELLO_FIELD = 256;
/** Most capabilities, and most labels, a hello may carry. */
export const MAX_HELLO_LIST = 64;
/** Highest max_concurrency an agent may state. */
export const MAX_CONCURRENCY = 10000;

/** Why a hello cannot be accepted, or undefined. */
export function helloProblem(hello: Hello): string | undefined {
  const idProblem = agentIdProblem(hello.agentId);
  if (idProblem) return idProblem;
  for (const [name, value] of [['agent_type', hello.agentType], ['display_name', hello.displayName], ['version', hello.version]] as const) {
    if (value.length > MAX_HELLO_FIELD) return `${name} is longer than ${MAX_HELLO_FIELD} characters`;
  }
  if (hello.capabilities.length > MAX_HELLO_LIST) return `more than ${MAX_HELLO_LIST} capabilities`;
  // Capabilities are stored comma-joined in the agent record, so a comma would split one.
  if (hello.capabilities.some((c) => c.length > MAX_HELLO_FIELD || c.includes(','))) return 'a capability is too long or contains a comma';
  const labels = Object.entries(hello.labels);
  if (labels.length > MAX_HELLO_LIST) return `more than ${MAX_HELLO_LIST} labels`;
  if (labels.some(([k, v]) => k.length > MAX_HELLO_FIELD || v.length > MAX_HELLO_FIELD)) return `a label is longer than ${MAX_HELLO_FIELD} characters`;
  if (hello.maxConcurrency > MAX_CONCURRENCY) return `max_concurrency is above ${MAX_CONCURRENCY}`;
  return undefined;
}

/** The hello fields kept in the agent record; an agent without a display name shows its id. */
export function toProfile(hello: Hello): AgentProfile {
  return {
    agentType: hello.agentType,
    displayName: hello.displayName || hello.agentId,
    capabilities: hello.capabilities,
    labels: hello.labels,
    version: hello.version,
    maxConcurrency: hello.maxConcurrency,
  };
}
