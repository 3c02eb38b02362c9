import { createHash } from 'node:crypto';
import type { DeadLetterFilter } from '../generated/nexus/prime/pulse';
import { isEntryId } from '../redis-bridge/ingress-entry';
import type { DeadLetterSelector } from '../redis-bridge/dead-letters';

/** Every reason a dead letter can have (docs/contract.md). */
export const DEAD_LETTER_REASONS = ['invalid', 'expired', 'failed', 'poison', 'mailbox_full', 'cancelled_undeliverable'] as const;

/** A request that names a field wrongly: INVALID_ARGUMENT with this text. */
export class BadArgument extends Error {}

const MAX_NAME = 128;

/** The filter as the scan script applies it; throws BadArgument naming the field. */
export function selectorOf(filter: DeadLetterFilter | undefined, field = 'filter'): DeadLetterSelector {
  const f = filter ?? { reasons: [], target: '', commandType: '' };
  f.reasons.forEach((r, i) => {
    if (!(DEAD_LETTER_REASONS as readonly string[]).includes(r)) {
      throw new BadArgument(`${field}.reasons[${i}]: unknown reason ${JSON.stringify(r.slice(0, 40))} (one of ${DEAD_LETTER_REASONS.join(', ')})`);
    }
  });
  if (f.target.length > MAX_NAME) throw new BadArgument(`${field}.target: longer than ${MAX_NAME} characters`);
  if (f.commandType.length > MAX_NAME) throw new BadArgument(`${field}.command_type: longer than ${MAX_NAME} characters`);
  return { reasons: [...new Set(f.reasons)].sort(), target: f.target, commandType: f.commandType };
}

/** Ids or filter, exactly one; the ids checked (at most `max`, each an entry id) and deduplicated. */
export function idsOrFilter(ids: readonly string[], filter: DeadLetterFilter | undefined, max: number): { ids: string[] } | { selector: DeadLetterSelector } {
  if (ids.length > 0 && filter) throw new BadArgument('ids and filter: give one of them, not both');
  if (ids.length === 0 && !filter) throw new BadArgument('ids or filter is required (an empty filter selects every dead letter)');
  if (filter) return { selector: selectorOf(filter) };
  if (ids.length > max) throw new BadArgument(`ids: at most ${max} per request, got ${ids.length}`);
  ids.forEach((id, i) => {
    if (!isEntryId(id)) throw new BadArgument(`ids[${i}]: ${JSON.stringify(id.slice(0, 40))} is not a dead letter id (<ms>-<seq>)`);
  });
  return { ids: [...new Set(ids)] };
}

function filterHash(s: DeadLetterSelector): string {
  return createHash('sha256').update(JSON.stringify([s.reasons, s.target, s.commandType])).digest('base64url').slice(0, 12);
}

/** An opaque page token: where the last page stopped, bound to the filter it was made for. */
export function pageToken(after: string, s: DeadLetterSelector): string {
  return Buffer.from(JSON.stringify({ a: after, f: filterHash(s) })).toString('base64url');
}

/** The entry id a page token continues after ('' for none); BadArgument naming page_token. */
export function pageStart(token: string, s: DeadLetterSelector): string {
  if (!token) return '';
  let parsed: { a?: unknown; f?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { a?: unknown; f?: unknown };
  } catch {
    throw new BadArgument('page_token is not a token from a previous ListDeadLetters response');
  }
  if (typeof parsed?.a !== 'string' || !isEntryId(parsed.a) || typeof parsed.f !== 'string') {
    throw new BadArgument('page_token is not a token from a previous ListDeadLetters response');
  }
  if (parsed.f !== filterHash(s)) throw new BadArgument('page_token was made for another filter: send the same filter, or start again without a token');
  return parsed.a;
}
