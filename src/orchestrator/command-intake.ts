import type { Logger } from '../shared/logger';
import type { CommandStore } from '../redis-bridge/command-store';
import { redriveRequest, type DeadLetterEntry } from '../redis-bridge/dead-letter-redrive';
import type { DeadLetters } from '../redis-bridge/dead-letters';
import type { RoutedEntry, RouteResult } from '../redis-bridge/command-types';
import { firstDelivery } from '../redis-bridge/command-wire';
import type { IngressEntry } from '../redis-bridge/ingress-consumer';
import { fieldsForDeadLetter, parseIngressEntry, type EntryRules, type IngressRequest } from '../redis-bridge/ingress-entry';
import type { ReplicaBell } from '../redis-bridge/replica-bell';
import type { FanoutStore } from '../redis-bridge/fanout-store';
import type { DeliveryRuns } from './delivery-runs';
import type { FanoutDriver } from './fanout-driver';

/**
 * A route script call carries at most this many entries and (past its first) this many
 * payload characters. Batching pays for small commands (the per-call cost dominates); big
 * payloads go one per call: F18's 10,000 x 4 KB commands grew the replica's heap by 8-16 MB
 * when routed 4 or 15 to a call, and not at all (0.1-0.3 MB) one to a call.
 */
const ROUTE_CHUNK_ENTRIES = 100;
const ROUTE_CHUNK_CHARS = 4096;
const NOT_HANDLED = 'ingress entry not handled; it stays pending and will be reclaimed';

/**
 * Handles ingress batches: validates each entry, then routes it, cancels, or dead-letters it,
 * and rings each owner of a woken agent once per batch. Runs of valid commands are routed by
 * one script call per chunk; every call of a batch is sent before any reply is awaited, so
 * Redis applies them in entry order (a cancel after its command sees it). A redrive
 * (`command_redrive`) becomes the command its dead letter holds: the batch's dead letters are
 * read first, in one round trip before any script call, so that order still holds. An entry
 * with a `selector` is planned by its own script call (planFanout) and its children launched
 * by the FanoutDriver. An entry whose script failed stays pending and is reclaimed later.
 */
export class CommandIntake {
  constructor(
    private readonly store: CommandStore,
    private readonly rules: EntryRules & { readonly dlqPayloadBytes: number },
    private readonly delivery: DeliveryRuns,
    private readonly bell: ReplicaBell,
    private readonly replicaId: string,
    private readonly logger: Logger,
    private readonly deadLetters: DeadLetters,
    private readonly fanouts: FanoutStore,
    private readonly driver: FanoutDriver,
  ) {}

  readonly handleBatch = async (entries: IngressEntry[]): Promise<void> => {
    const owners = new Set<string>();
    const calls: Promise<void>[] = [];
    let chunk: RoutedEntry[] = [];
    let chunkChars = 0;
    const flush = (): void => {
      if (chunk.length > 0) calls.push(this.route(chunk, owners));
      chunk = [];
      chunkChars = 0;
    };
    const requests: (IngressRequest | undefined | null)[] = entries.map((entry) => {
      try {
        return entry.fields ? parseIngressEntry(entry.id, entry.fields, this.rules) : undefined;
      } catch (err) {
        this.logger.warn({ entryId: entry.id, err: (err as Error).message }, NOT_HANDLED);
        return null;
      }
    });
    const dead = await this.readDeadLetters(requests);
    entries.forEach((entry, i) => {
      let request = requests[i];
      if (request === null) return;
      if (request?.kind === 'redrive') {
        const letter = dead.get(request.deadLetterId);
        // Not read (Redis failed): the entry stays pending and is reclaimed.
        if (letter === null) return;
        request = letter
          ? redriveRequest(letter, request.commandId, request.requestedBy, this.rules)
          : { kind: 'invalid', error: `dead_letter_id: no dead letter ${request.deadLetterId}` };
      }
      if (request?.kind === 'issue') {
        const chars = request.command.payload.length;
        if (chunk.length >= ROUTE_CHUNK_ENTRIES || (chunk.length > 0 && chunkChars + chars > ROUTE_CHUNK_CHARS)) flush();
        chunk.push({ entryId: entry.id, command: request.command });
        chunkChars += chars;
        return;
      }
      flush();
      if (request?.kind === 'targeted') {
        calls.push(this.plan(entry, request).catch((err: Error) => this.logger.warn({ entryId: entry.id, err: err.message }, NOT_HANDLED)));
        return;
      }
      calls.push(this.handleOther(entry, request, owners).catch((err: Error) => this.logger.warn({ entryId: entry.id, err: err.message }, NOT_HANDLED)));
    });
    flush();
    await Promise.all(calls);
    for (const owner of owners) {
      if (owner === this.replicaId) void this.delivery.pollWake().catch((err: Error) => this.logger.warn({ err: err.message }, 'wake poll failed'));
      else void this.bell.ring(owner, { kind: 'mail' });
    }
  };

  /**
   * The dead letters the batch's redrives name (undefined: not in the DLQ); null for each
   * when Redis could not be read, so those entries stay pending.
   */
  private async readDeadLetters(requests: readonly (IngressRequest | undefined | null)[]): Promise<Map<string, DeadLetterEntry | undefined | null>> {
    const ids = [...new Set(requests.flatMap((r) => (r?.kind === 'redrive' ? [r.deadLetterId] : [])))];
    const found = new Map<string, DeadLetterEntry | undefined | null>();
    if (ids.length === 0) return found;
    try {
      (await this.deadLetters.get(ids)).forEach((letter, i) => found.set(ids[i], letter));
    } catch (err) {
      this.logger.warn({ redrives: ids.length, err: (err as Error).message }, NOT_HANDLED);
      for (const id of ids) found.set(id, null);
    }
    return found;
  }

  private async route(chunk: RoutedEntry[], owners: Set<string>): Promise<void> {
    let outcomes: RouteResult[];
    try {
      outcomes = await this.store.routeBatch(chunk);
    } catch (err) {
      this.logger.warn({ entries: chunk.length, first: chunk[0].entryId, err: (err as Error).message }, NOT_HANDLED);
      // The script may have run all the same and delivered some of them to sessions here.
      this.delivery.resendSoon(chunk.map((e) => e.command.target));
      return;
    }
    outcomes.forEach(({ outcome, owner, epoch, expireAt, reason }, i) => {
      const { entryId, command } = chunk[i];
      if (outcome === 'delivered') {
        // Delivered at once; another owner had it pushed over its bell.
        if (owner === this.replicaId) this.delivery.sendRouted(command.target, epoch, [firstDelivery(command, expireAt)]);
      } else if (outcome === 'queued') {
        if (owner) owners.add(owner);
      } else if (outcome === 'error') {
        this.logger.warn({ entryId, commandId: command.commandId, target: command.target, err: reason }, NOT_HANDLED);
      } else {
        this.logger.info({ entryId, commandId: command.commandId, outcome }, 'ingress entry not queued');
      }
    });
  }

  /** An entry with a `selector`: a fan-out is recorded and then launched; `pick any` is placed or waits. */
  private async plan(entry: IngressEntry, request: Extract<IngressRequest, { kind: 'targeted' }>): Promise<void> {
    const { command, spec } = request;
    const result = await this.fanouts.plan(entry.id, command, spec, fieldsForDeadLetter(entry.fields ?? [], this.rules.dlqPayloadBytes));
    if (result.outcome === 'planned') this.driver.kick(command.commandId);
    else if (result.outcome === 'placed') this.driver.dispatch([result.admitted]);
    else if (result.outcome === 'error') this.logger.warn({ entryId: entry.id, commandId: command.commandId, err: result.error }, NOT_HANDLED);
    else if (result.outcome !== 'waiting') this.logger.info({ entryId: entry.id, commandId: command.commandId, outcome: result.outcome }, 'targeted entry not planned');
  }

  /** An entry that is not a valid command: deleted, invalid, or a cancel. */
  private async handleOther(entry: IngressEntry, request: Exclude<IngressRequest, { kind: 'issue' | 'redrive' | 'targeted' }> | undefined, owners: Set<string>): Promise<void> {
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
    const { outcome, owner } = await this.store.cancel(entry.id, request.commandId, request.requestedBy, request.reason, fieldsForDeadLetter(entry.fields, this.rules.dlqPayloadBytes));
    if (outcome === 'cancel_requested' && owner) owners.add(owner);
  }
}
