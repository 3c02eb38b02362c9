/**
 * Every reply code the Lua scripts return, named once (as BullMQ's `enums/error-code.ts`).
 * The scripts read the same values from `scripts/includes/replyCodes.lua`; a unit test keeps
 * the two files equal. Decoding a reply into a typed object happens in ./script-replies.
 */

/** Why a script did nothing (or nothing for one item of a batch). Negative, unique across scripts. */
export const RefusalCode = {
  /** A newer session owns the agent: the caller's epoch is stale (deliver, complete, heartbeat). */
  Fenced: -1,
  /** The agent has no record: it expired, or Redis lost its data (heartbeat). */
  NoRecord: -2,
  /** The agent id started too many sessions within the window (connect). */
  OverSessionLimit: -3,
  /** The ingress entry is no longer pending for this consumer: another replica reclaimed it (reject). */
  NotPending: -4,
} as const;
export type RefusalCode = (typeof RefusalCode)[keyof typeof RefusalCode];

/** What applying one agent result did (completeCommands), or a RefusalCode.Fenced. */
export const ResultCode = {
  /** Already finished, another attempt, or not this agent's command: nothing changed. */
  Ignored: 0,
  /** Finished: succeeded, cancelled, or dead-lettered `failed`. */
  Finished: 1,
  /** Failed and scheduled again after a backoff delay. */
  Retrying: 2,
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

/** Success of scripts that answer one flag (ack, disconnect, reject, retire, heartbeat). */
export const DONE = 1;
/** The flag scripts' "nothing to do" (ack not in flight, disconnect superseded, consumer kept). */
export const NOT_DONE = 0;

/** What routing one ingress entry did (routeCommands); see RouteResult for the fields. */
export const ROUTE_OUTCOMES = ['delivered', 'queued', 'duplicate', 'poison', 'mailbox_full', 'not_owner', 'error'] as const;
export type RouteOutcome = (typeof ROUTE_OUTCOMES)[number];

/** What a `command_cancel` entry did (cancelCommand). */
export const CANCEL_OUTCOMES = ['cancelled', 'cancel_requested', 'final', 'unknown', 'not_owner'] as const;
export type CancelOutcome = (typeof CANCEL_OUTCOMES)[number];

/** The Lua text of ./scripts/includes/replyCodes.lua that these names require. */
export function replyCodesLua(): string {
  const lines = ['-- Reply codes, named once; generated from src/redis-bridge/reply-codes.ts (a unit test keeps them equal).', 'local REPLY = {'];
  for (const [name, value] of Object.entries({ ...RefusalCode, ...ResultCode })) lines.push(`  ${screaming(name)} = ${value},`);
  lines.push(`  DONE = ${DONE},`, `  NOT_DONE = ${NOT_DONE},`, '}', '');
  return lines.join('\n');
}

function screaming(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}
