import { describe, expect, it } from 'vitest';
import { DLQ, INGRESS, readDlq } from '../helpers/commands';
import { childRecords, parentTerminal, useLabelledAgents, type LabelledAgent } from '../helpers/fanout';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';

/*
 * Selectors against a table of labelled agents (issue 16): each broadcast's children are
 * exactly the agents the selector names, each ran once; bad selectors, no match and MAX_FANOUT
 * end in the DLQ with the reason and an error naming the position / the count.
 */

interface Row { id: string; type: string; caps: string[]; labels: Record<string, string> }
const FLEET: Row[] = [
  { id: 'a01', type: 'scanner', caps: ['scan'], labels: { env: 'prod', region: 'eu' } },
  { id: 'a02', type: 'scanner', caps: ['scan', 'analyze'], labels: { env: 'prod', region: 'us', canary: 'true' } },
  { id: 'a03', type: 'collector', caps: ['collect'], labels: { env: 'prod', region: 'ap' } },
  { id: 'a04', type: 'collector', caps: ['analyze'], labels: { env: 'staging', region: 'eu' } },
  { id: 'a05', type: 'generic', caps: ['scan'], labels: { env: 'staging', region: 'us', canary: 'yes' } },
  { id: 'a06', type: 'scanner', caps: ['report'], labels: { env: 'dev' } },
  { id: 'a07', type: 'generic', caps: ['analyze'], labels: {} },
  { id: 'a08', type: 'collector', caps: ['analyze', 'report'], labels: { env: 'prod', region: 'eu' } },
  { id: 'a09', type: 'generic', caps: ['report'], labels: { region: 'us' } },
  { id: 'a10', type: 'generic', caps: ['execute'], labels: { env: 'prod', region: 'eu', canary: '1' } },
  { id: 'a11', type: 'scanner', caps: ['analyze'], labels: { env: '', region: 'us' } },
];

/** Selector -> the agent ids it names, as hand-written predicates over the table. */
const CASES: [string, (r: Row) => boolean][] = [
  ['env=prod', (r) => r.labels.env === 'prod'],
  ['env!=prod', (r) => r.labels.env !== 'prod'],
  ['region in (eu,us)', (r) => r.labels.region === 'eu' || r.labels.region === 'us'],
  ['region notin (eu)', (r) => r.labels.region !== 'eu'],
  ['canary', (r) => 'canary' in r.labels],
  ['!canary', (r) => !('canary' in r.labels)],
  ['agent_type=scanner', (r) => r.type === 'scanner'],
  ['capability=analyze', (r) => r.caps.includes('analyze')],
  ['env=prod,!canary', (r) => r.labels.env === 'prod' && !('canary' in r.labels)],
  ['*', () => true],
  // Spellings: `==`, spaces around tokens, an empty value, exists on the built-in keys, sets on them.
  ['env==prod', (r) => r.labels.env === 'prod'],
  [' region notin ( eu , us ) ', (r) => r.labels.region !== 'eu' && r.labels.region !== 'us'],
  ['env=', (r) => r.labels.env === ''],
  ['env,env!=prod', (r) => 'env' in r.labels && r.labels.env !== 'prod'],
  ['agent_type in (scanner,collector),capability=analyze', (r) => (r.type === 'scanner' || r.type === 'collector') && r.caps.includes('analyze')],
  ['capability notin (scan,report),agent_type!=generic', (r) => !r.caps.includes('scan') && !r.caps.includes('report') && r.type !== 'generic'],
];

describe('fan-out selectors over a labelled fleet', () => {
  const fx = useOrchestrator();
  const start = useLabelledAgents();

  it('each selector reaches exactly the matching agents, each once; bad selectors and no match are dead-lettered', async () => {
    const db = fx.redis.client();
    const agents = new Map<string, LabelledAgent>();
    for (const r of FLEET) agents.set(r.id, await start(fx.port, { agentId: r.id, agentType: r.type, capabilities: r.caps, labels: r.labels, maxConcurrency: 10 }));

    const ids = CASES.map((_, i) => `sel-${i}`);
    for (const [i, [selector]] of CASES.entries()) {
      await db.xadd(INGRESS, '*', 'selector', selector, 'command_id', ids[i], 'command_type', 'echo', 'payload', `p${i}`);
    }
    for (const [i, [selector, pred]] of CASES.entries()) {
      const expected = FLEET.filter(pred).map((r) => r.id).sort();
      const parent = await parentTerminal(db, ids[i]);
      const children = await childRecords(db, ids[i]);
      expect({ selector, children: children.map((c) => c.target).sort() }).toEqual({ selector, children: expected });
      expect(children.map((c) => c.command_id).sort()).toEqual(expected.map((a) => `${ids[i]}/${a}`));
      for (const c of children) expect({ id: c.command_id, state: c.state, parent: c.parent_id }).toEqual({ id: c.command_id, state: 'succeeded', parent: ids[i] });
      expect({ selector, state: parent.state, matched: parent.matched, n_succeeded: parent.n_succeeded, fanout: parent.fanout })
        .toEqual({ selector, state: 'succeeded', matched: String(expected.length), n_succeeded: String(expected.length), fanout: '1' });
      // Each matching agent ran its child exactly once; the others never saw this parent.
      for (const r of FLEET) {
        const runs = agents.get(r.id)!.runs.filter((c) => c.startsWith(`${ids[i]}/`));
        expect({ selector, agent: r.id, runs }).toEqual({ selector, agent: r.id, runs: expected.includes(r.id) ? [`${ids[i]}/${r.id}`] : [] });
      }
    }

    // Selectors that do not parse: DLQ `invalid` naming the position.
    const bad: [string, string, number][] = [['bad-1', 'env in (eu', 11], ['bad-2', '=x', 1], ['bad-3', 'env==prod,,x', 11]];
    for (const [id, selector] of bad) await db.xadd(INGRESS, '*', 'selector', selector, 'command_id', id, 'command_type', 'echo', 'payload', 'x');
    // No agent matches.
    await db.xadd(INGRESS, '*', 'selector', 'env=nowhere', 'command_id', 'none-1', 'command_type', 'echo', 'payload', 'x');
    const dead = await waitFor('4 dead letters', async () => {
      const all = await readDlq(db);
      return all.length >= 4 ? all : undefined;
    });
    const byId = new Map(dead.map((d) => [d.command_id, d]));
    for (const [id, selector, pos] of bad) {
      expect({ id, reason: byId.get(id)?.reason }).toEqual({ id, reason: 'invalid' });
      expect(byId.get(id)?.error).toMatch(new RegExp(`position ${pos}\\b`));
      expect(byId.get(id)?.selector).toBe(selector);
    }
    expect(byId.get('none-1')).toMatchObject({ reason: 'no_match' });
    expect(byId.get('none-1')?.error).toMatch(/env=nowhere/);
    // None of them became a command or reached an agent.
    for (const id of ['bad-1', 'bad-2', 'bad-3', 'none-1']) expect(await db.exists(`nexus:command:${id}`)).toBe(0);
    for (const a of agents.values()) expect(a.runs.filter((c) => !c.startsWith('sel-'))).toEqual([]);
    expect(await db.xlen(DLQ)).toBe(4);
    db.disconnect();
  });
});

describe('MAX_FANOUT', () => {
  const fx = useOrchestrator({ MAX_FANOUT: '3' });
  const start = useLabelledAgents();

  it('a selector matching more agents than MAX_FANOUT is dead-lettered invalid, naming the count; 3 matches pass', async () => {
    const db = fx.redis.client();
    const agents: LabelledAgent[] = [];
    for (let i = 1; i <= 5; i++) agents.push(await start(fx.port, { agentId: `m${i}`, labels: { tier: 'web', small: i <= 3 ? 'y' : 'n' } }));
    await db.xadd(INGRESS, '*', 'selector', 'tier=web', 'command_id', 'big', 'command_type', 'echo', 'payload', 'x');
    await db.xadd(INGRESS, '*', 'selector', 'small=y', 'command_id', 'ok3', 'command_type', 'echo', 'payload', 'x');
    const [dl] = await waitFor('a dead letter', async () => {
      const all = await readDlq(db);
      return all.length > 0 ? all : undefined;
    });
    expect(dl).toMatchObject({ command_id: 'big', reason: 'invalid' });
    expect(dl.error).toMatch(/\b5\b/);
    expect(dl.error).toMatch(/MAX_FANOUT/);
    const ok = await parentTerminal(db, 'ok3');
    expect(ok).toMatchObject({ state: 'succeeded', matched: '3', n_succeeded: '3' });
    expect(await db.exists('nexus:command:big')).toBe(0);
    expect(agents.flatMap((a) => a.runs).sort()).toEqual(['ok3/m1', 'ok3/m2', 'ok3/m3']);
    expect(await db.xlen(DLQ)).toBe(1);
    db.disconnect();
  });
});
