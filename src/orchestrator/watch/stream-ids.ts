/**
 * Redis stream entry ids (`<ms>-<seq>`) as watch positions: validated, normalized and
 * compared without floating point (a sequence may exceed 2^53).
 */

const STREAM_ID = /^(\d{1,20})(?:-(\d{1,20}))?$/;
const U64_MAX = (1n << 64n) - 1n;

/** The id with no leading zeros and an explicit sequence, or undefined when it is not a stream id. */
export function normalizeStreamId(text: string): string | undefined {
  const m = STREAM_ID.exec(text);
  if (!m) return undefined;
  const ms = BigInt(m[1]);
  const seq = BigInt(m[2] ?? '0');
  if (ms > U64_MAX || seq > U64_MAX) return undefined;
  return `${ms}-${seq}`;
}

/** Orders two normalized ids: negative, zero or positive. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  if (am.length !== bm.length) return am.length - bm.length;
  if (am !== bm) return am < bm ? -1 : 1;
  if (as.length !== bs.length) return as.length - bs.length;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** The greatest id below `id` (to resume "just before" an entry); `0-0` stays `0-0`. */
export function streamIdBefore(id: string): string {
  const [ms, seq] = id.split('-').map(BigInt);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-${U64_MAX}`;
  return '0-0';
}

/** Where a WatchCommand stands: the last events-stream id and the last log-stream id it has passed. */
export interface CommandPosition {
  readonly events: string;
  readonly log: string;
}

/** `<events id>/<log id>`: opaque to clients, who send it back as `after`. */
export function formatPosition(p: CommandPosition): string {
  return `${p.events}/${p.log}`;
}

/** A position from `formatPosition`, or undefined when `text` is not one. */
export function parsePosition(text: string): CommandPosition | undefined {
  const parts = text.split('/');
  if (parts.length !== 2) return undefined;
  const events = normalizeStreamId(parts[0]);
  const log = normalizeStreamId(parts[1]);
  return events && log ? { events, log } : undefined;
}
