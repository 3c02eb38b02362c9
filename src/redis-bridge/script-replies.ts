import { COMMAND_VALUES, commandAt } from './command-wire';
import type { CompleteOutcome, DeliveryPick, Outgoing, Refill, RouteResult } from './command-types';
import { CANCEL_OUTCOMES, DONE, NOT_DONE, RefusalCode, ResultCode, ROUTE_OUTCOMES, type CancelOutcome } from './reply-codes';
import { ScriptReplyError } from './script-reply-error';

/*
 * One decoder per script reply: each checks the shape the script's header documents and
 * returns a typed object, so a script that changes its reply breaks here, with the script
 * named, instead of in the callers that read positions.
 */

/** A reply that must be an array. */
export function list(script: string, reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new ScriptReplyError(script, `expected an array, got ${typeof reply}`);
  return reply;
}

/** A reply value that must be an integer (a number or its text). */
export function int(script: string, value: unknown, what: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN;
  if (!Number.isInteger(n)) throw new ScriptReplyError(script, `${what} is not an integer: ${JSON.stringify(value)}`);
  return n;
}

/** A reply value that must be one of `allowed`. */
export function oneOf<T extends string>(script: string, value: unknown, allowed: readonly T[], what: string): T {
  if (!allowed.includes(value as T)) throw new ScriptReplyError(script, `unknown ${what} ${JSON.stringify(value)}`);
  return value as T;
}

/** Reads `n` commands from `values` at `i` into `out`; returns the index after them. */
function readCommands(script: string, values: unknown[], i: number, n: number, out: Outgoing[]): number {
  if (i + n * COMMAND_VALUES > values.length) throw new ScriptReplyError(script, `${n} commands announced at ${i}, reply has ${values.length} values`);
  for (let c = 0; c < n; c++, i += COMMAND_VALUES) out.push(commandAt(values, i));
  return i;
}

/** A script that answers DONE or one of the given "no" codes. */
export function decodeFlag(script: string, reply: unknown, no: number = NOT_DONE): boolean {
  const code = int(script, reply, 'code');
  if (code === DONE) return true;
  if (code === no) return false;
  throw new ScriptReplyError(script, `code ${code}`);
}

/** A script that answers one count. */
export function decodeCount(script: string, reply: unknown): number {
  return int(script, reply, 'count');
}

/** routeCommands: n x (outcome, owner or Redis' reason, epoch, expiry). */
export function decodeRouteReply(reply: unknown, entries: number): RouteResult[] {
  const v = list('routeCommands', reply);
  if (v.length !== entries * 4) throw new ScriptReplyError('routeCommands', `${v.length} values for ${entries} entries`);
  const results: RouteResult[] = [];
  for (let i = 0; i < v.length; i += 4) {
    const outcome = oneOf('routeCommands', v[i], ROUTE_OUTCOMES, 'outcome');
    if (outcome === 'error') results.push({ outcome, owner: '', epoch: 0, expireAt: 0, reason: String(v[i + 1]) });
    else if (outcome === 'delivered') {
      results.push({ outcome, owner: String(v[i + 1]), epoch: int('routeCommands', v[i + 2], 'epoch'), expireAt: int('routeCommands', v[i + 3], 'expiry') });
    } else results.push({ outcome, owner: String(v[i + 1]), epoch: 0, expireAt: 0 });
  }
  return results;
}

/** cancelCommand: { outcome, owner or '' }. */
export function decodeCancelReply(reply: unknown): { outcome: CancelOutcome; owner: string } {
  const v = list('cancelCommand', reply);
  return { outcome: oneOf('cancelCommand', v[0], CANCEL_OUTCOMES, 'outcome'), owner: String(v[1] ?? '') };
}

/** rejectEntry: DONE, or NOT_PENDING (false: the entry is another consumer's now). */
export function decodeRejectReply(reply: unknown): boolean {
  return decodeFlag('rejectEntry', reply, RefusalCode.NotPending);
}

/** deliverCommands: { FENCED } or { DONE, next retry in ms, n, n commands, m, m cancel ids }. */
export function decodeDeliverReply(reply: unknown): DeliveryPick {
  const script = 'deliverCommands';
  const v = list(script, reply);
  const code = int(script, v[0], 'code');
  if (code === RefusalCode.Fenced) return { fenced: true, commands: [], cancels: [], nextRetryInMs: 0 };
  if (code !== DONE) throw new ScriptReplyError(script, `code ${code}`);
  const commands: Outgoing[] = [];
  let i = readCommands(script, v, 3, int(script, v[2], 'command count'), commands);
  const m = int(script, v[i++], 'cancel count');
  if (i + m !== v.length) throw new ScriptReplyError(script, `${m} cancels announced at ${i}, reply has ${v.length} values`);
  return { fenced: false, commands, cancels: v.slice(i).map(String), nextRetryInMs: int(script, v[1], 'next retry') };
}

/**
 * completeCommands: n x (code, retry in ms), then m and per refilled agent (id, next retry in
 * ms, k, k commands).
 */
export function decodeCompleteReply(reply: unknown, results: number): CompleteOutcome {
  const script = 'completeCommands';
  const v = list(script, reply);
  const codes: number[] = [RefusalCode.Fenced, ResultCode.Ignored, ResultCode.Finished, ResultCode.Retrying];
  const applied: CompleteOutcome['applied'] = [];
  let i = 0;
  for (; i < 2 * results; i += 2) {
    const code = int(script, v[i], 'result code');
    if (!codes.includes(code)) throw new ScriptReplyError(script, `result code ${code}`);
    applied.push({ code: code as CompleteOutcome['applied'][number]['code'], retryInMs: int(script, v[i + 1], 'retry delay') });
  }
  const refills: Refill[] = [];
  for (let m = int(script, v[i++], 'refill count'); m > 0; m--) {
    const refill: Refill = { agentId: String(v[i]), nextRetryInMs: int(script, v[i + 1], 'next retry'), commands: [] };
    i = readCommands(script, v, i + 3, int(script, v[i + 2], 'command count'), refill.commands);
    refills.push(refill);
  }
  if (i !== v.length) throw new ScriptReplyError(script, `${v.length - i} values left over`);
  return { applied, refills };
}

/** What connectAgent answered: the new session's epoch and who held the agent before, or a refusal. */
export type ConnectReply =
  | { overLimit: false; epoch: number; previousReplica: string; previousSession: string; previousState: string; nowMs: number }
  | { overLimit: true; retryAfterMs: number };

/** connectAgent: { epoch, previous replica, previous session, previous state, now } or { OVER_SESSION_LIMIT, retry after }. */
export function decodeConnectReply(reply: unknown): ConnectReply {
  const script = 'connectAgent';
  const v = list(script, reply);
  const first = int(script, v[0], 'epoch');
  if (first === RefusalCode.OverSessionLimit) return { overLimit: true, retryAfterMs: int(script, v[1], 'retry after') };
  if (first <= 0) throw new ScriptReplyError(script, `epoch ${first}`);
  return { overLimit: false, epoch: first, previousReplica: String(v[1]), previousSession: String(v[2]), previousState: String(v[3]), nowMs: int(script, v[4], 'now') };
}

/** recordHeartbeat: DONE, FENCED or NO_RECORD. */
export function decodeHeartbeatReply(reply: unknown): 'ok' | 'fenced' | 'missing' {
  const code = int('recordHeartbeat', reply, 'code');
  if (code === DONE) return 'ok';
  if (code === RefusalCode.Fenced) return 'fenced';
  if (code === RefusalCode.NoRecord) return 'missing';
  throw new ScriptReplyError('recordHeartbeat', `code ${code}`);
}

/** What one staleness sweep did (sweepAgents' reply). */
export interface SweepResult {
  stale: number;
  offline: number;
  forgotten: number;
  /** Due transitions not made because a hold (or a silent replica) covered the agent. */
  held: number;
  /** `sweep_gap` when this sweep found a gap and set the cluster's failover grace, else ''. */
  gap: string;
  /** Holds active after this sweep (replicas held, plus `*`). */
  activeHolds: number;
  /** Holds that reached their until and were removed (replica ids, or `*`). */
  holdsEnded: string[];
}

/** sweepAgents: { stale, offline, forgotten, held, gap, active holds, ended holds... }. */
export function decodeSweepReply(reply: unknown): SweepResult {
  const v = list('sweepAgents', reply);
  if (v.length < 6) throw new ScriptReplyError('sweepAgents', `${v.length} values`);
  const n = (i: number, what: string): number => int('sweepAgents', v[i], what);
  return {
    stale: n(0, 'stale'), offline: n(1, 'offline'), forgotten: n(2, 'forgotten'), held: n(3, 'held'),
    gap: String(v[4]), activeHolds: n(5, 'active holds'), holdsEnded: v.slice(6).map(String),
  };
}

/** holdAgents: { Redis now (ms), started (1: `dampening_started` emitted) }. */
export function decodeHoldReply(reply: unknown): { nowMs: number; started: boolean } {
  const v = list('holdAgents', reply);
  if (v.length !== 2) throw new ScriptReplyError('holdAgents', `${v.length} values`);
  return { nowMs: int('holdAgents', v[0], 'now'), started: int('holdAgents', v[1], 'started') === 1 };
}

/** reapReplicas: the ids removed. */
export function decodeReapReply(reply: unknown): string[] {
  return list('reapReplicas', reply).map(String);
}

/** What scanDeadLetters answered: how far it read, and what matched. */
export interface DeadLetterScan {
  /** The last entry examined ('' when none was, and none before). */
  last: string;
  /** Nothing lies past `last` in the scan's direction. */
  done: boolean;
  /** Matches among the entries examined (more than returned when `want` was reached); in `count` mode, entries examined. */
  matched: number;
  /** Returned matches: id and fields ('entries'), id alone ('ids'). */
  entries: { id: string; fields: Record<string, string> }[];
  /** `count` mode: entries examined by reason. */
  counts: Record<string, number>;
}

/** scanDeadLetters: { last id, done flag, matched, ...matches or reason counts by mode }. */
export function decodeScanReply(reply: unknown, mode: 'entries' | 'ids' | 'count'): DeadLetterScan {
  const script = 'scanDeadLetters';
  const v = list(script, reply);
  if (v.length < 3) throw new ScriptReplyError(script, `${v.length} values`);
  const scan: DeadLetterScan = { last: String(v[0]), done: int(script, v[1], 'done') === 1, matched: int(script, v[2], 'matched'), entries: [], counts: {} };
  if (mode === 'count') {
    if ((v.length - 3) % 2 !== 0) throw new ScriptReplyError(script, 'odd reason counts');
    for (let i = 3; i < v.length; i += 2) scan.counts[String(v[i])] = int(script, v[i + 1], 'reason count');
  } else if (mode === 'ids') {
    for (let i = 3; i < v.length; i++) scan.entries.push({ id: String(v[i]), fields: {} });
  } else {
    if ((v.length - 3) % 2 !== 0) throw new ScriptReplyError(script, 'entries without fields');
    for (let i = 3; i < v.length; i += 2) {
      const flat = list(script, v[i + 1]);
      const fields: Record<string, string> = {};
      for (let j = 0; j + 1 < flat.length; j += 2) fields[String(flat[j])] = String(flat[j + 1]);
      scan.entries.push({ id: String(v[i]), fields });
    }
  }
  return scan;
}
