import type { Logger } from '../shared/logger';
import type { CommandStore, RoutedEntry } from '../redis-bridge/command-store';
import type { IngressEntry } from '../redis-bridge/ingress-consumer';
import { fieldsForDeadLetter, parseIngressEntry, type EntryRules, type IngressRequest } from '../redis-bridge/ingress-entry';
import type { ReplicaBell } from '../redis-bridge/replica-bell';
import type { Delivery } from './delivery';

/** A route script call carries at most this many entries and (past its first) payload bytes. */
const ROUTE_CHUNK_ENTRIES = 100;
const ROUTE_CHUNK_BYTES = 256 * 1024;
const NOT_HANDLED = 'ingress entry not handled; it stays pending and will be reclaimed';

/**
 * Handles ingress batches: validates each entry, then routes it, cancels, or dead-letters it,
 * and rings each owner of a woken agent once per batch. Runs of valid commands are routed by
 * one script call per chunk; every call of a batch is sent in entry order without waiting in
 * between, so Redis applies them in that order (a cancel after its command sees it). An
 * entry whose script failed stays pending and is reclaimed later.
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
    const calls: Promise<void>[] = [];
    let chunk: RoutedEntry[] = [];
    let chunkBytes = 0;
    const flush = (): void => {
      if (chunk.length > 0) calls.push(this.route(chunk, owners));
      chunk = [];
      chunkBytes = 0;
    };
    for (const entry of entries) {
      let request: IngressRequest | undefined;
      try {
        request = entry.fields ? parseIngressEntry(entry.id, entry.fields, this.rules) : undefined;
      } catch (err) {
        this.logger.warn({ entryId: entry.id, err: (err as Error).message }, NOT_HANDLED);
        continue;
      }
      if (request?.kind === 'issue') {
        const bytes = Buffer.byteLength(request.command.payload);
        if (chunk.length >= ROUTE_CHUNK_ENTRIES || (chunk.length > 0 && chunkBytes + bytes > ROUTE_CHUNK_BYTES)) flush();
        chunk.push({ entryId: entry.id, command: request.command });
        chunkBytes += bytes;
        continue;
      }
      flush();
      calls.push(
        this.handleOther(entry, request, owners).catch((err: Error) =>
          this.logger.warn({ entryId: entry.id, err: err.message }, NOT_HANDLED),
        ),
      );
    }
    flush();
    await Promise.all(calls);
    for (const owner of owners) {
      if (owner === this.replicaId) void this.delivery.pollWake().catch((err: Error) => this.logger.warn({ err: err.message }, 'wake poll failed'));
      else void this.bell.ring(owner, { kind: 'mail' });
    }
  };

  private async route(chunk: RoutedEntry[], owners: Set<string>): Promise<void> {
    try {
      const outcomes = await this.store.routeBatch(chunk);
      outcomes.forEach(({ outcome, owner }, i) => {
        if (outcome === 'queued' && owner) owners.add(owner);
        else if (outcome !== 'queued') this.logger.info({ entryId: chunk[i].entryId, commandId: chunk[i].command.commandId, outcome }, 'ingress entry not queued');
      });
    } catch (err) {
      this.logger.warn({ entries: chunk.length, first: chunk[0].entryId, err: (err as Error).message }, 'ingress entries not routed; they stay pending and will be reclaimed');
    }
  }

  /** An entry that is not a valid command: deleted, invalid, or a cancel. */
  private async handleOther(entry: IngressEntry, request: IngressRequest | undefined, owners: Set<string>): Promise<void> {
    if (!entry.fields || !request) {
      // Deleted from the stream while pending: nothing left to route.
      await this.store.reject(entry.id, 'invalid', 'entry was deleted from the stream before it was handled', []);
      return;
    }
    if (request.kind === 'invalid') {
      await this.store.reject(entry.id, 'invalid', request.error, fieldsForDeadLetter(entry.fields, this.rules.dlqPayloadBytes));
      this.logger.info({ entryId: entry.id, error: request.error }, 'invalid ingress entry dead-lettered');
      return;
    }
    if (request.kind === 'cancel') {
      const { outcome, owner } = await this.store.cancel(entry.id, request.commandId, fieldsForDeadLetter(entry.fields, this.rules.dlqPayloadBytes));
      if (outcome === 'cancel_requested' && owner) owners.add(owner);
    }
  }
}
