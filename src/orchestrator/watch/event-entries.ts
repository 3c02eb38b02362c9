import { CommandState, type ChildOutcome, type CommandEvent, type LifecycleEvent, type WatchCommandResponse } from '../../generated/nexus/prime/pulse';
import type { EventType } from '../../redis-bridge/event-log';

/** One entry of the events stream: its id and fields as written. */
export interface RawEvent {
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** Every event type of the contract (kept equal to EventType by the compiler). */
const TYPES: Record<EventType, true> = {
  command_queued: true, command_delivered: true, command_succeeded: true, command_failed: true,
  command_retrying: true, command_dead: true, command_cancelled: true,
  agent_connected: true, agent_disconnected: true, agent_stale: true,
  replica_up: true, replica_down: true,
  dead_letters_purged: true,
  dampening_started: true, dampening_ended: true,
};

/** The event types a WatchEvents filter may name. */
export const EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(TYPES));

/** Command events -> the step names of the timeline. */
const STEP_NAMES: Readonly<Record<string, string>> = {
  command_queued: 'queued',
  command_delivered: 'delivered',
  command_succeeded: 'succeeded',
  command_failed: 'failed',
  command_retrying: 'retrying',
  command_dead: 'dead',
  command_cancelled: 'cancelled',
};

/** Events after which a command changes no more (a failure that is final is followed by `command_dead`). */
export const TERMINAL_EVENTS: ReadonlySet<string> = new Set(['command_succeeded', 'command_dead', 'command_cancelled']);

/** A fan-out parent's own last event (it emits one, with `agent_id` '', when its children are all done). */
export const PARENT_TERMINAL_EVENTS: ReadonlySet<string> = new Set(['command_succeeded', 'command_failed', 'command_dead', 'command_cancelled']);

/**
 * A child's events that say how it ended. Not `command_failed`: that is one failed attempt,
 * followed by `command_retrying` or, when final, by `command_dead` with reason `failed`.
 */
export const CHILD_OUTCOME_EVENTS: ReadonlySet<string> = TERMINAL_EVENTS;

/** An XRANGE/XREAD entry (`[id, [k, v, k, v, ...]]`) as a RawEvent. */
export function rawEvent([id, flat]: [string, string[]]): RawEvent {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
  return { id, fields };
}

/** An events-stream entry as WatchEvents sends it. */
export function lifecycleEvent(e: RawEvent): LifecycleEvent {
  const f = e.fields;
  return {
    id: e.id,
    type: f.type ?? '',
    commandId: f.command_id ?? '',
    agentId: f.agent_id ?? '',
    replicaId: f.replica ?? '',
    atUnixMs: Number(f.ts ?? 0) || 0,
    fields: { ...f },
  };
}

/** Whether `e` is a step of a command's life (a command_* event). */
export function isCommandStep(e: RawEvent): boolean {
  return STEP_NAMES[e.fields.type ?? ''] !== undefined;
}

/** A command event as a timeline step (the same names GetCommand's timeline uses). */
export function stepOf(e: RawEvent): CommandEvent {
  const f = e.fields;
  const type = f.type ?? '';
  let detail = '';
  if (type === 'command_failed') detail = f.error ?? '';
  else if (type === 'command_dead') detail = [f.reason, f.error].filter(Boolean).join(': ');
  else if (type === 'command_retrying') detail = f.retry_at ? `retry at ${f.retry_at}` : '';
  else if (f.by) detail = `by ${f.by}`;
  // A fan-out parent's events: what it planned, and how its children ended.
  if (!detail && type === 'command_queued' && f.selector !== undefined) detail = `selector ${f.selector}: ${f.matched ?? 0} matched, ${f.skipped ?? 0} skipped`;
  if (!detail && f.summary) detail = f.summary;
  return { event: STEP_NAMES[type] ?? type, atUnixMs: Number(f.ts ?? 0) || 0, replicaId: f.replica ?? '', attempt: Number(f.attempt ?? 0) || 0, detail };
}

/** A progress/log stream entry (format in keys.commandLog) as a message; undefined for an unknown kind. */
export function logEntryOf(e: RawEvent): WatchCommandResponse['kind'] {
  const f = e.fields;
  const at = Number(f.at ?? 0) || 0;
  const attempt = Number(f.attempt ?? 0) || 0;
  if (f.kind === 'log') return { $case: 'log', log: { line: f.line ?? '', atUnixMs: at, attempt } };
  if (f.kind === 'progress') return { $case: 'progress', progress: { percent: Number(f.percent ?? 0) || 0, message: f.message ?? '', atUnixMs: at, attempt } };
  return undefined;
}

/**
 * A child's terminal event (CHILD_OUTCOME_EVENTS) as a parent's watch sends it. The agent is
 * the event's `agent_id`, or the child id's part after `<parent id>/` (`command_dead` has none).
 */
export function childOutcomeOf(e: RawEvent, parentId: string): ChildOutcome {
  const f = e.fields;
  const id = f.command_id ?? '';
  const type = f.type ?? '';
  let state = CommandState.COMMAND_STATE_UNSPECIFIED;
  let error = f.error ?? '';
  if (type === 'command_succeeded') state = CommandState.COMMAND_STATE_SUCCEEDED;
  else if (type === 'command_cancelled') state = CommandState.COMMAND_STATE_CANCELLED;
  else if (type === 'command_dead' && f.reason === 'failed') state = CommandState.COMMAND_STATE_FAILED;
  else if (type === 'command_dead') {
    state = CommandState.COMMAND_STATE_DEAD;
    error = [f.reason, f.error].filter(Boolean).join(': ');
  }
  const agentId = f.agent_id || (id.startsWith(`${parentId}/`) ? id.slice(parentId.length + 1) : '');
  return { commandId: id, agentId, state, error, atUnixMs: Number(f.ts ?? 0) || 0, replicaId: f.replica ?? '' };
}
