import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Redis from 'ioredis';
import { AgentRegistry } from '../../src/redis-bridge/agent-registry';
import type { AgentProfile } from '../../src/redis-bridge/agent-record';
import { NexusKeys } from '../../src/redis-bridge/keys';
import { defineScripts, resolveIncludes } from '../../src/redis-bridge/script-loader';
import { agentTerms, matchesSelector, parseSelector, selectorPlan } from '../../src/shared/selector';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const keys = new NexusKeys('{nexus}');
const limits = { recordTtlMs: 600_000, eventsMaxLen: 1000, reconnectLimit: 100, reconnectWindowMs: 60_000 };

function profile(agentType: string, capabilities: string[], labels: Record<string, string>): AgentProfile {
  return { agentType, displayName: '', capabilities, labels, version: '1', maxConcurrency: 1 };
}

const AGENTS: Record<string, AgentProfile> = {
  'web-1': profile('web', ['shell', 'http'], { env: 'prod', region: 'eu' }),
  'web-2': profile('web', ['http'], { env: 'prod', region: 'us', canary: 'true' }),
  'web-3': profile('web', ['http'], { env: 'staging', region: 'us' }),
  'db-1': profile('db', ['shell'], { env: 'prod', region: 'eu', tier: 'gold' }),
  'db-2': profile('db', ['shell', 'backup'], { env: 'staging', tier: '' }),
  'batch:1': profile('batch', ['gpu'], { env: 'dev', 'app.kubernetes.io/name': 'trainer' }),
  'bare@x': profile('', [], {}),
  odd: profile('odd type', ['a b'], { 'bad key': 'x', env: 'has space', capability: 'gpu' }),
};

/** Test-only wrapper: selectorStore into `dest`, answers the count and the members in order. */
const WRAPPER = resolveIncludes(`--- @include "includes/selectorMatch.lua"
local n = selectorStore(KEYS[1], ARGV[1], KEYS[2], cjson.decode(ARGV[2]))
return { n, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES') }
`);

describe('the agent label index', () => {
  const redis = new RedisServer();
  let db: Redis;
  let registry: AgentRegistry;

  /** Agent ids in the set of one term. */
  const members = async (term: string): Promise<string[]> => (await db.smembers(keys.labelPrefix + term)).sort();
  /** Every term set that exists, with its members: the whole index as Redis holds it. */
  async function index(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const key of (await db.keys(`${keys.labelPrefix}*`)).sort()) out[key.slice(keys.labelPrefix.length)] = (await db.smembers(key)).sort();
    return out;
  }
  /** The index the profiles should give. */
  function expectedIndex(profiles: Record<string, AgentProfile>): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [id, p] of Object.entries(profiles)) for (const term of agentTerms(p)) (out[term] ??= []).push(id);
    for (const ids of Object.values(out)) ids.sort();
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    defineScripts(db);
    registry = new AgentRegistry(db, keys, limits);
    for (const [id, p] of Object.entries(AGENTS)) await registry.connect(id, 'replica-a', `s-${id}`, p, 4);
  });

  afterAll(async () => {
    db?.disconnect();
    await redis.destroy();
  });

  it('indexes each connected agent under its terms, and records them per agent', async () => {
    expect(await index()).toEqual(expectedIndex(AGENTS));
    expect(await members('env=prod')).toEqual(['db-1', 'web-1', 'web-2']);
    expect(await members('capability')).toEqual(['batch:1', 'db-1', 'db-2', 'web-1', 'web-2', 'web-3']);
    expect(await members('tier=')).toEqual(['db-2']);
    expect(await db.hget(keys.agentTerms, 'web-2')).toBe('agent_type\nagent_type=web\ncanary\ncanary=true\ncapability\ncapability=http\nenv\nenv=prod\nregion\nregion=us');
    // Nothing indexable: no entry at all.
    expect(await db.hexists(keys.agentTerms, 'bare@x')).toBe(0);
    expect(await db.hget(keys.agentTerms, 'odd')).toBeNull();
    // The hello fields are stored as before.
    expect((await registry.getMany(['db-1']))[0]).toMatchObject({ agentType: 'db', capabilities: ['shell'], labels: AGENTS['db-1'].labels, state: 'online' });
  });

  it('moves an agent whose labels changed: old terms gone, new ones in, same terms kept once', async () => {
    AGENTS['web-2'] = profile('web', ['http', 'gpu'], { env: 'staging', region: 'us' });
    await registry.connect('web-2', 'replica-b', 's-web-2-again', AGENTS['web-2'], 4);
    expect(await index()).toEqual(expectedIndex(AGENTS));
    expect(await members('canary')).toEqual([]);
    expect(await db.exists(keys.labelPrefix + 'canary=true')).toBe(0);
    expect(await members('env=prod')).toEqual(['db-1', 'web-1']);
    expect(await members('env=staging')).toEqual(['db-2', 'web-2', 'web-3']);
    expect(await members('capability=gpu')).toEqual(['batch:1', 'web-2']);

    // All labels gone: the agent leaves every set and its entry is deleted.
    await registry.connect('web-3', 'replica-a', 's-web-3-again', profile('', [], {}), 4);
    expect(await db.hexists(keys.agentTerms, 'web-3')).toBe(0);
    expect(Object.values(await index()).flat()).not.toContain('web-3');
    await registry.connect('web-3', 'replica-a', 's-web-3-third', AGENTS['web-3'], 4);
    expect(await index()).toEqual(expectedIndex(AGENTS));
  });

  it('forgets an agent in the sweep: it leaves every term set and the terms hash', async () => {
    const [{ epoch }] = await registry.getMany(['db-2']);
    expect(await registry.disconnect('db-2', epoch, 'replica-a', 'test')).toBe(true);
    // A registry that keeps offline agents for 1 ms; thresholds so long nobody online moves.
    const forgetful = new AgentRegistry(db, keys, { ...limits, recordTtlMs: 1 });
    await waitFor('db-2 forgotten', async () => (await forgetful.sweep({ staleAfterMs: 3_600_000, offlineAfterMs: 3_600_000, replicaBeatMs: 1000, gapAfterMs: 3_600_000, failoverGraceMs: 0 }, 'replica-a')).forgotten === 1);
    delete AGENTS['db-2'];
    expect(await index()).toEqual(expectedIndex(AGENTS));
    expect(await db.hexists(keys.agentTerms, 'db-2')).toBe(0);
    expect(await db.zscore(keys.agentIndex, 'db-2')).toBeNull();
    expect(await members('capability=backup')).toEqual([]);
  });

  const SELECTORS = [
    '*',
    'env=prod',
    'env==staging',
    'env!=prod',
    'env',
    '!env',
    'region in (eu,us)',
    'region notin (eu)',
    'env=prod,region=eu',
    'env in (prod,staging),!canary,capability=shell',
    'agent_type=web',
    'agent_type in (web,db),capability in (http,backup)',
    '!agent_type',
    'capability',
    'capability=gpu,env!=dev',
    'tier=',
    'tier',
    'app.kubernetes.io/name=trainer',
    'env notin (prod,staging,dev)',
    'env=prod,env=staging',
    'nosuch=label',
    '!nosuch',
  ];

  it.each(SELECTORS)('selectorStore matches what matchesSelector says for %j', async (text) => {
    const sel = parseSelector(text);
    const expected = Object.keys(AGENTS).filter((id) => matchesSelector(sel, AGENTS[id])).sort();
    const dest = `${keys.fanoutAgentsPrefix}parent-1`;
    await db.zadd(dest, 5, 'stale-member'); // replaced, not merged
    const [count, withScores] = (await db.eval(WRAPPER, 2, dest, keys.agentIndex, keys.labelPrefix, JSON.stringify(selectorPlan(sel)))) as [number, string[]];
    const ids = withScores.filter((_, i) => i % 2 === 0);
    expect(ids).toEqual(expected);
    expect(count).toBe(expected.length);
    expect(new Set(withScores.filter((_, i) => i % 2 === 1))).toEqual(new Set(expected.length ? ['0'] : []));
    // Temporary union keys are gone.
    expect(await db.keys(`${dest}#*`)).toEqual([]);
  });

  it('the selectors above cover both outcomes for every agent', async () => {
    const ids = Object.keys(AGENTS);
    const matched = new Set(SELECTORS.flatMap((t) => ids.filter((id) => matchesSelector(parseSelector(t), AGENTS[id]))));
    const missed = new Set(SELECTORS.flatMap((t) => ids.filter((id) => !matchesSelector(parseSelector(t), AGENTS[id]))));
    expect([...matched].sort()).toEqual([...ids].sort());
    expect([...missed].sort()).toEqual([...ids].sort());
  });
});
