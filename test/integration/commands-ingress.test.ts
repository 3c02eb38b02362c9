import { describe, expect, it } from 'vitest';
import { useAgents } from '../helpers/agents';
import { INGRESS, groupState, readDlq, xaddMany } from '../helpers/commands';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';

const GROUP = 'orchestrator_group';

describe('ingress consumer group', () => {
  const fx = useOrchestrator({ CLAIM_MIN_IDLE_MS: '500', CLAIM_SWEEP_MS: '200', INGRESS_BLOCK_MS: '200', POISON_DELIVERIES: '5', MAINTENANCE_INTERVAL_MS: '100' });
  const startAgent = useAgents();
  const db = () => fx.redis.client();
  const state = async (id: string) => (await db().hget(`nexus:command:${id}`, 'state')) ?? undefined;

  /**
   * Adds an entry and hands it to a consumer that then "dies", in one MULTI, so no replica can
   * read it first: the replica can only get it by reclaiming it once it has been idle.
   */
  async function readByGhost(fields: string[], priorDeliveries = 0): Promise<string> {
    const client = db();
    const multi = client.multi().xadd(INGRESS, '*', ...fields).xreadgroup('GROUP', GROUP, 'ghost-replica', 'COUNT', 1, 'STREAMS', INGRESS, '>');
    const [[, id]] = (await multi.exec()) as [[null, string], unknown];
    if (priorDeliveries > 0) await client.xclaim(INGRESS, GROUP, 'ghost-replica', 0, id, 'RETRYCOUNT', priorDeliveries);
    const [[, owner]] = (await client.xpending(INGRESS, GROUP, id, id, 1)) as [string, string, number, number][];
    expect(owner).toBe('ghost-replica');
    return id;
  }

  it('reclaims an entry a dead consumer read but never handled, and routes it once', async () => {
    await startAgent('claimed', fx.port);
    const id = await readByGhost(['target', 'claimed', 'command_id', 'ghost-1', 'command_type', 'echo', 'payload', 'boo']);
    await waitFor('succeeded', async () => (await state('ghost-1')) === 'succeeded');
    const client = db();
    expect(await client.hget('nexus:command:ghost-1', 'source_id')).toBe(id);
    expect(await client.hget('nexus:command:ghost-1', 'handled_by')).not.toBe('ghost-replica');
    expect((await groupState(client)).pending).toBe(0);
  });

  it('dead-letters an entry delivered too many times as poison instead of looping', async () => {
    const id = await readByGhost(['target', 'nobody', 'command_id', 'poison-1', 'command_type', 'echo'], 9);
    const dead = await waitFor('poison in the DLQ', async () => (await readDlq(db())).find((e) => e.source_id === id));
    // 9 earlier deliveries + the reclaim that counted one more (XAUTOCLAIM without JUSTID).
    expect(dead).toMatchObject({ reason: 'poison', attempts: '10', command_id: 'poison-1' });
    expect(await state('poison-1')).toBeUndefined();
    expect((await groupState(db())).pending).toBe(0);
  });

  it('routes the rest of a batch when Redis refuses one entry\'s mailbox, and ends that entry as poison', async () => {
    const client = db();
    await client.set('nexus:mailbox:wrong-type', 'not a mailbox');
    await xaddMany(client, [
      ['target', 'wt-a', 'command_id', 'wt-1', 'command_type', 'echo'],
      ['target', 'wrong-type', 'command_id', 'wt-2', 'command_type', 'echo'],
      ['target', 'wt-b', 'command_id', 'wt-3', 'command_type', 'echo'],
    ]);
    await waitFor('the others queued', async () => (await state('wt-1')) === 'queued' && (await state('wt-3')) === 'queued');
    // Nothing of the refused entry was written; it stays pending until it counts as poison.
    expect(await client.exists('nexus:command:wt-2')).toBe(0);
    const dead = await waitFor('wt-2 dead-lettered', async () => (await readDlq(client)).find((e) => e.command_id === 'wt-2'), { timeoutMs: 15_000 });
    expect(dead).toMatchObject({ reason: 'poison', target: 'wrong-type' });
    expect(await client.zcard('nexus:commands:deadlines')).toBeGreaterThanOrEqual(2);
    expect(Number(await client.hget('nexus:commands:counts', 'queued'))).toBeGreaterThanOrEqual(2);
    expect((await groupState(client)).pending).toBe(0);
  });

  it('recreates a lost group from the start of the stream (NOGROUP) and keeps routing', async () => {
    await startAgent('regrouped', fx.port);
    const client = db();
    await client.xgroup('DESTROY', INGRESS, GROUP);
    await xaddMany(client, [['target', 'regrouped', 'command_id', 'after-nogroup', 'command_type', 'echo']]);
    await waitFor('succeeded after the group was recreated', async () => (await state('after-nogroup')) === 'succeeded', { timeoutMs: 10_000 });
    // Recreated at 0: the older entries were replayed and deduplicated, not run again.
    expect(await client.hget('nexus:command:ghost-1', 'state')).toBe('succeeded');
  });

  it('keeps at most max_concurrency commands in flight per agent; the rest waits in Redis', async () => {
    let active = 0;
    let peak = 0;
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    await startAgent('windowed', fx.port, {
      hold: async () => {
        peak = Math.max(peak, ++active);
        await gate;
        active--;
        return 'ok';
      },
    }, 2);
    const client = db();
    await xaddMany(client, Array.from({ length: 10 }, (_, i) => ['target', 'windowed', 'command_id', `w-${i}`, 'command_type', 'hold']));
    await waitFor('two running', () => active === 2);
    const inState = async (s: string) => {
      let n = 0;
      for (const id of await client.zrange('nexus:mailbox:windowed', '0', '-1')) if ((await client.hget(`nexus:command:${id}`, 'state')) === s) n++;
      return n;
    };
    await waitFor('eight waiting in the mailbox', async () => (await inState('queued')) === 8);
    expect(await inState('delivered')).toBe(2);
    // The two in flight sit in the mailbox's in-flight band, so delivery reads only the eight.
    expect(await client.zcount('nexus:mailbox:windowed', 1e15, '+inf')).toBe(2);
    const done = async () => (await client.zcard('nexus:mailbox:windowed')) === 0;
    while (!(await done())) {
      release();
      gate = new Promise<void>((r) => (release = r));
      await new Promise((r) => setTimeout(r, 20));
      expect(await inState('delivered')).toBeLessThanOrEqual(2);
    }
    release();
    expect(peak).toBe(2);
  });
});
