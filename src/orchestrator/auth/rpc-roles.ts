import { NexusPulseServiceService } from '../../generated/nexus/prime/pulse';
import type { Role } from './caller';

/** A method of NexusPulseService, as grpc-js names it in the handler map (`getCommand`). */
export type RpcKey = keyof typeof NexusPulseServiceService;

/** Every role there is, in the order docs/roles.md lists them. */
export const ROLES: readonly Role[] = Object.freeze(['agent', 'viewer', 'operator']);

const AGENT_ONLY: readonly Role[] = Object.freeze(['agent', 'operator']);
const READ: readonly Role[] = Object.freeze(['viewer', 'operator']);
const CHANGE: readonly Role[] = Object.freeze(['operator']);

/**
 * Who may call each RPC of NexusPulseService: the one table the guard enforces and
 * docs/roles.md shows. Agents only pulse; viewers read; operators may do everything (Pulse
 * included, so an operator can stand in for an agent when debugging). A `Record` over the
 * service's methods: a new RPC does not compile until it has a row here.
 */
export const RPC_ROLES: Readonly<Record<RpcKey, readonly Role[]>> = Object.freeze({
  pulse: AGENT_ONLY,
  getSystemStatus: READ,
  getCommand: READ,
  listCommands: READ,
  watchCommand: READ,
  watchEvents: READ,
  listDeadLetters: READ,
  submitCommand: CHANGE,
  redriveDeadLetters: CHANGE,
  purgeDeadLetters: CHANGE,
  cancelCommands: CHANGE,
});

/** The method name as on the wire (`GetCommand`), for messages and logs. */
export function rpcName(key: RpcKey): string {
  return NexusPulseServiceService[key].path.slice(NexusPulseServiceService[key].path.lastIndexOf('/') + 1);
}

/** Whether `role` may call `key`. Unknown roles (a foreign certificate) may call nothing. */
export function mayCall(role: string, key: RpcKey): boolean {
  return (RPC_ROLES[key] as readonly string[]).includes(role);
}
