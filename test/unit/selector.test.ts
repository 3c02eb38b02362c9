import { describe, expect, it } from 'vitest';
import { formatSelector, parseSelector, SelectorError, selectorPlan, type SelectorPlan } from '../../src/shared/selector';

const plan = (pos: string[][], neg: string[] = [], all = pos.length === 0): SelectorPlan => ({ all, pos, neg });

/** Valid selectors, the plan each gives and its canonical text. */
const VALID: [string, SelectorPlan, string][] = [
  ['*', plan([], [], true), '*'],
  ['  *  ', plan([], [], true), '*'],
  ['env=prod', plan([['env=prod']]), 'env=prod'],
  ['env==prod', plan([['env=prod']]), 'env=prod'],
  ['env!=prod', plan([], ['env=prod']), 'env!=prod'],
  ['env=', plan([['env=']]), 'env='],
  ['env==,x', plan([['env='], ['x']]), 'env=,x'],
  ['env', plan([['env']]), 'env'],
  ['!canary', plan([], ['canary']), '!canary'],
  ['! canary', plan([], ['canary']), '!canary'],
  ['region in (eu,us)', plan([['region=eu', 'region=us']]), 'region in (eu,us)'],
  ['region in(eu)', plan([['region=eu']]), 'region=eu'],
  ['region notin ( eu , us )', plan([], ['region=eu', 'region=us']), 'region notin (eu,us)'],
  ['region in (eu,eu,us)', plan([['region=eu', 'region=us']]), 'region in (eu,us)'],
  [
    'env=prod,region in (eu,us),!canary',
    plan([['env=prod'], ['region=eu', 'region=us']], ['canary']),
    'env=prod,region in (eu,us),!canary',
  ],
  [' env = prod , tier ', plan([['env=prod'], ['tier']]), 'env=prod,tier'],
  ['agent_type=worker,capability in (shell,http)', plan([['agent_type=worker'], ['capability=shell', 'capability=http']]), 'agent_type=worker,capability in (shell,http)'],
  ['app.kubernetes.io/name=nexus-agent_1.2', plan([['app.kubernetes.io/name=nexus-agent_1.2']]), 'app.kubernetes.io/name=nexus-agent_1.2'],
  ['in=x,notin', plan([['in=x'], ['notin']]), 'in=x,notin'],
  ['a!=1,b notin (2),!c', plan([], ['a=1', 'b=2', 'c']), 'a!=1,b!=2,!c'],
  ['a!=1,a!=1', plan([], ['a=1']), 'a!=1,a!=1'],
  [`k${'x'.repeat(126)}y=${'v'.repeat(128)}`, plan([[`k${'x'.repeat(126)}y=${'v'.repeat(128)}`]]), `k${'x'.repeat(126)}y=${'v'.repeat(128)}`],
];

/** Invalid selectors and the exact message (with its 1-based position). */
const INVALID: [string, string][] = [
  ['', 'at position 1: empty selector'],
  ['   ', 'at position 1: empty selector'],
  ['env = (a)', 'at position 7: expected a value after "="'],
  ['env=a b', 'at position 7: expected "," or the end of the selector'],
  ['env=a/b', 'at position 6: expected "," or the end of the selector'],
  ['env!==a', 'at position 6: expected a value after "!="'],
  [',env', 'at position 1: expected a key'],
  ['env,', 'at position 5: expected a requirement after ","'],
  ['env,,x', 'at position 5: expected a requirement after ","'],
  ['!', 'at position 2: expected a key after "!"'],
  ['!env=a', 'at position 5: expected "," or the end of the selector'],
  ['env prod', 'at position 5: expected an operator (=, ==, !=, in, notin), "," or the end of the selector'],
  ['env inx (a)', 'at position 5: expected an operator (=, ==, !=, in, notin), "," or the end of the selector'],
  ['env(a)', 'at position 4: expected an operator (=, ==, !=, in, notin), "," or the end of the selector'],
  ['env in a', 'at position 8: expected "(" after "in"'],
  ['env notin', 'at position 10: expected "(" after "notin"'],
  ['env in ()', 'at position 9: expected a value after "("'],
  ['env in (a,)', 'at position 11: expected a value after ","'],
  ['env in (a b)', 'at position 11: expected "," or ")"'],
  ['env in (a', 'at position 10: expected "," or ")"'],
  ['-env=a', 'at position 1: invalid key "-env": it must start and end with a letter or digit'],
  ['a,env/=a', 'at position 3: invalid key "env/": it must start and end with a letter or digit'],
  ['_x', 'at position 1: invalid key "_x": it must start and end with a letter or digit'],
  ['*,env=a', 'at position 1: "*" must be the whole selector'],
  ['env=a,*', 'at position 7: "*" must be the whole selector'],
  ['env=*', 'at position 5: expected a value after "="'],
  [`${'k'.repeat(129)}=a`, 'at position 1: key longer than 128 characters'],
  [`k=${'v'.repeat(129)}`, 'at position 3: value longer than 128 characters'],
  [`k in (a,${'v'.repeat(129)})`, 'at position 9: value longer than 128 characters'],
  [`k in (${Array.from({ length: 65 }, (_, i) => `v${i}`).join(',')})`, `at position ${7 + 3 * 10 + 4 * 54}: more than 64 values in a set`],
  [Array.from({ length: 33 }, (_, i) => `k${i}`).join(','), `at position ${3 * 10 + 4 * 22 + 1}: more than 32 requirements`],
  [`k=${'v'.repeat(100)},`.repeat(40), 'at position 4097: longer than 4096 characters'],
];

describe('parseSelector and selectorPlan', () => {
  it.each(VALID)('%j', (text, expected, canonical) => {
    const sel = parseSelector(text);
    expect(sel.text).toBe(text);
    expect(selectorPlan(sel)).toEqual(expected);
    expect(formatSelector(sel)).toBe(canonical);
    // The canonical text means the same thing.
    expect(selectorPlan(parseSelector(canonical))).toEqual(expected);
  });

  it.each(INVALID)('refuses %j', (text, message) => {
    let error: unknown;
    try {
      parseSelector(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SelectorError);
    expect((error as SelectorError).message).toBe(`selector: ${message}`);
    expect((error as SelectorError).position).toBe(Number(/position (\d+)/.exec(message)![1]));
  });

  it('turns operators into requirements', () => {
    expect(parseSelector('a=1,b==2,c!=3,d in (4,5),e notin (6),f,!g').requirements).toEqual([
      { key: 'a', op: 'in', values: ['1'] },
      { key: 'b', op: 'in', values: ['2'] },
      { key: 'c', op: 'notin', values: ['3'] },
      { key: 'd', op: 'in', values: ['4', '5'] },
      { key: 'e', op: 'notin', values: ['6'] },
      { key: 'f', op: 'exists', values: [] },
      { key: 'g', op: 'notexists', values: [] },
    ]);
    expect(parseSelector('*')).toEqual({ text: '*', all: true, requirements: [] });
  });

  it('accepts the limits themselves: 32 requirements, 64 values, 4096 characters', () => {
    expect(parseSelector(Array.from({ length: 32 }, (_, i) => `k${i}`).join(',')).requirements).toHaveLength(32);
    expect(parseSelector(`k in (${Array.from({ length: 64 }, (_, i) => `v${i}`).join(',')})`).requirements[0].values).toHaveLength(64);
    const text = `k=${'v'.repeat(128)}${' '.repeat(4096 - 130)}`;
    expect(text).toHaveLength(4096);
    expect(parseSelector(text).requirements).toHaveLength(1);
  });
});
