import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type Redis from 'ioredis';
import { CommandStore } from '../../src/redis-bridge/command-store';
import type { Outgoing, RoutedEntry } from '../../src/redis-bridge/command-types';
import { CONSUMER_GROUP, NexusKeys } from '../../src/redis-bridge/keys';
import { ReplicaBell, type BellMessage } from '../../src/redis-bridge/replica-bell';
import { defineScripts } from '../../src/redis-bridge/script-loader';
import '../../src/redis-bridge/script-commands';
import { createLogger } from '../../src/shared/logger';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const keys = new NexusKeys('nexus');
const EPOCH = 7;
const LIMITS = { retentionMs: 60_000, eventsMaxLen: 10_000, dlqMaxLen: 1000, dlqPayloadBytes: 4096, mailboxMax: 1000, poisonDeliveries: 5, retryBaseMs: 50, retryMaxMs: 200, indexLifeMs: 120_000 };

/**
 * The three ways a command reaches a session, at the store: delivered by routing itself (to
 * the caller, or pushed to the owner's bell), refilled by the results that free the window,
 * and delivery runs (with the resend of what is already in flight to the session).
 */
describe('delivery paths', () => {
  const redis = new RedisServer();
  let db: Redis;
  let store: CommandStore;
  let n = 0;

  /** XADDs commands for `target`, reads them as consumer r1 and routes them in one call. */
  async function route(target: string, count: number, priority = 5) {
    for (let i = 0; i < count; i++) await db.xadd(keys.commandsStream, '*', 'x', 'y');
    const read = (await db.xreadgroup('GROUP', CONSUMER_GROUP, 'r1', 'COUNT', count, 'STREAMS', keys.commandsStream, '>')) as [string, [string, string[]][]][];
    const entries: RoutedEntry[] = read[0][1].map(([entryId]) => ({
      entryId,
      command: { commandId: `c-${++n}`, target, commandType: 'echo', payload: `p${n}`, priority, correlationId: 'k', maxAttempts: 3, ttlMs: 60_000, requestedBy: '', redriveOf: '', parentId: '' },
    }));
    const results = await store.routeBatch(entries);
    return results.map((r, i) => ({ ...r, commandId: entries[i].command.commandId }));
  }

  async function online(agentId: string, owner: string, window: number): Promise<void> {
    await db.hset(keys.agent(agentId), 'replica', owner, 'state', 'online', 'epoch', EPOCH, 'window', window, 'inflight', 0);
  }

  const succeeded = (agentId: string, c: Outgoing, refillWindow: number) => ({
    commandId: c.commandId, agentId, epoch: EPOCH, outcome: 'succeeded' as const, output: 'ok', error: '', durationMs: 1, permanent: false, attempt: c.attempt, refillWindow,
  });

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    defineScripts(db);
    store = new CommandStore(db, keys, LIMITS, 'r1');
  });

  beforeEach(async () => {
    await db.flushall();
    await db.xgroup('CREATE', keys.commandsStream, CONSUMER_GROUP, '0', 'MKSTREAM');
  });

  afterAll(async () => {
    db?.disconnect();
    await redis.destroy();
  });

  it('routing delivers at once to a session with a free slot, queues the rest, and wakes nobody for a full window', async () => {
    await online('mine', 'r1', 2);
    const results = await route('mine', 3);
    expect(results.map((r) => r.outcome)).toEqual(['delivered', 'delivered', 'queued']);
    expect(results[0]).toMatchObject({ owner: 'r1', epoch: EPOCH });
    expect(results[0].expireAt).toBeGreaterThan(Date.now());
    const record = await db.hgetall(keys.command(results[0].commandId));
    expect(record).toMatchObject({ state: 'delivered', delivered_epoch: String(EPOCH), delivered_by: 'r1', deliveries: '1' });
    expect(record.timeline.split('\n').map((s) => JSON.parse(s).event)).toEqual(['queued', 'delivered']);
    expect(await db.hget(keys.agent('mine'), 'inflight')).toBe('2');
    expect(await db.hgetall(keys.commandCounts)).toMatchObject({ delivered: '2', queued: '1' });
    // The window is full: the results that free it refill it, so no delivery run is asked for.
    expect(await db.scard(keys.replicaWake('r1'))).toBe(0);
  });

  it('pushes what it delivers to another replica\'s session over that replica\'s bell', async () => {
    const subscriber = redis.client();
    const messages: BellMessage[] = [];
    const bell = new ReplicaBell(db, subscriber, keys, createLogger('silent'));
    await bell.start('r2', (m) => messages.push(m));
    try {
      await online('theirs', 'r2', 4);
      const results = await route('theirs', 2, 9);
      expect(results.map((r) => [r.outcome, r.owner])).toEqual([['delivered', 'r2'], ['delivered', 'r2']]);
      await waitFor('the push arrived', () => messages.length > 0);
      expect(messages).toEqual([{
        kind: 'commands',
        agents: [{
          agentId: 'theirs',
          epoch: EPOCH,
          commands: results.map((r) => ({ commandId: r.commandId, commandType: 'echo', payload: `p${r.commandId.slice(2)}`, priority: 9, attempt: 1, correlationId: 'k', deadlineUnixMs: r.expireAt })),
        }],
      }]);
    } finally {
      bell.close();
      subscriber.disconnect();
    }
  });

  it('keeps the mailbox order: nothing is delivered at once while ready commands wait', async () => {
    // Queued while the agent was away (no window known), then the agent is back with room.
    await db.hset(keys.agent('back'), 'replica', 'r1', 'state', 'offline', 'epoch', EPOCH);
    expect((await route('back', 1, 1)).map((r) => r.outcome)).toEqual(['queued']);
    await online('back', 'r1', 4);
    expect((await route('back', 1, 10)).map((r) => r.outcome)).toEqual(['queued']);
    expect(await db.smembers(keys.replicaWake('r1'))).toEqual(['back']);
    const run = await store.deliver('back', EPOCH, 4);
    expect(run.commands.map((c) => c.priority)).toEqual([10, 1]);
  });

  it('a batch of results refills the window it frees, and only a session that may take more', async () => {
    await online('busy', 'r1', 2);
    const results = await route('busy', 4);
    const inFlight = results.filter((r) => r.outcome === 'delivered');
    expect(inFlight).toHaveLength(2);
    const sent = (r: (typeof results)[number]): Outgoing => ({ commandId: r.commandId, commandType: 'echo', payload: '', priority: 5, attempt: 1, correlationId: '', deadlineUnixMs: 0 });

    const first = await store.completeBatch([succeeded('busy', sent(inFlight[0]), 2)]);
    expect(first.applied).toEqual([{ code: 1, retryInMs: 0 }]);
    expect(first.refills).toEqual([{ agentId: 'busy', nextRetryInMs: 0, commands: [expect.objectContaining({ commandId: results[2].commandId, attempt: 1 })] }]);
    expect(await db.hget(keys.command(results[2].commandId), 'state')).toBe('delivered');

    // Refill window 0 (backpressure, or a session leaving): finished, nothing new picked.
    const second = await store.completeBatch([succeeded('busy', sent(inFlight[1]), 0)]);
    expect(second).toEqual({ applied: [{ code: 1, retryInMs: 0 }], refills: [] });
    expect(await db.hget(keys.command(results[3].commandId), 'state')).toBe('queued');
    expect(await db.hget(keys.agent('busy'), 'inflight')).toBe('1');
  });

  it('routes only entries still pending for the caller, also when more of its entries lie in between', async () => {
    // 60 entries pending for r1; r2 takes one of them over. A chunk of the first, the taken
    // and the last: the range read of r1's pending entries is cut short, the rest looked up.
    for (let i = 0; i < 60; i++) await db.xadd(keys.commandsStream, '*', 'x', 'y');
    const read = (await db.xreadgroup('GROUP', CONSUMER_GROUP, 'r1', 'COUNT', 60, 'STREAMS', keys.commandsStream, '>')) as [string, [string, string[]][]][];
    const ids = read[0][1].map(([id]) => id);
    await db.xclaim(keys.commandsStream, CONSUMER_GROUP, 'r2', 0, ids[30]);
    const command = (commandId: string) => ({ commandId, target: 'nobody', commandType: 'echo', payload: '', priority: 5, correlationId: '', maxAttempts: 3, ttlMs: 60_000, requestedBy: '', redriveOf: '', parentId: '' });
    const results = await store.routeBatch([ids[0], ids[30], ids[59]].map((entryId, i) => ({ entryId, command: command(`f-${i}`) })));
    expect(results.map((r) => r.outcome)).toEqual(['queued', 'not_owner', 'queued']);
    expect(await db.exists(keys.command('f-1'))).toBe(0);
    // The routed ones are acknowledged; the taken one stays r2's.
    const pending = (await db.xpending(keys.commandsStream, CONSUMER_GROUP, '-', '+', 100)) as [string, string][];
    expect(pending).toHaveLength(58);
    expect(pending.find(([id]) => id === ids[30])?.[1]).toBe('r2');
  });

  it('a resend run returns what is in flight to the session; a plain run does not', async () => {
    await online('resend', 'r2', 4);
    const [pushed] = await route('resend', 1);
    expect(pushed.outcome).toBe('delivered');
    // The push may never have reached r2's session (it was still registering, or the bell's
    // connection dropped): only a resend run brings it back.
    expect((await store.deliver('resend', EPOCH, 4)).commands).toEqual([]);
    const resent = await store.deliver('resend', EPOCH, 4, true);
    expect(resent.commands).toEqual([expect.objectContaining({ commandId: pushed.commandId, attempt: 1, payload: expect.stringMatching(/^p/) })]);
    // A resend is no new delivery: same state, same count, no second event.
    expect(await db.hget(keys.command(pushed.commandId), 'deliveries')).toBe('1');
    expect(await db.hget(keys.agent('resend'), 'inflight')).toBe('1');
    // Another session (epoch) gets nothing of it.
    expect(await store.deliver('resend', EPOCH + 1, 4, true)).toMatchObject({ fenced: true, commands: [] });
  });
});

describe('the replica bell', () => {
  const redis = new RedisServer();

  beforeAll(() => redis.start());
  afterAll(() => redis.destroy());

  it('says when its subscription is back after the connection dropped, and hears what is published from then on', async () => {
    const publisher = redis.client();
    const subscriber = redis.client();
    const bell = new ReplicaBell(publisher, subscriber, keys, createLogger('silent'));
    const heard: BellMessage[] = [];
    let resubscribed = 0;
    try {
      await bell.start('r9', (m) => heard.push(m), () => resubscribed++);
      await publisher.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await waitFor('subscribed again', () => resubscribed === 1);
      await bell.ring('r9', { kind: 'mail' });
      await waitFor('the ring is heard', () => heard.length === 1);
      expect(heard).toEqual([{ kind: 'mail' }]);
    } finally {
      bell.close();
      publisher.disconnect();
      subscriber.disconnect();
    }
  });
});
