import type { CommandAck } from '../generated/nexus/prime/pulse';

/**
 * How long a replica holds an agent's ack before recording it: a result that follows in time
 * records the receipt in its own script (one Redis call per command less); a command that
 * runs longer gets its ack recorded alone. (Agents hold their own acks too, see
 * AGENT_ACK_HOLD_MS in src/agent/command-runner.ts.)
 */
export const ACK_RECORD_DELAY_MS = 50;

/**
 * Acks held back per (agent, command), at most one window per session. A held ack is
 * dropped when the command's result arrives (the result stands for it).
 */
export class AckHolder {
  private readonly held = new Map<string, NodeJS.Timeout>();

  /** @param record writes one ack (timeline only); its errors are the caller's to log. */
  constructor(private readonly record: (agentId: string, ack: CommandAck) => void) {}

  /** Holds an ack; records it after ACK_RECORD_DELAY_MS unless the result comes first. */
  hold(agentId: string, ack: CommandAck): void {
    const key = heldKey(agentId, ack.commandId);
    clearTimeout(this.held.get(key));
    const timer = setTimeout(() => {
      this.held.delete(key);
      this.record(agentId, ack);
    }, ACK_RECORD_DELAY_MS);
    timer.unref();
    this.held.set(key, timer);
  }

  /** The command's result arrived: its held ack, if any, is not recorded on its own. */
  settle(agentId: string, commandId: string): void {
    const key = heldKey(agentId, commandId);
    const timer = this.held.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.held.delete(key);
  }

  /** Acks held now. */
  get size(): number {
    return this.held.size;
  }

  /** Drops every held ack (the results that follow, or a redelivery, record receipt). Idempotent. */
  close(): void {
    for (const t of this.held.values()) clearTimeout(t);
    this.held.clear();
  }
}

function heldKey(agentId: string, commandId: string): string {
  return `${agentId}\u0000${commandId}`;
}
