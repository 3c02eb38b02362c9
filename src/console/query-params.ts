import { AgentState, CommandState, commandStateToJSON, type CommandFilter, type DeadLetterFilter } from '../generated/nexus/prime/pulse';
import { STATE_OF_RECORD } from '../orchestrator/command-states';
import { invalid } from './http-io';

/** Longest value of one query parameter (ids, selectors and tokens are far shorter). */
const MAX_VALUE = 2048;
/** Most values of one comma-separated list. */
const MAX_LIST = 32;

const AGENT_STATES: Record<string, AgentState> = { online: AgentState.AGENT_STATE_ONLINE, stale: AgentState.AGENT_STATE_STALE, offline: AgentState.AGENT_STATE_OFFLINE };
/** Command states by the names the records (and the query string) use. */
const COMMAND_STATES = STATE_OF_RECORD;

/**
 * A request's query string, read strictly: only the parameters a route names, each once and
 * bounded; every error names the parameter (`states: unknown state "x"`).
 */
export class Query {
  private readonly params: URLSearchParams;

  constructor(search: URLSearchParams, allowed: readonly string[]) {
    for (const key of new Set(search.keys())) {
      if (!allowed.includes(key)) throw invalid(`unknown query parameter ${JSON.stringify(key.slice(0, 64))} (expected ${allowed.join(', ') || 'none'})`);
      if (search.getAll(key).length > 1) throw invalid(`${key}: given more than once`);
      if ((search.get(key) ?? '').length > MAX_VALUE) throw invalid(`${key}: longer than ${MAX_VALUE} characters`);
    }
    this.params = search;
  }

  /** A text value, '' when absent. */
  text(key: string): string {
    return this.params.get(key)?.trim() ?? '';
  }

  /** A comma-separated list (empty items dropped). */
  list(key: string): string[] {
    const items = this.text(key).split(',').map((s) => s.trim()).filter(Boolean);
    if (items.length > MAX_LIST) throw invalid(`${key}: more than ${MAX_LIST} values`);
    return items;
  }

  /** A non-negative integer within [min, max], 0 when absent. */
  int(key: string, min: number, max: number): number {
    const raw = this.text(key);
    if (raw === '') return 0;
    if (!/^\d{1,16}$/.test(raw)) throw invalid(`${key}: ${JSON.stringify(raw.slice(0, 32))} is not a non-negative integer`);
    const n = Number(raw);
    if (n < min || n > max) throw invalid(`${key}: ${n} is outside ${min}..${max}`);
    return n;
  }

  /** An agent state by its lower-case name, UNSPECIFIED when absent. */
  agentState(key: string): AgentState {
    const raw = this.text(key);
    if (raw === '') return AgentState.AGENT_STATE_UNSPECIFIED;
    const state = AGENT_STATES[raw.toLowerCase()];
    if (state === undefined) throw invalid(`${key}: unknown state ${JSON.stringify(raw.slice(0, 32))} (one of ${Object.keys(AGENT_STATES).join(', ')})`);
    return state;
  }

  /** Command states by their lower-case names. */
  commandStates(key: string): CommandState[] {
    return this.list(key).map((raw) => {
      const state = COMMAND_STATES[raw.toLowerCase()];
      if (state === undefined) throw invalid(`${key}: unknown state ${JSON.stringify(raw.slice(0, 32))} (one of ${Object.keys(COMMAND_STATES).join(', ')})`);
      return state;
    });
  }
}

/** The ListCommands filter of `states, target, type, correlation, parent, after, before`. */
export function commandFilterOf(q: Query): CommandFilter {
  return {
    states: q.commandStates('states'),
    target: q.text('target'),
    commandType: q.text('type'),
    correlationId: q.text('correlation'),
    parentId: q.text('parent'),
    createdAfterUnixMs: q.int('after', 0, Number.MAX_SAFE_INTEGER),
    createdBeforeUnixMs: q.int('before', 0, Number.MAX_SAFE_INTEGER),
  };
}

/** The ListDeadLetters filter of `reasons, target, type`. */
export function deadLetterFilterOf(q: Query): DeadLetterFilter {
  return { reasons: q.list('reasons'), target: q.text('target'), commandType: q.text('type') };
}

/**
 * A POSTed `filter.states` may name states as the query string does (`queued`) or as the
 * generated JSON does (`COMMAND_STATE_QUEUED`); the result is the latter, unknown names a 400.
 */
export function withStateNames(body: Record<string, unknown>): Record<string, unknown> {
  const filter = body.filter as { states?: unknown } | undefined;
  if (!filter || typeof filter !== 'object' || filter.states === undefined) return body;
  if (!Array.isArray(filter.states) || filter.states.length > MAX_LIST) throw invalid(`filter.states: a list of at most ${MAX_LIST} state names is expected`);
  const states = filter.states.map((raw: unknown) => {
    const name = String(raw);
    const state = COMMAND_STATES[name.toLowerCase()] ?? Object.values(COMMAND_STATES).find((v) => commandStateToJSON(v) === name);
    if (state === undefined) throw invalid(`filter.states: unknown state ${JSON.stringify(name.slice(0, 32))} (one of ${Object.keys(COMMAND_STATES).join(', ')})`);
    return commandStateToJSON(state);
  });
  return { ...body, filter: { ...filter, states } };
}
