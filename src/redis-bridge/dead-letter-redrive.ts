import { parseIngressEntry, type EntryRules, type IngressRequest } from './ingress-entry';

/** A dead letter as read from `nexus:commands:dlq`: its entry id and fields. */
export interface DeadLetterEntry {
  id: string;
  fields: Record<string, string>;
}

/**
 * The command id a redrive of `dead` gets unless the redrive names one: the original command
 * id (a dead letter without one came from an entry whose id was its command id) with
 * `:redrive:<dead letter id>`, so the same redrive twice is the same command and runs once.
 */
export function redriveCommandId(dead: DeadLetterEntry): string {
  return `${dead.fields.command_id || dead.fields.source_id || dead.id}:redrive:${dead.id}`;
}

/** Why `dead` cannot be run again ('' when it can): the command must be whole. */
export function redriveProblem(dead: DeadLetterEntry): string {
  const f = dead.fields;
  const type = f.type ?? 'command_issued';
  if (type !== 'command_issued') return `dead letter ${dead.id} is a ${type} entry, not a command`;
  if (!f.target && !f.selector) return `dead letter ${dead.id} has no target`;
  if (!f.command_type) return `dead letter ${dead.id} has no command_type`;
  if (f.payload_size !== undefined) return `dead letter ${dead.id} kept only part of its payload (${f.payload_size} bytes): submit it again in full`;
  return '';
}

/**
 * The command a redrive of `dead` submits: its target, type, payload, priority, correlation
 * id and max attempts, validated as an ingress entry would be, with the default TTL (the
 * old one may be what killed it), `redriveOf` and `requestedBy` set; `invalid` with the
 * reason when the dead letter cannot be run again.
 */
export function redriveRequest(dead: DeadLetterEntry, commandId: string, requestedBy: string, rules: EntryRules): Extract<IngressRequest, { kind: 'issue' | 'targeted' | 'invalid' }> {
  const problem = redriveProblem(dead);
  if (problem) return { kind: 'invalid', error: problem };
  const f = dead.fields;
  const raw: string[] = ['type', 'command_issued', 'command_type', f.command_type, 'command_id', commandId || redriveCommandId(dead)];
  // A dead letter of a whole fan-out (`no_match`, too many) or of a waiting `pick any` runs by its selector again.
  const fields = f.target ? ['target', ...REDRIVEN] : ['selector', ...REDRIVEN, ...TARGETING];
  for (const name of fields) if (f[name] !== undefined && f[name] !== '') raw.push(name, f[name]);
  const request = parseIngressEntry(dead.id, raw.map((v) => Buffer.from(v, 'utf8')), rules);
  if (request.kind === 'invalid') return { kind: 'invalid', error: `dead letter ${dead.id}: ${request.error}` };
  if (request.kind === 'targeted') return { ...request, command: { ...request.command, redriveOf: dead.id, requestedBy } };
  if (request.kind !== 'issue') return { kind: 'invalid', error: `dead letter ${dead.id} is not a command` };
  return { kind: 'issue', command: { ...request.command, redriveOf: dead.id, requestedBy } };
}

/** What a redrive keeps of the dead command (its TTL is the default again: the old one may be what killed it). */
const REDRIVEN = ['payload', 'priority', 'correlation_id', 'max_attempts'];
const TARGETING = ['pick', 'batch', 'batch_wait_ms', 'max_failures', 'include_offline'];
