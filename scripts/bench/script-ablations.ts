/**
 * Ablations of the command scripts for `script-costs --ablate`: the same Lua with one part of
 * a command's Redis work taken out, to measure what that part costs. For measurement only
 * (an ablated script breaks promises: no timeline, no index, no events). Each replacement
 * must match, so an ablation cannot silently stop applying when the scripts change.
 */
export const ABLATIONS = {
  /** Timeline steps built and written as empty strings. */
  timeline: [
    ['local function step(event, atText, replica, attemptText, detail)\n', "local function step(event, atText, replica, attemptText, detail)\n  do return '' end\n"],
    ['local function withStep(timeline, line)\n', "local function withStep(timeline, line)\n  do return '' end\n"],
  ],
  /** No command index: new commands and state moves are not written to the idx sets. */
  index: [
    ['local function indexNewCommand(prefix, createdText, id, state, target, commandType, correlationId, parentId)\n', 'local function indexNewCommand(prefix, createdText, id, state, target, commandType, correlationId, parentId)\n  do return end\n'],
    ['local function indexFlushStates(prefix)\n', 'local function indexFlushStates(prefix)\n  do indexMoves = {} return end\n'],
  ],
  /** No events: every XADD to the events stream skipped (command_queued, _delivered, _succeeded, ...). */
  events: [[/redis\.call\('XADD', (A\.events|KEYS\[1\]|events), 'MAXLEN'/g, "noEvent($1, 'MAXLEN'"]],
} satisfies Record<string, [string | RegExp, string][]>;

export type Ablation = keyof typeof ABLATIONS;

/** Which scripts must show each ablation (the command path's three). */
const MUST_APPLY: Record<Ablation, string[]> = {
  timeline: ['routeCommands', 'completeCommands'],
  index: ['routeCommands', 'completeCommands'],
  events: ['routeCommands', 'completeCommands'],
};

/** `lua` (script `name`, includes resolved) with the ablations applied. */
export function ablate(name: string, lua: string, which: readonly Ablation[]): string {
  let out = lua;
  for (const a of which) {
    let changed = false;
    for (const [from, to] of ABLATIONS[a]) {
      const next = out.replace(from, to);
      changed ||= next !== out;
      out = next;
    }
    if (!changed && MUST_APPLY[a].includes(name)) throw new Error(`ablation ${a} no longer applies to ${name}: update scripts/bench/script-ablations.ts`);
  }
  return which.includes('events') ? `local function noEvent() end\n${out}` : out;
}

export function parseAblations(value: string): Ablation[] {
  const names = value.split(',').filter(Boolean);
  for (const n of names) if (!(n in ABLATIONS)) throw new Error(`--ablate: unknown part ${JSON.stringify(n)} (one of ${Object.keys(ABLATIONS).join(', ')})`);
  return names as Ablation[];
}
