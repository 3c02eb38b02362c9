/**
 * Kubernetes-style label selectors over agents (`env=prod,region in (eu,us),!canary`, or `*`),
 * the terms an agent is indexed under in Redis, and the plan the Lua include
 * `scripts/includes/selectorMatch.lua` runs. Users: docs/targeting.md.
 *
 * The tokenizer is written by hand: no maintained TypeScript library parses Kubernetes
 * selectors (the official client only formats them), and the grammar is a dozen rules whose
 * errors must name a 1-based position.
 */

/** One requirement; `key=v` and `key==v` are `in [v]`, `key!=v` is `notin [v]`. */
export interface Requirement {
  readonly key: string;
  readonly op: 'in' | 'notin' | 'exists' | 'notexists';
  readonly values: string[];
}

/** A parsed selector: `all` for `*`, otherwise requirements that must all hold. */
export interface Selector {
  /** The text as given. */
  readonly text: string;
  readonly all: boolean;
  readonly requirements: Requirement[];
}

/** What the Lua gets (as JSON): groups of terms of which one must be held, and terms none may be. */
export interface SelectorPlan {
  all: boolean;
  pos: string[][];
  neg: string[];
}

/** The hello fields a selector looks at. */
export interface SelectorProfile {
  readonly agentType: string;
  readonly capabilities: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** Longest selector text; with the two limits below, they bound what one fan-out asks of Redis. */
export const MAX_SELECTOR_LENGTH = 4096;
/** Most requirements in one selector. */
export const MAX_REQUIREMENTS = 32;
/** Most values in one `in` / `notin` set. */
export const MAX_SET_VALUES = 64;
/** Longest key a selector names (and a label key that is indexed). */
export const MAX_KEY_LENGTH = 128;
/** Longest value a selector names (and a label value, agent type or capability that is indexed). */
export const MAX_VALUE_LENGTH = 128;
/** Keys whose terms come from the hello, not from its labels. */
export const BUILT_IN_KEYS: readonly string[] = ['agent_type', 'capability'];

const KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
const VALUE = /^[A-Za-z0-9._-]*$/;
const KEY_CHAR = /[A-Za-z0-9._/-]/;
const VALUE_CHAR = /[A-Za-z0-9._-]/;
const SPACE = /\s/;

/** A selector that cannot be parsed; `position` is 1-based (one past the end for "missing ..."). */
export class SelectorError extends Error {
  constructor(readonly position: number, readonly detail: string) {
    super(`selector: at position ${position}: ${detail}`);
    this.name = 'SelectorError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** A cursor over the text; `at` is 0-based, errors report `at + 1`. */
class Scanner {
  at = 0;
  constructor(readonly text: string) {}

  skipSpace(): void {
    while (this.at < this.text.length && SPACE.test(this.text[this.at])) this.at++;
  }
  peek(): string {
    return this.text[this.at] ?? '';
  }
  atEnd(): boolean {
    return this.at >= this.text.length;
  }
  /** Reads the longest run of characters matching `char` (possibly empty). */
  run(char: RegExp): string {
    const start = this.at;
    while (this.at < this.text.length && char.test(this.text[this.at])) this.at++;
    return this.text.slice(start, this.at);
  }
  fail(detail: string, at = this.at): never {
    throw new SelectorError(at + 1, detail);
  }
}

/** Parses a selector; throws SelectorError naming the position of the first problem. */
export function parseSelector(text: string): Selector {
  if (text.length > MAX_SELECTOR_LENGTH) throw new SelectorError(MAX_SELECTOR_LENGTH + 1, `longer than ${MAX_SELECTOR_LENGTH} characters`);
  const s = new Scanner(text);
  s.skipSpace();
  if (s.atEnd()) s.fail('empty selector', 0);
  if (s.peek() === '*') {
    const star = s.at;
    s.at++;
    s.skipSpace();
    if (!s.atEnd()) s.fail('"*" must be the whole selector', star);
    return { text, all: true, requirements: [] };
  }
  const requirements: Requirement[] = [];
  for (;;) {
    s.skipSpace();
    if (requirements.length === MAX_REQUIREMENTS) s.fail(`more than ${MAX_REQUIREMENTS} requirements`);
    requirements.push(requirement(s, requirements.length > 0));
    s.skipSpace();
    if (s.atEnd()) return { text, all: false, requirements };
    if (s.peek() !== ',') s.fail('expected "," or the end of the selector');
    s.at++;
  }
}

function requirement(s: Scanner, afterComma: boolean): Requirement {
  if (s.peek() === '!') {
    s.at++;
    s.skipSpace();
    return { key: key(s, 'expected a key after "!"'), op: 'notexists', values: [] };
  }
  if (s.peek() === '*') s.fail('"*" must be the whole selector');
  const k = key(s, afterComma ? 'expected a requirement after ","' : 'expected a key');
  s.skipSpace();
  if (s.atEnd() || s.peek() === ',') return { key: k, op: 'exists', values: [] };
  const opAt = s.at;
  if (s.text.startsWith('!=', s.at)) return { key: k, op: 'notin', values: [single(s, 2, '!=')] };
  if (s.text.startsWith('==', s.at)) return { key: k, op: 'in', values: [single(s, 2, '==')] };
  if (s.peek() === '=') return { key: k, op: 'in', values: [single(s, 1, '=')] };
  const word = s.run(/[a-z]/);
  if ((word === 'in' || word === 'notin') && !KEY_CHAR.test(s.peek())) return { key: k, op: word, values: set(s, word) };
  return s.fail('expected an operator (=, ==, !=, in, notin), "," or the end of the selector', opAt);
}

function key(s: Scanner, missing: string): string {
  const start = s.at;
  const k = s.run(KEY_CHAR);
  if (k === '') s.fail(missing);
  if (k.length > MAX_KEY_LENGTH) s.fail(`key longer than ${MAX_KEY_LENGTH} characters`, start);
  if (!KEY.test(k)) s.fail(`invalid key "${k}": it must start and end with a letter or digit`, start);
  return k;
}

/** The value after `=`, `==` or `!=` (may be empty); what follows must end the requirement. */
function single(s: Scanner, opLength: number, op: string): string {
  s.at += opLength;
  s.skipSpace();
  const start = s.at;
  const v = s.run(VALUE_CHAR);
  if (v.length > MAX_VALUE_LENGTH) s.fail(`value longer than ${MAX_VALUE_LENGTH} characters`, start);
  s.skipSpace();
  if (!s.atEnd() && s.peek() !== ',') s.fail(v === '' ? `expected a value after "${op}"` : 'expected "," or the end of the selector');
  return v;
}

/** `(v1, v2, ...)` after `in` / `notin`: at least one value, none empty; duplicates are dropped. */
function set(s: Scanner, op: string): string[] {
  s.skipSpace();
  if (s.peek() !== '(') s.fail(`expected "(" after "${op}"`);
  s.at++;
  const values: string[] = [];
  let count = 0;
  for (;;) {
    s.skipSpace();
    const start = s.at;
    const v = s.run(VALUE_CHAR);
    if (v === '') s.fail(count === 0 ? `expected a value after "("` : 'expected a value after ","');
    if (v.length > MAX_VALUE_LENGTH) s.fail(`value longer than ${MAX_VALUE_LENGTH} characters`, start);
    if (++count > MAX_SET_VALUES) s.fail(`more than ${MAX_SET_VALUES} values in a set`, start);
    if (!values.includes(v)) values.push(v);
    s.skipSpace();
    if (s.peek() === ')') {
      s.at++;
      return values;
    }
    if (s.peek() !== ',') s.fail('expected "," or ")"');
    s.at++;
  }
}

/** The canonical text of a selector (`*`, or requirements joined by ","). */
export function formatSelector(sel: Selector): string {
  if (sel.all) return '*';
  return sel.requirements
    .map(({ key, op, values }) => {
      if (op === 'exists') return key;
      if (op === 'notexists') return `!${key}`;
      if (values.length === 1) return `${key}${op === 'in' ? '=' : '!='}${values[0]}`;
      return `${key} ${op} (${values.join(',')})`;
    })
    .join(',');
}

/**
 * The plan the Lua include runs: each `pos` group is a union (one term of it must be held), the
 * groups intersect, `neg` terms are taken away. With no positive group the plan starts from
 * every known agent (`all`).
 */
export function selectorPlan(sel: Selector): SelectorPlan {
  const pos: string[][] = [];
  const neg: string[] = [];
  for (const { key, op, values } of sel.all ? [] : sel.requirements) {
    if (op === 'exists') pos.push([key]);
    else if (op === 'in') pos.push(values.map((v) => `${key}=${v}`));
    else for (const term of op === 'notexists' ? [key] : values.map((v) => `${key}=${v}`)) if (!neg.includes(term)) neg.push(term);
  }
  return { all: pos.length === 0, pos, neg };
}

function validValue(v: string): boolean {
  return v.length <= MAX_VALUE_LENGTH && VALUE.test(v);
}

/**
 * The terms an agent is indexed under (`<key>=<value>` and `<key>`), sorted, without
 * duplicates. Labels with a key or value the selector grammar cannot name, and labels that
 * shadow a built-in key, are not indexed; neither are an empty agent type or capability.
 */
export function agentTerms(profile: SelectorProfile): string[] {
  const terms = new Set<string>();
  for (const [k, v] of Object.entries(profile.labels)) {
    if (k.length <= MAX_KEY_LENGTH && KEY.test(k) && validValue(v) && !BUILT_IN_KEYS.includes(k)) terms.add(`${k}=${v}`).add(k);
  }
  if (profile.agentType !== '' && validValue(profile.agentType)) terms.add(`agent_type=${profile.agentType}`).add('agent_type');
  for (const c of profile.capabilities) if (c !== '' && validValue(c)) terms.add(`capability=${c}`).add('capability');
  return [...terms].sort();
}

/** Whether an agent matches, with exactly the semantics of the Redis index and selectorStore. */
export function matchesSelector(sel: Selector, profile: SelectorProfile): boolean {
  const terms = new Set(agentTerms(profile));
  const plan = selectorPlan(sel);
  return plan.pos.every((group) => group.some((t) => terms.has(t))) && !plan.neg.some((t) => terms.has(t));
}
