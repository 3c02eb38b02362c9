/** Library entry: embed an agent in your own program. */
export { Agent, type AgentDeps, type AgentState } from './agent/agent';
export { compileAgentOptions, type AgentOptions, type CompiledAgentOptions } from './agent/agent-options';
export { CancelledError, PermanentError } from './agent/command-errors';
export type { CommandContext, CommandHandler } from './agent/handlers';
export { HostMetricsSampler } from './agent/host-metrics';
export { fullJitterDelay, backoffCeiling, type BackoffPolicy } from './shared/backoff';
