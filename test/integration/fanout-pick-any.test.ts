import { describe, expect, it } from 'vitest';
import type { CommandContext } from '../../src/agent/handlers';
import { INGRESS } from '../helpers/commands';
import { readEvents } from '../helpers/events';
import { TERMINAL, useLabelledAgents } from '../helpers/fanout';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';

/*
 * `pick any` (issue 16): one agent among the matching ones, online, with a free window slot,
 * fewest in flight first; when none is free the command waits in nexus:commands:waiting, up to
 * its TTL.
 */

const WAITING = 'nexus:commands:waiting';

describe('pick any', () => {
  const fx = useOrchestrator();
  const start = useLabelledAgents();

  it('spreads 6 commands 2/2/2 over 3 agents of window 2, queues the 7th until a slot frees, expires one that never finds a slot', async () => {
    const db = fx.redis.client();
    // Each run is held until the test releases it, so "busy" is exact, not timing.
    const held = new Map<string, { agent: string; release: () => void }>();
    const hold = (ctx: CommandContext): Promise<string> => new Promise((resolve) => {
      held.set(ctx.commandId, { agent: ctx.agentId, release: () => resolve(`done by ${ctx.agentId}`) });
    });
    const agents = [];
    for (const id of ['p1', 'p2', 'p3']) agents.push(await start(fx.port, { agentId: id, labels: { pool: 'x' }, maxConcurrency: 2 }, { hold }));
    // Another agent the selector does not match stays idle.
    const other = await start(fx.port, { agentId: 'q1', labels: { pool: 'y' }, maxConcurrency: 2 }, { hold });
    // The window each session got is the agent's max_concurrency.
    await waitFor('agent windows recorded', async () => (await Promise.all(['p1', 'p2', 'p3'].map((a) => db.hget(`nexus:agent:${a}`, 'window')))).every((w) => w === '2'));

    const anyCmd = (id: string, ...extra: string[]) => db.xadd(INGRESS, '*', 'selector', 'pool=x', 'pick', 'any', 'command_id', id, 'command_type', 'hold', 'payload', '', ...extra);
    // Fewest in flight first: the first 3 land on 3 different agents (not 2 on one).
    for (let i = 1; i <= 3; i++) await anyCmd(`any-${i}`);
    await waitFor('3 runs held', () => held.size === 3, { timeoutMs: 10_000 });
    expect(['any-1', 'any-2', 'any-3'].map((id) => held.get(id)?.agent).sort()).toEqual(['p1', 'p2', 'p3']);
    for (let i = 4; i <= 6; i++) await anyCmd(`any-${i}`);
    await waitFor('6 runs held', () => held.size === 6, { timeoutMs: 10_000 });
    const perAgent = (ids: string[]) => ids.map((id) => held.get(id)?.agent).sort();
    expect(perAgent(['any-1', 'any-2', 'any-3', 'any-4', 'any-5', 'any-6'])).toEqual(['p1', 'p1', 'p2', 'p2', 'p3', 'p3']);
    for (let i = 1; i <= 6; i++) {
      const rec = await db.hgetall(`nexus:command:any-${i}`);
      expect(rec).toMatchObject({ pick: 'any', selector: 'pool=x', target: held.get(`any-${i}`)!.agent });
      expect(rec.fanout ?? '').not.toBe('1');
    }

    // All 6 slots are taken: the 7th waits, untargeted.
    await anyCmd('any-7');
    await waitFor('any-7 waiting', async () => (await db.zscore(WAITING, 'any-7')) !== null, { timeoutMs: 5000 });
    expect(await db.hgetall('nexus:command:any-7')).toMatchObject({ state: 'queued', target: '', pick: 'any' });
    expect(held.has('any-7')).toBe(false);

    // p2 frees a slot: the 7th is placed there and runs.
    const freed = held.get('any-3')!.agent;
    held.get('any-3')!.release();
    await waitFor('any-3 succeeded', async () => (await db.hget('nexus:command:any-3', 'state')) === 'succeeded');
    await waitFor('any-7 placed and running', () => held.has('any-7'), { timeoutMs: 5000 });
    expect(held.get('any-7')!.agent).toBe(freed);
    expect(await db.zscore(WAITING, 'any-7')).toBeNull();
    expect(await db.hget('nexus:command:any-7', 'target')).toBe(freed);

    // Every slot is taken again: a pick any with a short TTL never finds one and ends dead `expired`.
    await anyCmd('any-short', 'ttl_ms', '600');
    const dead = await waitFor('any-short terminal', async () => {
      const rec = await db.hgetall('nexus:command:any-short');
      return TERMINAL.has(rec.state) ? rec : undefined;
    }, { timeoutMs: 10_000 });
    expect(dead).toMatchObject({ state: 'dead', dead_reason: 'expired', target: '' });
    expect(held.has('any-short')).toBe(false);
    expect(await db.zscore(WAITING, 'any-short')).toBeNull();
    expect((await readEvents(db)).some((e) => e.type === 'command_dead' && e.command_id === 'any-short')).toBe(true);

    // Release everything: all 7 succeed, each ran once, the unmatched agent ran nothing.
    for (const h of held.values()) h.release();
    for (let i = 1; i <= 7; i++) {
      await waitFor(`any-${i} succeeded`, async () => (await db.hget(`nexus:command:any-${i}`, 'state')) === 'succeeded');
    }
    const runs = agents.flatMap((a) => a.runs).sort();
    expect(runs).toEqual(['any-1', 'any-2', 'any-3', 'any-4', 'any-5', 'any-6', 'any-7']);
    expect(other.runs).toEqual([]);
    db.disconnect();
  });

  it('waiting commands are placed highest priority first, in arrival order within a priority, also on an agent that connects later', async () => {
    const db = fx.redis.client();
    const held = new Map<string, () => void>();
    const order: string[] = [];
    const hold = (ctx: CommandContext): Promise<string> => new Promise((resolve) => {
      order.push(ctx.commandId);
      held.set(ctx.commandId, () => resolve('ok'));
    });
    const anyCmd = (id: string, priority: string) => db.xadd(INGRESS, '*', 'selector', 'pool=prio', 'pick', 'any', 'command_id', id, 'command_type', 'hold', 'payload', '', 'priority', priority);
    await start(fx.port, { agentId: 'pr1', labels: { pool: 'prio' }, maxConcurrency: 1 }, { hold });
    await anyCmd('pr-first', '5');
    await waitFor('pr-first running', () => held.has('pr-first'));
    await anyCmd('pr-low-1', '2');
    await anyCmd('pr-low-2', '2');
    await anyCmd('pr-high', '8');
    await waitFor('3 waiting', async () => (await db.zcard(WAITING)) === 3);

    // A second matching agent connects: it gets the most urgent waiting command.
    await start(fx.port, { agentId: 'pr2', labels: { pool: 'prio' }, maxConcurrency: 1 }, { hold });
    await waitFor('pr-high placed', () => held.has('pr-high'), { timeoutMs: 5000 });
    expect(await db.hget('nexus:command:pr-high', 'target')).toBe('pr2');
    // Then slots free one at a time: low-1 before low-2.
    held.get('pr-first')!();
    await waitFor('pr-low-1 placed', () => held.has('pr-low-1'), { timeoutMs: 5000 });
    expect(held.has('pr-low-2')).toBe(false);
    held.get('pr-high')!();
    await waitFor('pr-low-2 placed', () => held.has('pr-low-2'), { timeoutMs: 5000 });
    expect(order).toEqual(['pr-first', 'pr-high', 'pr-low-1', 'pr-low-2']);
    for (const release of held.values()) release();
    for (const id of order) await waitFor(`${id} succeeded`, async () => (await db.hget(`nexus:command:${id}`, 'state')) === 'succeeded');
    expect(await db.zcard(WAITING)).toBe(0);
    db.disconnect();
  });
});
