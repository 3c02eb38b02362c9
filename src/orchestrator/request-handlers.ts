import type Redis from 'ioredis';
import type { NexusPulseServiceServer } from '../generated/nexus/prime/pulse';
import type { Logger } from '../shared/logger';
import type { AgentRegistry } from '../redis-bridge/agent-registry';
import { CommandIndex } from '../redis-bridge/command-index';
import type { CommandStore } from '../redis-bridge/command-store';
import type { DeadLetters } from '../redis-bridge/dead-letters';
import type { EventLog } from '../redis-bridge/event-log';
import type { EntryRules } from '../redis-bridge/ingress-entry';
import type { NexusKeys } from '../redis-bridge/keys';
import type { ReplicaRegistry } from '../redis-bridge/replica-registry';
import { readStreamStats } from '../redis-bridge/stream-stats';
import { CommandCancelService } from './command-cancel-service';
import { CommandListService } from './command-list-service';
import { CommandService } from './command-service';
import { DeadLetterService } from './dead-letter-service';
import { StatusService } from './status-service';

/** The RPCs answered from Redis alone, per request (not the Pulse session, not the watches). */
export type RequestRpcs = 'getSystemStatus' | 'getCommand' | 'submitCommand' | 'listCommands' | 'cancelCommands' | 'listDeadLetters' | 'redriveDeadLetters' | 'purgeDeadLetters';

/** What those handlers read and write. */
export interface RequestHandlerDeps {
  readonly redis: Redis;
  readonly keys: NexusKeys;
  readonly store: CommandStore;
  readonly agents: AgentRegistry;
  readonly replicas: ReplicaRegistry;
  readonly events: EventLog;
  readonly deadLetters: DeadLetters;
  readonly rules: EntryRules & { readonly dlqPayloadBytes: number };
  readonly replicaId: string;
  readonly logger: Logger;
}

/** Builds the request/response handlers of the service (status, commands, dead letters). */
export function requestHandlers(d: RequestHandlerDeps): Pick<NexusPulseServiceServer, RequestRpcs> {
  const child = (component: string): Logger => d.logger.child({ component });
  const index = new CommandIndex(d.redis, d.keys);
  const list = new CommandListService(index, d.replicaId, child('list'));
  const cancels = new CommandCancelService(d.redis, d.keys, index, child('cancel'));
  const commands = new CommandService(d.redis, d.keys, d.store, d.rules, child('commands'));
  const dlq = new DeadLetterService(d.deadLetters, d.rules, d.events, d.replicaId, child('dlq'));
  const status = new StatusService({
    agents: d.agents,
    replicas: d.replicas,
    streams: () => readStreamStats(d.redis, d.keys),
    commandCounts: () => d.store.counts(),
    replicaId: d.replicaId,
    logger: child('status'),
  });
  return {
    getSystemStatus: status.handle,
    getCommand: commands.getCommand,
    submitCommand: commands.submitCommand,
    listCommands: list.listCommands,
    cancelCommands: cancels.cancelCommands,
    listDeadLetters: dlq.listDeadLetters,
    redriveDeadLetters: dlq.redriveDeadLetters,
    purgeDeadLetters: dlq.purgeDeadLetters,
  };
}
