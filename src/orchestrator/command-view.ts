import { CommandState, type CommandEvent, type GetCommandResponse } from '../generated/nexus/prime/pulse';
import { STATE_OF_RECORD } from './command-states';


/**
 * A command record (its hash, `timeline` as stored: JSON steps, one per line) as GetCommand
 * answers it. Shared by GetCommand and WatchCommand's snapshot so both say the same thing.
 */
export function commandView(record: Readonly<Record<string, string>>): GetCommandResponse {
  const r = record;
  return {
    commandId: r.command_id ?? '',
    state: STATE_OF_RECORD[r.state] ?? CommandState.COMMAND_STATE_UNSPECIFIED,
    target: r.target ?? '',
    commandType: r.command_type ?? '',
    priority: Number(r.priority ?? 0),
    attempts: Number(r.attempt ?? 0),
    maxAttempts: Number(r.max_attempts ?? 0),
    handledBy: r.handled_by ?? '',
    deliveredBy: r.delivered_by ?? '',
    output: r.output ?? '',
    error: r.error ?? '',
    deadReason: r.dead_reason ?? '',
    correlationId: r.correlation_id ?? '',
    timeline: r.timeline ? r.timeline.split('\n').map(parseStep) : [],
    progress: progressOf(r),
    redriveOf: r.redrive_of ?? '',
    parentId: r.parent_id ?? '',
    createdAtUnixMs: Number(r.queued_at ?? 0),
    finishedAtUnixMs: Number(r.finished_at ?? 0),
    // The route script records the ingress field `requested_by` under that name.
    submittedBy: r.requested_by ?? '',
    selector: r.selector ?? '',
    pick: r.pick ?? '',
    // A fan-out parent's summary needs more than the record (skipped agents, children): see fanout-view.ts.
    fanout: undefined,
  };
}

/** The newest progress an agent reported (ctx.progress), or undefined when none was. */
export function progressOf(r: Readonly<Record<string, string | null | undefined>>): GetCommandResponse['progress'] {
  if (r.progress_at === undefined || r.progress_at === null) return undefined;
  return {
    percent: Number(r.progress_percent ?? 0) || 0,
    message: r.progress_message ?? '',
    atUnixMs: Number(r.progress_at) || 0,
    attempt: Number(r.progress_attempt ?? 0) || 0,
  };
}

/** One stored timeline step (JSON) as a CommandEvent; an unreadable one says so. */
export function parseStep(text: string): CommandEvent {
  try {
    const s = JSON.parse(text) as { event?: string; at?: number; replica?: string; attempt?: number; detail?: string };
    return { event: s.event ?? '', atUnixMs: s.at ?? 0, replicaId: s.replica ?? '', attempt: s.attempt ?? 0, detail: s.detail ?? '' };
  } catch {
    return { event: 'unreadable', atUnixMs: 0, replicaId: '', attempt: 0, detail: text.slice(0, 200) };
  }
}
