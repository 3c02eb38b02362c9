import { createHash } from 'node:crypto';

/*
 * Page tokens of the list RPCs (ListCommands, ListDeadLetters): opaque to clients, they carry
 * where a page stopped and a fingerprint of the filter it was made for, so a token sent with
 * another filter is refused instead of silently paging something else. Any replica reads them.
 */

function fingerprint(filter: unknown): string {
  return createHash('sha256').update(JSON.stringify(filter)).digest('base64url').slice(0, 12);
}

/** A token for `position` (plain JSON) under `filter`. */
export function encodePageToken(position: unknown, filter: unknown): string {
  return Buffer.from(JSON.stringify({ p: position, f: fingerprint(filter) })).toString('base64url');
}

/**
 * The position in `token` ('' gives undefined), or why it cannot be used: `malformed` (not
 * a token of ours) or `foreign` (made for another filter). The caller checks the position's shape.
 */
export function decodePageToken(token: string, filter: unknown): { position: unknown } | 'malformed' | 'foreign' | undefined {
  if (!token) return undefined;
  let parsed: { p?: unknown; f?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    return 'malformed';
  }
  if (parsed === null || typeof parsed !== 'object' || parsed.p === undefined || typeof parsed.f !== 'string') return 'malformed';
  return parsed.f === fingerprint(filter) ? { position: parsed.p } : 'foreign';
}
