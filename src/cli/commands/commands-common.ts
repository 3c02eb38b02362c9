import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CommandFilter, CommandState, commandStateToJSON, type CommandSummary, type Progress } from '../../generated/nexus/prime/pulse';
import { FINISHED_STATES, STATE_OF_RECORD } from '../../orchestrator/command-states';
import { usage } from '../context';
import type { Output } from '../output';

/** The flag values of a state name: the records' names, and `running` for `delivered`. */
const STATE_NAMES: Readonly<Record<string, CommandState>> = { ...STATE_OF_RECORD, running: CommandState.COMMAND_STATE_DELIVERED };

/** The states a command ends in. */
export const TERMINAL_STATES: ReadonlySet<CommandState> = new Set([...FINISHED_STATES].map((name) => STATE_OF_RECORD[name]));

/** `COMMAND_STATE_SUCCEEDED` -> `succeeded`. */
export function stateName(state: CommandState): string {
  return commandStateToJSON(state).replace(/^COMMAND_STATE_/, '').toLowerCase();
}

/** A state name coloured for a table (colour is off when not on a terminal). */
export function coloredState(out: Output, state: CommandState): string {
  const c = out.color;
  const name = stateName(state);
  switch (state) {
    case CommandState.COMMAND_STATE_SUCCEEDED:
      return c.green(name);
    case CommandState.COMMAND_STATE_FAILED:
    case CommandState.COMMAND_STATE_DEAD:
      return c.red(name);
    case CommandState.COMMAND_STATE_RETRYING:
      return c.yellow(name);
    case CommandState.COMMAND_STATE_CANCELLED:
      return c.gray(name);
    case CommandState.COMMAND_STATE_DELIVERED:
      return c.cyan(name);
    default:
      return name;
  }
}

/** Parses `--state` values (repeatable, comma-separated). */
export function parseStates(values: readonly string[] | undefined): CommandState[] {
  const states = new Set<CommandState>();
  for (const value of values ?? []) {
    for (const part of value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
      const state = STATE_NAMES[part];
      if (state === undefined) throw usage(`--state must be one of ${Object.keys(STATE_NAMES).join(', ')}, got ${JSON.stringify(part)}`);
      states.add(state);
    }
  }
  return [...states];
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration like `500ms`, `30s`, `5m`, `2h`, `1d` (or `1h30m`) in ms; a usage error naming `flag` otherwise. */
export function parseDuration(flag: string, text: string): number {
  const trimmed = text.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(trimmed)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  if (trimmed === '' || matched !== trimmed.length) {
    throw usage(`${flag} must be a duration like 500ms, 30s, 5m, 2h or 1d, got ${JSON.stringify(text)}`);
  }
  return Math.round(total);
}

/** `--since`/`--until`: a duration ago (`1h`) or an ISO time; Unix ms. */
export function parseTime(flag: string, text: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)/.test(text.trim())) return now - parseDuration(flag, text);
  const at = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim()) || Number.isNaN(at)) {
    throw usage(`${flag} must be a duration ago (30s, 5m, 2h, 1d) or an ISO time (2026-12-06T08:00:00Z), got ${JSON.stringify(text)}`);
  }
  return at;
}

/** A positive whole number flag. */
export function parseCount(flag: string, text: string, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < min || n > max) {
    throw usage(`${flag} must be a whole number in ${min}..${max}, got ${JSON.stringify(text)}`);
  }
  return n;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The filter flags of `list` and `cancel`. */
export function addFilterOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--state <states>', 'only these states (repeatable or comma-separated): queued, delivered|running, retrying, succeeded, failed, dead, cancelled').argParser(collect))
    .option('--target <agent>', 'only commands for this agent')
    .option('--type <type>', 'only this command type')
    .option('--correlation <id>', 'only this correlation id')
    .option('--parent <id>', 'only the children of this fan-out parent')
    .option('--since <time>', 'created at or after: a duration ago (30s, 5m, 2h, 1d) or an ISO time')
    .option('--until <time>', 'created before: a duration ago or an ISO time');
}

export interface FilterFlags {
  state?: string[];
  target?: string;
  type?: string;
  correlation?: string;
  parent?: string;
  since?: string;
  until?: string;
}

/** The CommandFilter of the filter flags, and whether any was given. */
export function filterOf(flags: FilterFlags): { filter: CommandFilter; given: boolean } {
  const now = Date.now();
  const filter = CommandFilter.fromPartial({
    states: parseStates(flags.state),
    target: flags.target ?? '',
    commandType: flags.type ?? '',
    correlationId: flags.correlation ?? '',
    parentId: flags.parent ?? '',
    createdAfterUnixMs: flags.since !== undefined ? parseTime('--since', flags.since, now) : 0,
    createdBeforeUnixMs: flags.until !== undefined ? parseTime('--until', flags.until, now) : 0,
  });
  const given = filter.states.length > 0 || Boolean(filter.target || filter.commandType || filter.correlationId || filter.parentId) || flags.since !== undefined || flags.until !== undefined;
  return { filter, given };
}

/** A progress as `40% message`. */
export function progressText(p: Progress | undefined): string {
  if (!p) return '';
  const pct = `${Math.round(p.percent)}%`;
  return p.message ? `${pct} ${p.message}` : pct;
}

/** The ERROR/PROGRESS cell of a command in a list. */
export function detailCell(c: CommandSummary, width = 60): string {
  const text = c.error ? (c.deadReason && !c.error.startsWith(c.deadReason) ? `${c.deadReason}: ${c.error}` : c.error) : c.deadReason || (TERMINAL_STATES.has(c.state) ? '' : progressText(c.progress));
  return cut(text.replace(/\s+/g, ' '), width) || '-';
}

export function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** Reads `--payload-file` (`-` = stdin). */
export function readPayloadFile(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw usage(`--payload-file: cannot read ${path === '-' ? 'stdin' : path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}
