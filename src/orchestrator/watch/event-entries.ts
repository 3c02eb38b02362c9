import type { CommandEvent, LifecycleEvent, WatchCommandResponse } from '../../generated/nexus/prime/pulse';
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
