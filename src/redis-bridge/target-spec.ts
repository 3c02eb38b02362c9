import { parseSelector, selectorPlan, SelectorError } from '../shared/selector';

/** How an entry with a `selector` picks its agents (ingress fields of the same names). */
export interface TargetSpec {
  /** The selector as given. */
  selector: string;
  /** What the scripts match with (src/shared/selector.ts selectorPlan, as JSON). */
  plan: string;
  /** `all`: one child per matching agent; `any`: one agent, the least loaded with a free slot. */
  pick: 'all' | 'any';
  /** `batch` as a count, or as a percent of the matched agents (one of them is 0 = no limit). */
  batchCount: number;
  batchPercent: number;
  /** `batch` as given ('' = none). */
  batchSpec: string;
  /** Failed (or dead) children after which no new child starts; 0 = no limit. */
  maxFailures: number;
  /** Wait after a child finishes before its slot takes the next agent (ms). */
  batchWaitMs: number;
  /** Matching agents that are offline get their child too (it waits in their mailbox). */
  includeOffline: boolean;
}

/** A targeting field is wrong; the message names it. */
export class TargetSpecError extends Error {}

const ROLLOUT_FIELDS = ['batch', 'batch_wait_ms', 'max_failures', 'include_offline'] as const;

/** The targeting fields of an entry that has a `selector`; throws TargetSpecError naming the field. */
export function parseTargetSpec(f: ReadonlyMap<string, string>): TargetSpec {
  const selector = f.get('selector') ?? '';
  let plan: string;
  try {
    plan = JSON.stringify(selectorPlan(parseSelector(selector)));
  } catch (err) {
    if (err instanceof SelectorError) throw new TargetSpecError(err.message);
    throw err;
  }
  const pick = f.get('pick') || 'all';
  if (pick !== 'all' && pick !== 'any') throw new TargetSpecError(`pick must be all or any, got ${JSON.stringify(pick.slice(0, 40))}`);
  if (pick === 'any') {
    const given = ROLLOUT_FIELDS.filter((name) => (f.get(name) ?? '') !== '');
    if (given.length > 0) throw new TargetSpecError(`${given[0]} applies to pick all only (pick any runs one command)`);
  }
  const batchSpec = f.get('batch') ?? '';
  let batchCount = 0;
  let batchPercent = 0;
  if (batchSpec !== '') {
    const m = /^(\d{1,7})(%?)$/.exec(batchSpec);
    const n = m ? Number(m[1]) : NaN;
    if (!m || n < 1 || (m[2] === '%' && n > 100)) throw new TargetSpecError(`batch must be N (1 or more) or N% (1..100), got ${JSON.stringify(batchSpec.slice(0, 40))}`);
    if (m[2] === '%') batchPercent = n;
    else batchCount = n;
  }
  return {
    selector,
    plan,
    pick,
    batchCount,
    batchPercent,
    batchSpec,
    maxFailures: whole(f, 'max_failures', 0, 1_000_000),
    batchWaitMs: whole(f, 'batch_wait_ms', 0, 3_600_000),
    includeOffline: flag(f, 'include_offline'),
  };
}

function whole(f: ReadonlyMap<string, string>, field: string, min: number, max: number): number {
  const v = f.get(field) ?? '';
  if (v === '') return 0;
  if (!/^\d{1,10}$/.test(v) || Number(v) < min || Number(v) > max) throw new TargetSpecError(`${field} must be a whole number in ${min}..${max}, got ${JSON.stringify(v.slice(0, 40))}`);
  return Number(v);
}

function flag(f: ReadonlyMap<string, string>, field: string): boolean {
  const v = (f.get(field) ?? '').toLowerCase();
  if (v === '' || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  throw new TargetSpecError(`${field} must be true or false, got ${JSON.stringify(v.slice(0, 40))}`);
}
