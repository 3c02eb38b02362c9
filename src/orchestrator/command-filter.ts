import { createHash } from 'node:crypto';
import type { CommandFilter } from '../generated/nexus/prime/pulse';
import type { CommandQuery, IndexCursor } from '../redis-bridge/command-index';
import { RECORD_OF_STATE } from './command-states';

const MAX_TEXT = 256;

/** A request field that is not acceptable; `field` is named in the INVALID_ARGUMENT status. */
export class FieldError extends Error {
  constructor(readonly field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'FieldError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** The index query a CommandFilter asks for; throws FieldError naming the first bad field. */
export function commandQuery(filter: CommandFilter | undefined, prefix = 'filter'): CommandQuery {
  const f = filter ?? { states: [], target: '', commandType: '', correlationId: '', parentId: '', createdAfterUnixMs: 0, createdBeforeUnixMs: 0 };
  const states = f.states.map((s, i) => {
    const name = RECORD_OF_STATE.get(s);
    if (!name) throw new FieldError(`${prefix}.states[${i}]`, `not a command state: ${String(s)}`);
    return name;
  });
  for (const [field, value] of [['target', f.target], ['command_type', f.commandType], ['correlation_id', f.correlationId], ['parent_id', f.parentId]] as const) {
    if (value.length > MAX_TEXT) throw new FieldError(`${prefix}.${field}`, `longer than ${MAX_TEXT} characters`);
  }
  if (f.createdAfterUnixMs && f.createdBeforeUnixMs && f.createdAfterUnixMs >= f.createdBeforeUnixMs) {
    throw new FieldError(`${prefix}.created_after_unix_ms`, 'must be before created_before_unix_ms');
  }
  return {
    states,
    target: f.target,
    commandType: f.commandType,
    correlationId: f.correlationId,
    parentId: f.parentId,
    createdAfter: f.createdAfterUnixMs,
    createdBefore: f.createdBeforeUnixMs,
  };
}

/** Page size: 0 = `fallback`; above `max` is refused. */
export function pageSize(value: number, fallback = 100, max = 1000): number {
  if (value > max) throw new FieldError('page_size', `at most ${max}, got ${value}`);
  return value || fallback;
}

function fingerprint(query: CommandQuery): string {
  return createHash('sha256').update(JSON.stringify(query)).digest('base64url').slice(0, 12);
}

/** An opaque page token: where the page ended, bound to the query it belongs to. */
export function encodePageToken(cursor: IndexCursor, query: CommandQuery): string {
  return Buffer.from(JSON.stringify({ s: cursor.score, i: cursor.id, q: fingerprint(query) })).toString('base64url');
}

/** The cursor in a page token of this query; '' = none. FieldError for a foreign or broken token. */
export function decodePageToken(token: string, query: CommandQuery): IndexCursor | undefined {
  if (!token) return undefined;
  let parsed: { s?: unknown; i?: unknown; q?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    throw new FieldError('page_token', 'malformed (use next_page_token as given)');
  }
  if (typeof parsed.s !== 'number' || typeof parsed.i !== 'string') throw new FieldError('page_token', 'malformed (use next_page_token as given)');
  if (parsed.q !== fingerprint(query)) throw new FieldError('page_token', 'belongs to another filter');
  return { score: parsed.s, id: parsed.i };
}
