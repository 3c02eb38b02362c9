import type { DeadLetterFilter } from '../generated/nexus/prime/pulse';
import { isEntryId } from '../redis-bridge/ingress-entry';
import type { DeadLetterSelector } from '../redis-bridge/dead-letters';
import { InvalidArgument } from './invalid-argument';
import { decodePageToken, encodePageToken } from './page-token';

/** Every reason a dead letter can have (docs/contract.md). */
export const DEAD_LETTER_REASONS = ['invalid', 'expired', 'failed', 'poison', 'mailbox_full', 'cancelled_undeliverable'] as const;


const MAX_NAME = 128;

/** The filter as the scan script applies it; throws InvalidArgument naming the field. */
export function selectorOf(filter: DeadLetterFilter | undefined, field = 'filter'): DeadLetterSelector {
  const f = filter ?? { reasons: [], target: '', commandType: '' };
  f.reasons.forEach((r, i) => {
    if (!(DEAD_LETTER_REASONS as readonly string[]).includes(r)) {
      throw new InvalidArgument(`${field}.reasons[${i}]: unknown reason ${JSON.stringify(r.slice(0, 40))} (one of ${DEAD_LETTER_REASONS.join(', ')})`);
    }
  });
  if (f.target.length > MAX_NAME) throw new InvalidArgument(`${field}.target: longer than ${MAX_NAME} characters`);
  if (f.commandType.length > MAX_NAME) throw new InvalidArgument(`${field}.command_type: longer than ${MAX_NAME} characters`);
  return { reasons: [...new Set(f.reasons)].sort(), target: f.target, commandType: f.commandType };
}

/** Ids or filter, exactly one; the ids checked (at most `max`, each an entry id) and deduplicated. */
export function idsOrFilter(ids: readonly string[], filter: DeadLetterFilter | undefined, max: number): { ids: string[] } | { selector: DeadLetterSelector } {
  if (ids.length > 0 && filter) throw new InvalidArgument('ids and filter: give one of them, not both');
  if (ids.length === 0 && !filter) throw new InvalidArgument('ids or filter is required (an empty filter selects every dead letter)');
  if (filter) return { selector: selectorOf(filter) };
  if (ids.length > max) throw new InvalidArgument(`ids: at most ${max} per request, got ${ids.length}`);
  ids.forEach((id, i) => {
    if (!isEntryId(id)) throw new InvalidArgument(`ids[${i}]: ${JSON.stringify(id.slice(0, 40))} is not a dead letter id (<ms>-<seq>)`);
  });
  return { ids: [...new Set(ids)] };
}

const NOT_OURS = 'page_token is not a token from a previous ListDeadLetters response';

/** An opaque page token: where the last page stopped, bound to the filter it was made for. */
export function pageToken(after: string, s: DeadLetterSelector): string {
  return encodePageToken(after, s);
}

/** The entry id a page token continues after ('' for none); InvalidArgument naming page_token. */
export function pageStart(token: string, s: DeadLetterSelector): string {
  const decoded = decodePageToken(token, s);
  if (decoded === undefined) return '';
  if (decoded === 'foreign') throw new InvalidArgument('page_token was made for another filter: send the same filter, or start again without a token');
  if (decoded === 'malformed' || typeof decoded.position !== 'string' || !isEntryId(decoded.position)) throw new InvalidArgument(NOT_OURS);
  return decoded.position;
}
