import type { Command } from '../generated/nexus/prime/pulse';
import type { NewCommand } from './ingress-entry';
import type { ResultCode, RefusalCode, RouteOutcome } from './reply-codes';

export type { CancelOutcome, RouteOutcome } from './reply-codes';

/** Bounds and timings of the command path (see the orchestrator config for defaults). */
export interface CommandLimits {
  /** Finished records (and dedupe of their ids) are kept this long. */
  readonly retentionMs: number;
  readonly eventsMaxLen: number;
  readonly dlqMaxLen: number;
  /** Bytes of payload kept in a dead letter (the original size is noted). */
  readonly dlqPayloadBytes: number;
  readonly mailboxMax: number;
  /** Deliveries of an ingress entry after which it is dead-lettered `poison`. */
  readonly poisonDeliveries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** The longest a record can live (the largest TTL plus retention): the command index keeps ids this long. */
  readonly indexLifeMs: number;
}

/** A valid ingress entry to route. */
export interface RoutedEntry {
  entryId: string;
  command: NewCommand;
}

/**
 * Outcome of routing one ingress entry. `delivered`: delivered at once to the owner's session
 * of `epoch` (pushed to the owner, or for the caller to send when it is the owner). `error`:
 * Redis refused the target's keys, the entry stays pending.
 */
export interface RouteResult {
  outcome: RouteOutcome;
  /** The owner replica of the target's session ('' if none). */
  owner: string;
  /** For `delivered`: the session's epoch and the command's expiry (Unix ms); else 0. */
  epoch: number;
  expireAt: number;
  /** For `error`: what Redis said. */
  reason?: string;
}

/** A command picked for delivery: exactly the Command message sent to the agent. */
export type Outgoing = Command;

/** What a delivery run picked for a session (deliverCommands); nothing when fenced. */
export interface DeliveryPick {
  /** A newer session owns the agent: this one must close. */
  fenced: boolean;
  commands: Outgoing[];
  /** Ids of commands in flight on this session whose cancel was requested. */
  cancels: string[];
  /** Time until the earliest retry is due (ms), 0 = none. */
  nextRetryInMs: number;
}

/** What a result batch refilled: the commands one agent's session is to be sent now. */
export interface Refill {
  agentId: string;
  commands: Outgoing[];
  /** Time until the earliest retry waiting in its mailbox is due (ms), 0 = none. */
  nextRetryInMs: number;
}

/** An agent's result as the store applies it. */
export interface ResultInput {
  commandId: string;
  agentId: string;
  epoch: number;
  outcome: 'succeeded' | 'failed' | 'cancelled';
  output: string;
  error: string;
  durationMs: number;
  permanent: boolean;
  attempt: number;
  /** The session's window, to refill it from the mailbox; 0 = send it nothing new now. */
  refillWindow: number;
}

/** What applying one result did and, for a retry, its delay. */
export interface Applied {
  code: ResultCode | typeof RefusalCode.Fenced;
  retryInMs: number;
}

/** What a batch of results did, per result in order, and the windows it refilled. */
export interface CompleteOutcome {
  applied: Applied[];
  refills: Refill[];
}

/** Commands by state: active states are current counts, finished ones totals. */
export type CommandCountsByState = Record<'queued' | 'delivered' | 'retrying' | 'succeeded' | 'failed' | 'dead' | 'cancelled', number>;
