import type { Logger } from '../shared/logger';
import type { CommandStore } from '../redis-bridge/command-store';
import type { IngressEntry } from '../redis-bridge/ingress-consumer';
import { fieldsForDeadLetter, parseIngressEntry, type EntryRules, type IngressRequest, type NewCommand } from '../redis-bridge/ingress-entry';
import type { ReplicaBell } from '../redis-bridge/replica-bell';
import type { Delivery } from './delivery';

/** New commands routed per script call, and their payload bytes: bounds how long one call holds Redis and how big a request is. */
const ROUTE_CHUNK = 256;
const ROUTE_CHUNK_BYTES = 256 * 1024;

/**
 * Handles ingress batches: validates each entry; routes the new commands of a batch in one
 * fenced script call, and cancels or dead-letters the rest (one script each, rare). Rings
 * each owner of a woken agent once per batch. An entry whose script failed stays pending and
 * is reclaimed later.
 */
export class CommandIntake {
  constructor(
    private readonly store: CommandStore,
    private readonly rules: EntryRules & { readonly dlqPayloadBytes: number },
    private readonly delivery: Delivery,
    private readonly bell: ReplicaBell,
    private readonly replicaId: string,
    private readonly logger: Logger,
  ) {}

  readonly handleBatch = async (entries: IngressEntry[]): Promise<void> => {
    const owners = new Set<string>();
    const issues: { entryId: string; command: NewCommand }[] = [];
    const others: Promise<void>[] = [];
    for (const entry of entries) {
      const request = entry.fields ? parseIngressEntry(entry.id, entry.fields, this.rules) : undefined;
      if (request?.kind === 'issue') issues.push({ entryId: entry.id, command: request.command });
      else others.push(this.handleOther(entry, request, owners).catch((err: Error) => this.leftPending(entry.id, err)));
    }
    for (const chunk of chunks(issues)) {
      others.push(this.route(chunk, owners).catch((err: Error) => this.leftPending(`${chunk[0].entryId}..${chunk[chunk.length - 1].entryId}`, err)));
    }
    await Promise.all(others);
    for (const owner of owners) {
      if (owner === this.replicaId) void this.delivery.pollWake().catch((err: Error) => this.logger.warn({ err: err.message }, 'wake poll failed'));
      else void this.bell.ring(owner, { kind: 'mail' });
    }
  };

  private leftPending(entryId: string, err: Error): void {
    this.logger.warn({ entryId, err: err.message }, 'ingress entry not handled; it stays pending and will be reclaimed');
  }

  private async route(chunk: { entryId: string; command: NewCommand }[], owners: Set<string>): Promise<void> {
    const routed = await this.store.route(chunk);
    for (const owner of routed.owners) owners.add(owner);
    routed.outcomes.forEach((outcome, i) => {
      if (outcome !== 'queued') this.logger.info({ entryId: chunk[i].entryId, commandId: chunk[i].command.commandId, outcome }, 'ingress entry not queued');
    });
  }

  /** Entries that are not new commands: deleted, invalid, or cancels (rare; one script each). */
  private async handleOther(entry: IngressEntry, request: IngressRequest | undefined, owners: Set<string>): Promise<void> {
    if (!entry.fields || !request) {
      // Deleted from the stream while pending: nothing left to route.
      await this.store.reject(entry.id, 'invalid', 'entry was deleted from the stream before it was handled', []);
      return;
    }
    if (request.kind === 'invalid') {
      await this.store.reject(entry.id, 'invalid', request.error, fieldsForDeadLetter(entry.fields, this.rules.dlqPayloadBytes));
      this.logger.info({ entryId: entry.id, error: request.error }, 'invalid ingress entry dead-lettered');
    } else if (request.kind === 'cancel') {
      const { outcome, owner } = await this.store.cancel(entry.id, request.commandId, fieldsForDeadLetter(entry.fields, this.rules.dlqPayloadBytes));
      if (outcome === 'cancel_requested' && owner) owners.add(owner);
    }
  }
}

/** Splits new commands into route calls of at most ROUTE_CHUNK entries and about ROUTE_CHUNK_BYTES of payload. */
function chunks(issues: { entryId: string; command: NewCommand }[]): { entryId: string; command: NewCommand }[][] {
  const out: { entryId: string; command: NewCommand }[][] = [];
  let current: { entryId: string; command: NewCommand }[] = [];
  let bytes = 0;
  for (const issue of issues) {
    if (current.length > 0 && (current.length >= ROUTE_CHUNK || bytes + issue.command.payload.length > ROUTE_CHUNK_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(issue);
    bytes += issue.command.payload.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}
