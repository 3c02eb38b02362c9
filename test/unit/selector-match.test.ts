import { describe, expect, it } from 'vitest';
import { agentTerms, matchesSelector, parseSelector, type SelectorProfile } from '../../src/shared/selector';

const AGENTS: Record<string, SelectorProfile> = {
  web1: { agentType: 'web', capabilities: ['shell', 'http'], labels: { env: 'prod', region: 'eu' } },
  web2: { agentType: 'web', capabilities: ['http'], labels: { env: 'prod', region: 'us', canary: 'true' } },
  db1: { agentType: 'db', capabilities: ['shell'], labels: { env: 'staging', region: 'eu', tier: '' } },
  bare: { agentType: '', capabilities: [], labels: {} },
  // Labels the grammar cannot name are not indexed: for a selector they do not exist.
  odd: { agentType: 'batch job', capabilities: ['a,b', '', 'gpu'], labels: { 'bad key': 'x', env: 'has space', agent_type: 'web', capability: 'http' } },
};

/** Selector -> the agents it matches, in AGENTS order. */
const MATCHES: [string, string[]][] = [
  ['*', ['web1', 'web2', 'db1', 'bare', 'odd']],
  ['env=prod', ['web1', 'web2']],
  ['env==prod', ['web1', 'web2']],
  ['env!=prod', ['db1', 'bare', 'odd']],
  ['env', ['web1', 'web2', 'db1']],
  ['!env', ['bare', 'odd']],
  ['env in (prod,staging)', ['web1', 'web2', 'db1']],
  ['env notin (prod,staging)', ['bare', 'odd']],
  ['env=prod,region=eu', ['web1']],
  ['env=prod,!canary', ['web1']],
  ['region in (eu,us),env!=staging', ['web1', 'web2']],
  ['tier=', ['db1']],
  ['tier', ['db1']],
  ['agent_type=web', ['web1', 'web2']],
  ['agent_type', ['web1', 'web2', 'db1']],
  ['!agent_type', ['bare', 'odd']],
  ['capability=shell', ['web1', 'db1']],
  ['capability=gpu', ['odd']],
  ['capability in (shell,gpu),agent_type notin (db)', ['web1', 'odd']],
  ['capability=http,capability=shell', ['web1']],
  ['!capability', ['bare']],
  ['env=prod,env=staging', []],
  ['nolabel=x', []],
  ['!nolabel', ['web1', 'web2', 'db1', 'bare', 'odd']],
];

describe('matchesSelector', () => {
  it.each(MATCHES)('%j', (text, expected) => {
    const sel = parseSelector(text);
    expect(Object.keys(AGENTS).filter((id) => matchesSelector(sel, AGENTS[id]))).toEqual(expected);
  });
});

describe('agentTerms', () => {
  it('indexes each label, the agent type and each capability as key=value and key, sorted, once each', () => {
    expect(agentTerms(AGENTS.web2)).toEqual([
      'agent_type', 'agent_type=web', 'canary', 'canary=true', 'capability', 'capability=http', 'env', 'env=prod', 'region', 'region=us',
    ]);
    expect(agentTerms({ agentType: 'w', capabilities: ['x', 'x'], labels: {} })).toEqual(['agent_type', 'agent_type=w', 'capability', 'capability=x']);
  });

  it('keeps an empty label value, and drops what a selector cannot name', () => {
    expect(agentTerms(AGENTS.db1)).toContain('tier=');
    expect(agentTerms(AGENTS.bare)).toEqual([]);
    // Labels named agent_type / capability would shadow the built-ins; bad keys and values are skipped.
    expect(agentTerms(AGENTS.odd)).toEqual(['capability', 'capability=gpu']);
    expect(agentTerms({ agentType: 'x'.repeat(129), capabilities: [], labels: { ['k'.repeat(129)]: 'v', k: 'v'.repeat(129) } })).toEqual([]);
  });
});
