import type { CommandLimits } from '../redis-bridge/command-types';
import type { FanoutLimits } from '../redis-bridge/fanout-store';
import type { EntryRules } from '../redis-bridge/ingress-entry';
import type { OrchestratorConfig } from './config';

/** The bounds and timings of the command path (the store's scripts), from the config. */
export function commandLimitsOf(config: OrchestratorConfig): CommandLimits {
  return {
    retentionMs: config.commandRetentionMs,
    eventsMaxLen: config.eventsMaxLen,
    dlqMaxLen: config.dlqMaxLen,
    dlqPayloadBytes: config.dlqPayloadBytes,
    mailboxMax: config.mailboxMax,
    poisonDeliveries: config.poisonDeliveries,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
    indexLifeMs: recordLifeMs(config),
  };
}

/** The command path's bounds plus those of targeting by selector. */
export function fanoutLimitsOf(config: OrchestratorConfig): FanoutLimits {
  return { ...commandLimitsOf(config), maxFanout: config.maxFanout };
}

/** What an ingress entry (or a SubmitCommand, or a redrive) must satisfy, from the config. */
export function entryRulesOf(config: OrchestratorConfig): EntryRules & { readonly dlqPayloadBytes: number } {
  return {
    maxPayloadBytes: config.maxPayloadBytes,
    defaultMaxAttempts: config.defaultMaxAttempts,
    defaultTtlMs: config.defaultCommandTtlMs,
    maxTtlMs: config.maxCommandTtlMs,
    dlqPayloadBytes: config.dlqPayloadBytes,
  };
}

/** The longest a command record lives: the largest TTL plus the retention after finishing. */
export function recordLifeMs(config: OrchestratorConfig): number {
  return config.maxCommandTtlMs + config.commandRetentionMs;
}
