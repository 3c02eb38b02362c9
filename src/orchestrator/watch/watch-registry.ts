import { status } from '@grpc/grpc-js';
import type { Gauge } from 'prom-client';

/** The kinds of watch a replica serves. */
export type WatchKind = 'command' | 'events';

/** What the registry needs of a watch: a way to end it with a status. */
export interface OpenWatch {
  readonly kind: WatchKind;
  fail(code: status, reason: string): void;
}

/**
 * The watches open on this replica: admits up to MAX_WATCHERS (both kinds together), keeps
 * the open-watchers gauge, and ends them all on drain.
 */
export class WatchRegistry {
  private readonly open = new Set<OpenWatch>();
  private closed = false;

  constructor(private readonly max: number, private readonly gauge: Gauge<'kind'>) {
    gauge.labels('command').set(0);
    gauge.labels('events').set(0);
  }

  /** Why a new watch is refused (code and details), or undefined when it may open. */
  refusal(): { code: status; details: string } | undefined {
    if (this.closed) return { code: status.UNAVAILABLE, details: 'replica draining; watch on another replica' };
    if (this.open.size >= this.max) return { code: status.RESOURCE_EXHAUSTED, details: `this replica serves at most ${this.max} watchers (MAX_WATCHERS); retry later or on another replica` };
    return undefined;
  }

  add(watch: OpenWatch): void {
    this.open.add(watch);
    this.gauge.labels(watch.kind).inc();
  }

  remove(watch: OpenWatch): void {
    if (this.open.delete(watch)) this.gauge.labels(watch.kind).dec();
  }

  get size(): number {
    return this.open.size;
  }

  /** Refuses new watches and ends every open one with UNAVAILABLE and its resume position. */
  closeAll(): void {
    this.closed = true;
    for (const watch of [...this.open]) watch.fail(status.UNAVAILABLE, 'replica draining; resume elsewhere');
  }
}
