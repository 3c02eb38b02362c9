import { agentIdProblem } from '../shared/agent-id';
import { parseTargetSpec, TargetSpecError, type TargetSpec } from './target-spec';

/** A command as accepted from the ingress. */
export interface NewCommand {
  commandId: string;
  target: string;
  commandType: string;
  payload: string;
  priority: number;
  correlationId: string;
  maxAttempts: number;
  ttlMs: number;
  /** Who asked (`<role>/<name>`, set by the gRPC surface from the caller's identity); '' for a plain XADD. */
  requestedBy: string;
  /** The dead letter this command redrives, or ''. */
  redriveOf: string;
  /** The fan-out parent of this command, or ''. */
  parentId: string;
}

/** What an ingress entry asks for, or why it cannot be done. */
export type IngressRequest =
  | { kind: 'issue'; command: NewCommand }
  /** By `selector`: the command's `target` is '' and `spec` says how it picks its agents. */
  | { kind: 'targeted'; command: NewCommand; spec: TargetSpec }
  | { kind: 'cancel'; commandId: string; requestedBy: string; reason: string }
  /** Run a dead letter again; `commandId` '' = `<original command id>:redrive:<deadLetterId>`. */
  | { kind: 'redrive'; deadLetterId: string; commandId: string; requestedBy: string }
  | { kind: 'invalid'; error: string };

/** Limits and defaults applied to ingress entries. */
export interface EntryRules {
  readonly maxPayloadBytes: number;
  readonly defaultMaxAttempts: number;
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
}

const MAX_U64 = 2n ** 64n - 1n;

/** A stream entry id as Redis writes them (`<ms>-<seq>`, each part an unsigned 64-bit number). */
export function isEntryId(id: string): boolean {
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(id);
  return m !== null && BigInt(m[1]) <= MAX_U64 && BigInt(m[2]) <= MAX_U64;
}

const PRIORITY_NAMES: Record<string, number> = { low: 2, medium: 5, high: 8, critical: 10 };
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/-]*$/;
const MAX_NAME = 128;
const MAX_CORRELATION = 256;
const utf8 = new TextDecoder('utf-8', { fatal: true });

class Invalid extends Error {}

/** Entry fields as they arrived (raw bytes), flat: name, value, name, value ... */
export type RawFields = readonly Buffer[];

/**
 * Validates an ingress entry. `entryId` is the command id when the entry has none. Unknown
 * fields are ignored; duplicated fields, bytes that are not UTF-8, missing or oversized
 * fields and bad numbers make it invalid, with the field named in the error.
 */
export function parseIngressEntry(entryId: string, raw: RawFields, rules: EntryRules): IngressRequest {
  try {
    const f = decodeFields(raw, rules);
    const type = f.get('type') ?? 'command_issued';
    if (type === 'command_cancel') {
      const reason = f.get('reason') ?? '';
      if (reason.length > 200) throw new Invalid('reason is longer than 200 characters');
      return { kind: 'cancel', commandId: name(f, 'command_id', true), requestedBy: requester(f), reason };
    }
    if (type === 'command_redrive') {
      const deadLetterId = f.get('dead_letter_id') ?? '';
      if (deadLetterId === '') throw new Invalid('dead_letter_id is required');
      if (!isEntryId(deadLetterId)) throw new Invalid(`dead_letter_id must be a stream entry id (<ms>-<seq>), got ${quote(deadLetterId)}`);
      return { kind: 'redrive', deadLetterId, commandId: name(f, 'command_id', false), requestedBy: requester(f) };
    }
    if (type !== 'command_issued') throw new Invalid(`type must be command_issued, command_cancel or command_redrive, got ${quote(type)}`);
    const target = f.get('target') ?? '';
    const bySelector = (f.get('selector') ?? '') !== '';
    if (target === '' && !bySelector) throw new Invalid('target is required (or a selector)');
    if (target !== '' && bySelector) throw new Invalid('give target or selector, not both');
    const targetProblem = bySelector ? undefined : agentIdProblem(target);
    if (targetProblem) throw new Invalid(`target: ${targetProblem.replace('agent_id ', '')}`);
    const payload = f.get('payload') ?? '';
    const correlationId = f.get('correlation_id') ?? '';
    if (correlationId.length > MAX_CORRELATION) throw new Invalid(`correlation_id is longer than ${MAX_CORRELATION} characters`);
    const command: NewCommand = {
      commandId: name(f, 'command_id', false) || entryId,
      target,
      commandType: name(f, 'command_type', true),
      payload,
      priority: priority(f.get('priority')),
      correlationId,
      maxAttempts: integer(f, 'max_attempts', rules.defaultMaxAttempts, 1, 100),
      ttlMs: integer(f, 'ttl_ms', rules.defaultTtlMs, 1, rules.maxTtlMs),
      requestedBy: requester(f),
      redriveOf: '',
      parentId: '',
    };
    return bySelector ? { kind: 'targeted', command, spec: parseTargetSpec(f) } : { kind: 'issue', command };
  } catch (err) {
    if (err instanceof Invalid || err instanceof TargetSpecError) return { kind: 'invalid', error: err.message };
    throw err;
  }
}

function decodeFields(raw: RawFields, rules: EntryRules): Map<string, string> {
  const fields = new Map<string, string>();
  if (raw.length % 2 !== 0) throw new Invalid('entry has an odd number of field items');
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i].toString('latin1');
    const value = raw[i + 1];
    if (fields.has(key)) throw new Invalid(`field ${quote(key)} is given more than once`);
    if (key === 'payload' && value.length > rules.maxPayloadBytes) {
      throw new Invalid(`payload is ${value.length} bytes; the limit is ${rules.maxPayloadBytes}`);
    }
    if (key !== 'payload' && value.length > 4096) throw new Invalid(`field ${quote(key)} is longer than 4096 bytes`);
    try {
      fields.set(key, utf8.decode(value));
    } catch {
      throw new Invalid(`field ${quote(key)} is not valid UTF-8`);
    }
  }
  return fields;
}

function name(f: Map<string, string>, field: string, required: boolean): string {
  const v = f.get(field) ?? '';
  if (v === '') {
    if (required) throw new Invalid(`${field} is required`);
    return '';
  }
  if (v.length > MAX_NAME) throw new Invalid(`${field} is longer than ${MAX_NAME} characters`);
  if (!NAME.test(v)) throw new Invalid(`${field} ${quote(v)} may hold only letters, digits and . _ : @ / -`);
  return v;
}

/** `requested_by`: `<role>/<name>` as the gRPC surface writes it (a plain XADD may set it too: it is a label, not a proof). */
function requester(f: Map<string, string>): string {
  const v = f.get('requested_by') ?? '';
  if (v.length > MAX_NAME) throw new Invalid(`requested_by is longer than ${MAX_NAME} characters`);
  if (v !== '' && !/^[a-z]+\/[A-Za-z0-9._:@-]+$/.test(v)) throw new Invalid(`requested_by must look like <role>/<name>, got ${quote(v)}`);
  return v;
}

function priority(value: string | undefined): number {
  if (value === undefined || value === '') return 5;
  const named = PRIORITY_NAMES[value.toLowerCase()];
  if (named !== undefined) return named;
  if (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 10) return Number(value);
  throw new Invalid(`priority must be 1..10 or low|medium|high|critical, got ${quote(value)}`);
}

function integer(f: Map<string, string>, field: string, fallback: number, min: number, max: number): number {
  const v = f.get(field);
  if (v === undefined || v === '') return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Invalid(`${field} must be a whole number in ${min}..${max}, got ${quote(v)}`);
  return Number(v);
}

function quote(v: string): string {
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
}

/**
 * The entry's fields as text for a dead letter: each value cut to `capBytes` (the payload
 * also gets `payload_size`), never a multi-megabyte copy; bytes that are not UTF-8 are
 * replaced, not dropped.
 */
export function fieldsForDeadLetter(raw: RawFields, capBytes: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i].toString('utf8').slice(0, 128);
    const value = raw[i + 1];
    out.push(key, value.subarray(0, capBytes).toString('utf8'));
    if (value.length > capBytes) out.push(`${key}_size`, String(value.length));
  }
  return out;
}
