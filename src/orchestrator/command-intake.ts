import type { Logger } from '../shared/logger';
import type { CommandStore } from '../redis-bridge/command-store';
import type { IngressEntry } from '../redis-bridge/ingress-consumer';
import { fieldsForDeadLetter, parseIngressEntry, type EntryRules } from '../redis-bridge/ingress-entry';
import type { ReplicaBell } from '../redis-bridge/replica-bell';
import type { Delivery } from './delivery';

/**
 * Handles ingress batches: validates each entry, then routes it, cancels, or dead-letters it
 * (one fenced script each, all sent before any reply is awaited, so Redis applies them in
 * entry order), and rings each owner of a woken agent once per batch. An entry whose script failed stays pending and is reclaimed later.
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
    await Promise.all(
      entries.map((entry) =>
        this.handleOne(entry, owners).catch((err: Error) =>
          this.logger.warn({ entryId: entry.id, err: err.message }, 'ingress entry not handled; it stays pending and will be reclaimed'),
        ),
      ),
    );
    for (const owner of owners) {
      if (owner === this.replicaId) void this.delivery.pollWake().catch((err: Error) => this.logger.warn({ err: err.message }, 'wake poll failed'));
      else void this.bell.ring(owner, { kind: 'mail' });
    }
  };

  private async handleOne(entry: IngressEntry, owners: Set<string>): Promise<void> {
    if (!entry.fields) {
      // Deleted from the stream while pending: nothing left to route.
      await this.store.reject(entry.id, 'invalid', 'entry was deleted from the stream before it was handled', []);
      return;
    }
    const request = parseIngressEntry(entry.id, entry.fields, this.rules);
    switch (request.kind) {
      case 'invalid': {
        await this.store.reject(entry.id, 'invalid', request.error, fieldsForDeadLetter(entry.fields, this.rules.dlqPayloadBytes));
        this.logger.info({ entryId: entry.id, error: request.error }, 'invalid ingress entry dead-lettered');
        return;
      }
      case 'cancel': {
        const { outcome, owner } = await this.store.cancel(entry.id, request.commandId, fieldsForDeadLetter(entry.fields, this.rules.dlqPayloadBytes));
        if (outcome === 'cancel_requested' && owner) owners.add(owner);
        return;
      }
      case 'issue': {
        const { outcome, owner } = await this.store.route(entry.id, request.command);
        if (outcome === 'queued' && owner) owners.add(owner);
        else if (outcome !== 'queued') this.logger.info({ entryId: entry.id, commandId: request.command.commandId, outcome }, 'ingress entry not queued');
        return;
      }
    }
  }
}
