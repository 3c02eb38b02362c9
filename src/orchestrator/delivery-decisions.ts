import { CommandOutcome, type OrchestratorMessage } from '../generated/nexus/prime/pulse';
import type { Applied, Outgoing, ResultInput } from '../redis-bridge/command-types';
import { RefusalCode, ResultCode } from '../redis-bridge/reply-codes';

/*
 * The decisions of the delivery path that need no I/O, apart so they can be read and tested
 * on their own: what an agent's outcome means, how much a result may refill, how commands
 * go on the wire, and what to do with a result batch's reply.
 */

const OUTCOMES: Partial<Record<CommandOutcome, ResultInput['outcome']>> = {
  [CommandOutcome.COMMAND_OUTCOME_SUCCEEDED]: 'succeeded',
  [CommandOutcome.COMMAND_OUTCOME_FAILED]: 'failed',
  [CommandOutcome.COMMAND_OUTCOME_CANCELLED]: 'cancelled',
};

/** The store's name for an agent's outcome; undefined for a result without one (ignored). */
export function resultOutcome(outcome: CommandOutcome): ResultInput['outcome'] | undefined {
  return OUTCOMES[outcome];
}

/** What a session looks like to these decisions. */
export interface SessionView {
  readonly agentId: string;
  readonly state: 'live' | 'draining' | 'closed';
  readonly window: number;
  readonly acceptsBatches: boolean;
  /** The stream's buffer is full (backpressure): send nothing new until 'drain'. */
  readonly needsDrain: boolean;
}

/**
 * The window a result batch may refill for a session: all of it for a live session whose
 * stream takes more; else 0 (a draining session gets nothing new; a full stream is kicked on
 * 'drain').
 */
export function refillWindow(session: SessionView): number {
  return session.state === 'live' && !session.needsDrain ? session.window : 0;
}

/** The messages that carry `commands`: one batch to an agent that takes batches, else one each. */
export function commandMessages(commands: readonly Outgoing[], acceptsBatches: boolean): OrchestratorMessage[] {
  if (commands.length > 1 && acceptsBatches) return [{ kind: { $case: 'commands', commands: { commands: [...commands] } } }];
  return commands.map((command) => ({ kind: { $case: 'command', command } }));
}

/** What to do after a result batch was applied. */
export interface AppliedPlan<S> {
  /** Sessions a newer session fenced off: close them. */
  fenced: Set<S>;
  /** Per agent, the session refills are for (one whose results were applied, not fenced). */
  current: Map<string, S>;
  /** Retries to wake for: the agent gets a run when the retry is due. */
  retries: { agentId: string; inMs: number }[];
  /** Outcome labels to count, one per result that changed something. */
  counted: string[];
}

/** Reads the applied codes of a batch, in the batch's order, into what to do next. */
export function planApplied<S extends { readonly agentId: string }>(
  batch: readonly { session: S; outcome: ResultInput['outcome'] }[],
  applied: readonly Applied[],
): AppliedPlan<S> {
  const plan: AppliedPlan<S> = { fenced: new Set(), current: new Map(), retries: [], counted: [] };
  batch.forEach(({ session, outcome }, i) => {
    const { code, retryInMs } = applied[i];
    if (code === RefusalCode.Fenced) {
      plan.fenced.add(session);
      return;
    }
    plan.current.set(session.agentId, session);
    if (code === ResultCode.Ignored) return;
    plan.counted.push(code === ResultCode.Retrying ? 'retrying' : outcome === 'failed' ? 'dead' : outcome);
    // The retry may sit behind the window's scan: its own timer brings it back when due.
    if (code === ResultCode.Retrying) plan.retries.push({ agentId: session.agentId, inMs: retryInMs });
  });
  return plan;
}
