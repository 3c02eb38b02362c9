import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/agent/command-errors';
import type { CommandContext } from '../../src/agent/handlers';
import { INGRESS, eventCounts, readDlq } from '../helpers/commands';
import { readEvents } from '../helpers/events';
import { childRecords, parentTerminal, TERMINAL, useLabelledAgents, type LabelledAgent } from '../helpers/fanout';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';

/*
 * Edges of targeting (issue 16): a repeated entry id, a label change, include_offline, a
 * cancelled waiting `pick any`, retried children, and targeting fields that do not go together.
 */

describe('fan-out edges', () => {
  const fx = useOrchestrator({ RETRY_BASE_MS: '100', RETRY_MAX_MS: '200' });
  const start = useLabelledAgents();

  it('the same command id XADDed twice fans out once', async () => {
    const db = fx.redis.client();
    const agents = [];
    for (const id of ['d1', 'd2', 'd3']) agents.push(await start(fx.port, { agentId: id, labels: { dup: 'y' } }));
    await db.xadd(INGRESS, '*', 'selector', 'dup=y', 'command_id', 'dup-1', 'command_type', 'echo', 'payload', 'a');
    await db.xadd(INGRESS, '*', 'selector', 'dup=y', 'command_id', 'dup-1', 'command_type', 'echo', 'payload', 'a');
    const parent = await parentTerminal(db, 'dup-1');
    expect(parent).toMatchObject({ state: 'succeeded', matched: '3', n_succeeded: '3' });
    await waitFor('both entries handled', async () => {
      const groups = (await db.xinfo('GROUPS', INGRESS)) as unknown[][];
      const g = groups[0];
      return Number(g[g.indexOf('pending') + 1]) === 0 && Number(g[g.indexOf('lag') + 1]) === 0;
    });
    expect(agents.map((a) => a.runs)).toEqual([['dup-1/d1'], ['dup-1/d2'], ['dup-1/d3']]);
    expect((await eventCounts(db, 'command_queued')).get('dup-1')).toBe(1);
    expect(await childRecords(db, 'dup-1')).toHaveLength(3);
    db.disconnect();
  });

  it('a label change (a new hello) moves the agent in the index', async () => {
    const db = fx.redis.client();
    const first = await start(fx.port, { agentId: 'lc', labels: { stage: 'blue' } });
    await first.agent.close();
    const again = await start(fx.port, { agentId: 'lc', labels: { stage: 'green' } });
    await db.xadd(INGRESS, '*', 'selector', 'stage=blue', 'command_id', 'lc-blue', 'command_type', 'echo', 'payload', '');
    await db.xadd(INGRESS, '*', 'selector', 'stage=green', 'command_id', 'lc-green', 'command_type', 'echo', 'payload', '');
    const green = await parentTerminal(db, 'lc-green');
    expect(green).toMatchObject({ state: 'succeeded', matched: '1', skipped: '0' });
    const dead = await waitFor('lc-blue dead-lettered', async () => (await readDlq(db)).find((d) => d.command_id === 'lc-blue'));
    expect(dead.reason).toBe('no_match');
    expect(again.runs).toEqual(['lc-green/lc']);
    db.disconnect();
  });

  it('offline matching agents are skipped by default and get their child with include_offline when they return', async () => {
    const db = fx.redis.client();
    const on = await start(fx.port, { agentId: 'o-on', labels: { pool: 'o' } });
    const off = await start(fx.port, { agentId: 'o-off', labels: { pool: 'o' } });
    await off.agent.close();
    await waitFor('o-off offline', async () => (await db.hget('nexus:agent:o-off', 'state')) !== 'online');

    await db.xadd(INGRESS, '*', 'selector', 'pool=o', 'command_id', 'off-skip', 'command_type', 'echo', 'payload', '');
    const skip = await parentTerminal(db, 'off-skip');
    expect(skip).toMatchObject({ state: 'succeeded', matched: '1', skipped: '1', n_succeeded: '1' });
    expect(await db.zrange('nexus:fanout-skipped:off-skip', '0', '-1')).toEqual(['o-off']);

    await db.xadd(INGRESS, '*', 'selector', 'pool=o', 'command_id', 'off-incl', 'command_type', 'echo', 'payload', '', 'include_offline', 'true');
    await waitFor('o-on ran off-incl', () => on.runs.includes('off-incl/o-on'));
    const waiting = await waitFor('off-incl planned', async () => {
      const rec = await db.hgetall('nexus:command:off-incl');
      return rec.launched === '2' ? rec : undefined;
    });
    expect(waiting).toMatchObject({ matched: '2', skipped: '0' });
    expect(TERMINAL.has(waiting.state)).toBe(false); // o-off's child waits for it
    const back = await start(fx.port, { agentId: 'o-off', labels: { pool: 'o' } });
    const incl = await parentTerminal(db, 'off-incl');
    expect(incl).toMatchObject({ state: 'succeeded', matched: '2', n_succeeded: '2' });
    expect(back.runs).toEqual(['off-incl/o-off']);

    // Only offline agents match: no_match, saying so.
    await on.agent.close();
    await back.agent.close();
    await waitFor('both offline', async () => (await Promise.all(['o-on', 'o-off'].map((a) => db.hget(`nexus:agent:${a}`, 'state')))).every((s) => s !== 'online'));
    await db.xadd(INGRESS, '*', 'selector', 'pool=o', 'command_id', 'off-none', 'command_type', 'echo', 'payload', '');
    const dead = await waitFor('off-none dead-lettered', async () => (await readDlq(db)).find((d) => d.command_id === 'off-none'));
    expect(dead.reason).toBe('no_match');
    expect(dead.error).toMatch(/offline/);
    db.disconnect();
  });

  it('a waiting pick any that is cancelled leaves the waiting list and never runs', async () => {
    const db = fx.redis.client();
    const held: (() => void)[] = [];
    const hold = (ctx: CommandContext): Promise<string> => new Promise((resolve) => held.push(() => resolve(ctx.commandId)));
    const busy = await start(fx.port, { agentId: 'w1', labels: { q: 'w' }, maxConcurrency: 1 }, { hold });
    await db.xadd(INGRESS, '*', 'selector', 'q=w', 'pick', 'any', 'command_id', 'w-a', 'command_type', 'hold', 'payload', '');
    await waitFor('w-a running', () => held.length === 1);
    await db.xadd(INGRESS, '*', 'selector', 'q=w', 'pick', 'any', 'command_id', 'w-b', 'command_type', 'hold', 'payload', '');
    await waitFor('w-b waiting', async () => (await db.zscore('nexus:commands:waiting', 'w-b')) !== null);
    await db.xadd(INGRESS, '*', 'type', 'command_cancel', 'command_id', 'w-b');
    await waitFor('w-b cancelled', async () => (await db.hget('nexus:command:w-b', 'state')) === 'cancelled');
    expect(await db.zscore('nexus:commands:waiting', 'w-b')).toBeNull();
    held[0]();
    await waitFor('w-a succeeded', async () => (await db.hget('nexus:command:w-a', 'state')) === 'succeeded');
    // The freed slot is not given to the cancelled command: a new one gets it.
    await db.xadd(INGRESS, '*', 'selector', 'q=w', 'pick', 'any', 'command_id', 'w-c', 'command_type', 'hold', 'payload', '');
    await waitFor('w-c running', () => held.length === 2);
    held[1]();
    await waitFor('w-c succeeded', async () => (await db.hget('nexus:command:w-c', 'state')) === 'succeeded');
    expect(busy.runs).toEqual(['w-a', 'w-c']);
    db.disconnect();
  });

  it('children are retried like any command, their events carrying parent_id', async () => {
    const db = fx.redis.client();
    const tries = new Map<string, number>();
    const flaky = (ctx: CommandContext): string => {
      const n = (tries.get(ctx.commandId) ?? 0) + 1;
      tries.set(ctx.commandId, n);
      if (n === 1) throw new Error('first try fails');
      return 'ok';
    };
    for (const id of ['r1', 'r2']) await start(fx.port, { agentId: id, labels: { retry: 'y' } }, { flaky });
    await db.xadd(INGRESS, '*', 'selector', 'retry=y', 'command_id', 'rt-1', 'command_type', 'flaky', 'payload', '', 'max_attempts', '3');
    const parent = await parentTerminal(db, 'rt-1');
    expect(parent).toMatchObject({ state: 'succeeded', n_succeeded: '2', n_failed: '0', finished: '2' });
    expect([...tries.entries()].sort()).toEqual([['rt-1/r1', 2], ['rt-1/r2', 2]]);
    const events = (await readEvents(db)).filter((e) => e.command_id?.startsWith('rt-1/'));
    const types = new Set(events.map((e) => e.type));
    for (const t of ['command_queued', 'command_delivered', 'command_retrying', 'command_succeeded']) expect(types).toContain(t);
    if (process.env.DUMP_EVENTS) console.log(events);
    for (const e of events) expect({ type: e.type, parent: e.parent_id }).toEqual({ type: e.type, parent: 'rt-1' });
    db.disconnect();
  });

  it("a parent cancelled while its child's agent is away ends cancelled once the agent is back", async () => {
    const db = fx.redis.client();
    const hold = (ctx: CommandContext): Promise<string> => new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
    const first = await start(fx.port, { agentId: 'away', labels: { away: 'y' } }, { hold });
    await db.xadd(INGRESS, '*', 'selector', 'away=y', 'command_id', 'away-1', 'command_type', 'hold', 'payload', '');
    await waitFor('child running', () => first.runs.includes('away-1/away'));
    await first.agent.close();
    await waitFor('agent away', async () => (await db.hget('nexus:agent:away', 'state')) !== 'online');
    expect(await db.hget('nexus:command:away-1/away', 'state')).toBe('delivered');
    await db.xadd(INGRESS, '*', 'type', 'command_cancel', 'command_id', 'away-1');
    await waitFor('cancel requested on the child', async () => (await db.hget('nexus:command:away-1/away', 'cancel_requested')) !== null);
    // The agent comes back: the child is finished as cancelled, and so is the parent.
    await start(fx.port, { agentId: 'away', labels: { away: 'y' } }, { hold });
    await waitFor('child cancelled', async () => (await db.hget('nexus:command:away-1/away', 'state')) === 'cancelled');
    const parent = await parentTerminal(db, 'away-1', 5000);
    expect(parent).toMatchObject({ state: 'cancelled', launched: '1', finished: '1', n_cancelled: '1' });
    const cancelled = (await readEvents(db)).filter((e) => e.type === 'command_cancelled' && e.command_id === 'away-1/away');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0].parent_id).toBe('away-1');
    db.disconnect();
  });

  it('cancelling a parent whose children all run cancels each on its agent; a child for an absent agent expires', async () => {
    const db = fx.redis.client();
    let aborted = 0;
    const hold = (ctx: CommandContext): Promise<string> => new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        aborted++;
        reject(new CancelledError('cancelled'));
      }, { once: true });
    });
    const agents: LabelledAgent[] = [];
    for (const id of ['k1', 'k2', 'k3', 'k4']) agents.push(await start(fx.port, { agentId: id, labels: { kill: 'y' } }, { hold }));
    await db.xadd(INGRESS, '*', 'selector', 'kill=y', 'command_id', 'kc-1', 'command_type', 'hold', 'payload', '');
    await waitFor('4 running', () => agents.every((a) => a.runs.length === 1));
    await db.xadd(INGRESS, '*', 'type', 'command_cancel', 'command_id', 'kc-1');
    const parent = await parentTerminal(db, 'kc-1');
    expect(parent).toMatchObject({ state: 'cancelled', launched: '4', finished: '4', n_cancelled: '4', n_succeeded: '0' });
    expect(aborted).toBe(4);
    for (const c of await childRecords(db, 'kc-1')) expect(c.state).toBe('cancelled');

    // include_offline: the child of an agent that never returns dies at its TTL, failing the parent.
    const gone = await start(fx.port, { agentId: 'k-gone', labels: { gone: 'y' } });
    await gone.agent.close();
    await waitFor('k-gone offline', async () => (await db.hget('nexus:agent:k-gone', 'state')) !== 'online');
    await db.xadd(INGRESS, '*', 'selector', 'gone=y', 'command_id', 'kc-ttl', 'command_type', 'echo', 'payload', '', 'include_offline', '1', 'ttl_ms', '500');
    const expired = await parentTerminal(db, 'kc-ttl', 10_000);
    expect(expired).toMatchObject({ matched: '1', launched: '1', finished: '1', n_dead: '1' });
    expect(expired.state).toBe('failed'); // contract: failed when any child failed or is dead
    expect(await db.hgetall('nexus:command:kc-ttl/k-gone')).toMatchObject({ state: 'dead', dead_reason: 'expired' });
    db.disconnect();
  });

  it('targeting fields that do not go together are dead-lettered invalid, naming the field', async () => {
    const db = fx.redis.client();
    await start(fx.port, { agentId: 'v1', labels: { v: 'y' } });
    const cases: [string, string[], RegExp][] = [
      ['inv-both', ['target', 'v1', 'selector', 'v=y'], /target|selector/],
      ['inv-any-batch', ['selector', 'v=y', 'pick', 'any', 'batch', '2'], /batch/],
      ['inv-batch0', ['selector', 'v=y', 'batch', '0'], /batch/],
      ['inv-batch101', ['selector', 'v=y', 'batch', '101%'], /batch/],
      ['inv-pick', ['selector', 'v=y', 'pick', 'some'], /pick/],
      ['inv-offline', ['selector', 'v=y', 'include_offline', 'maybe'], /include_offline/],
    ];
    for (const [id, fields] of cases) await db.xadd(INGRESS, '*', 'command_id', id, 'command_type', 'echo', 'payload', '', ...fields);
    const dead = await waitFor('all dead-lettered', async () => {
      const all = (await readDlq(db)).filter((d) => d.command_id?.startsWith('inv-'));
      return all.length >= cases.length ? all : undefined;
    });
    for (const [id, , error] of cases) {
      const d = dead.find((x) => x.command_id === id);
      expect({ id, reason: d?.reason }).toEqual({ id, reason: 'invalid' });
      expect(d?.error).toMatch(error);
      expect(await db.exists(`nexus:command:${id}`)).toBe(0);
    }
    db.disconnect();
  });
});

describe('forgotten agents leave the label index', () => {
  const fx = useOrchestrator({ AGENT_RETENTION_SEC: '1' });
  const start = useLabelledAgents();

  it('an agent forgotten after AGENT_RETENTION_SEC is matched no more, even with include_offline', async () => {
    const db = fx.redis.client();
    const keep = await start(fx.port, { agentId: 'f-keep', labels: { forget: 'y' } });
    const gone = await start(fx.port, { agentId: 'f-gone', labels: { forget: 'y', only: 'gone' } });
    expect(await db.sismember('nexus:lbl:forget=y', 'f-gone')).toBe(1);
    expect(await db.hexists('nexus:agents:terms', 'f-gone')).toBe(1);
    await gone.agent.close();
    await waitFor('f-gone forgotten', async () => (await db.exists('nexus:agent:f-gone')) === 0 && (await db.zscore('nexus:agents:index', 'f-gone')) === null, { timeoutMs: 10_000, intervalMs: 100 });
    expect(await db.sismember('nexus:lbl:forget=y', 'f-gone')).toBe(0);
    expect(await db.hexists('nexus:agents:terms', 'f-gone')).toBe(0);

    await db.xadd(INGRESS, '*', 'selector', 'forget=y', 'command_id', 'fg-1', 'command_type', 'echo', 'payload', '', 'include_offline', 'true');
    const parent = await parentTerminal(db, 'fg-1');
    expect(parent).toMatchObject({ state: 'succeeded', matched: '1', skipped: '0', n_succeeded: '1' });
    expect(keep.runs).toEqual(['fg-1/f-keep']);
    await db.xadd(INGRESS, '*', 'selector', 'only=gone', 'command_id', 'fg-2', 'command_type', 'echo', 'payload', '', 'include_offline', 'true');
    const dead = await waitFor('fg-2 dead-lettered', async () => (await readDlq(db)).find((d) => d.command_id === 'fg-2'));
    expect(dead.reason).toBe('no_match');
    db.disconnect();
  });
});
