import type { Outgoing } from './command-types';
import type { NewCommand } from './ingress-entry';

/**
 * The scripts hand a command to send as 7 values: id, type, payload, priority, attempt,
 * correlation id, expiry (Unix ms). Script replies carry them flat; the route script's bell
 * pushes carry them as a JSON array. This is their one reader.
 */
export const COMMAND_VALUES = 7;

/** The command whose 7 values start at `i`. */
export function commandAt(values: readonly unknown[], i: number): Outgoing {
  return {
    commandId: String(values[i]),
    commandType: String(values[i + 1]),
    payload: String(values[i + 2]),
    priority: Number(values[i + 3]),
    attempt: Number(values[i + 4]),
    correlationId: String(values[i + 5]),
    deadlineUnixMs: Number(values[i + 6]),
  };
}

/** A new command as its first delivery carries it (routed and delivered in one step). */
export function firstDelivery(c: NewCommand, expireAt: number): Outgoing {
  return { commandId: c.commandId, commandType: c.commandType, payload: c.payload, priority: c.priority, attempt: 1, correlationId: c.correlationId, deadlineUnixMs: expireAt };
}
