import type { CommandResult } from '../generated/nexus/prime/pulse';

/**
 * Results of recent command runs by command id, so a redelivered command (after a reconnect
 * or a reclaim) returns its result without running again. Least recently stored entries
 * are evicted beyond `capacity` (a Map keeps insertion order).
 */
export class ResultCache {
  private readonly results = new Map<string, CommandResult>();

  constructor(private readonly capacity: number) {}

  get(commandId: string): CommandResult | undefined {
    return this.results.get(commandId);
  }

  set(result: CommandResult): void {
    this.results.delete(result.commandId);
    this.results.set(result.commandId, result);
    if (this.results.size > this.capacity) {
      const oldest = this.results.keys().next().value;
      if (oldest !== undefined) this.results.delete(oldest);
    }
  }

  get size(): number {
    return this.results.size;
  }
}
