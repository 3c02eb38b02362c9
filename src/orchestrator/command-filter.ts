import type { CommandFilter } from '../generated/nexus/prime/pulse';
import type { CommandQuery, IndexCursor } from '../redis-bridge/command-index';
import { RECORD_OF_STATE } from './command-states';
import { InvalidArgument } from './invalid-argument';
import { decodePageToken, encodePageToken } from './page-token';

const MAX_TEXT = 256;


/** The index query a CommandFilter asks for; throws InvalidArgument naming the first bad field. */
export function commandQuery(filter: CommandFilter | undefined, prefix = 'filter'): CommandQuery {
  const f = filter ?? { states: [], target: '', commandType: '', correlationId: '', parentId: '', createdAfterUnixMs: 0, createdBeforeUnixMs: 0 };
  const states = f.states.map((s, i) => {
    const name = RECORD_OF_STATE.get(s);
    if (!name) throw new InvalidArgument(`${prefix}.states[${i}]: not a command state: ${String(s)}`);
    return name;
  });
  for (const [field, value] of [['target', f.target], ['command_type', f.commandType], ['correlation_id', f.correlationId], ['parent_id', f.parentId]] as const) {
    if (value.length > MAX_TEXT) throw new InvalidArgument(`${prefix}.${field}: longer than ${MAX_TEXT} characters`);
  }
  if (f.createdAfterUnixMs && f.createdBeforeUnixMs && f.createdAfterUnixMs >= f.createdBeforeUnixMs) {
    throw new InvalidArgument(`${prefix}.created_after_unix_ms: must be before created_before_unix_ms`);
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
  if (value > max) throw new InvalidArgument(`page_size: at most ${max}, got ${value}`);
  return value || fallback;
}

/** An opaque page token: where the page ended, bound to the query it belongs to. */
export function encodeCursorToken(cursor: IndexCursor, query: CommandQuery): string {
  return encodePageToken([cursor.score, cursor.id], query);
}

/** The cursor in a page token of this query; undefined for none. InvalidArgument for a foreign or broken token. */
export function decodeCursorToken(token: string, query: CommandQuery): IndexCursor | undefined {
  const decoded = decodePageToken(token, query);
  if (decoded === undefined) return undefined;
  if (decoded === 'foreign') throw new InvalidArgument('page_token: belongs to another filter');
  const p = decoded === 'malformed' ? undefined : decoded.position;
  if (!Array.isArray(p) || typeof p[0] !== 'number' || typeof p[1] !== 'string') throw new InvalidArgument('page_token: malformed (use next_page_token as given)');
  return { score: p[0], id: p[1] };
}
