import { CommandState } from '../generated/nexus/prime/pulse';

/** Record state names (as the scripts write them) and the proto's CommandState, both ways. */
export const STATE_OF_RECORD: Readonly<Record<string, CommandState>> = Object.freeze({
  queued: CommandState.COMMAND_STATE_QUEUED,
  delivered: CommandState.COMMAND_STATE_DELIVERED,
  retrying: CommandState.COMMAND_STATE_RETRYING,
  succeeded: CommandState.COMMAND_STATE_SUCCEEDED,
  failed: CommandState.COMMAND_STATE_FAILED,
  dead: CommandState.COMMAND_STATE_DEAD,
  cancelled: CommandState.COMMAND_STATE_CANCELLED,
});

export const RECORD_OF_STATE: ReadonlyMap<CommandState, string> = new Map(Object.entries(STATE_OF_RECORD).map(([name, state]) => [state, name]));

/** Record states after which nothing more happens to a command. */
export const FINISHED_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'dead', 'cancelled']);

/** States a command can still leave (a cancel applies to these). */
export const UNFINISHED_STATES: readonly string[] = Object.freeze(['queued', 'delivered', 'retrying']);
