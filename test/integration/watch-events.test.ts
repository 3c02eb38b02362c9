import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import { statusClient } from '../helpers/grpc-clients';
import { startOrchestrator } from '../helpers/in-process';
import { spawnReplica } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { rssMb } from '../helpers/rss';
import { waitFor } from '../helpers/wait-for';
import { watchEvents } from '../helpers/watch-streams';
import { compareStreamIds } from '../../src/orchestrator/watch/stream-ids';

const EVENTS = 'nexus:events:stream';

/** Appends events the way the scripts do (type, ids, ts); returns their ids. */
async function emit(db: Redis, events: Record<string, string>[]): Promise<string[]> {
  const pipeline = db.pipeline();
  for (const e of events) pipeline.xadd(EVENTS, '*', ...Object.entries({ ts: String(Date.now()), ...e }).flat());
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, id]) => {
    if (err) throw err;
    return id as string;
  });
}

function metric(port: number, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`http://127.0.0.1:${port}/metrics`, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        let sum = 0;
        for (const line of body.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
        resolve(sum);
      });
    }).on('error', reject);
  });
}

describe('WatchEvents', () => {
  const redis = new RedisServer();
  let db: Redis;
  let orch: Awaited<ReturnType<typeof startOrchestrator>>;
  let client: ReturnType<typeof statusClient>;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    orch = await startOrchestrator(redis.url, { MAX_WATCHERS: '4' });
    client = statusClient(orch.grpcPort);
  });

  afterAll(async () => {
    client?.close();
    await orch?.orchestrator.shutdown();
    db?.disconnect();
    await redis.destroy();
  });

  it('from now, with filters: only the matching events, in order, each once', async () => {
    const w = watchEvents(client, { types: ['command_dead', 'command_succeeded'], agentId: 'a1' });
    // "Now" starts when the replica's tail has the watcher: send matching markers until one arrives.
    await waitFor('the watch is live', async () => {
      await emit(db, [{ type: 'command_dead', agent_id: 'a1', command_id: 'warm-up' }]);
      return w.messages.length > 0;
    });
    const seen = w.messages.length;
    const ids = await emit(db, [
      { type: 'command_dead', agent_id: 'a1', command_id: 'x1' },
      { type: 'command_dead', agent_id: 'a2', command_id: 'x2' },
      { type: 'command_queued', agent_id: 'a1', command_id: 'x3' },
      { type: 'agent_stale', agent_id: 'a1' },
      { type: 'command_succeeded', agent_id: 'a1', command_id: 'x4', replica: 'r9', ts: '1234' },
    ]);
    // More warm-up markers may still arrive after `seen` (the loop above may have sent several).
    const rest = await waitFor('two events', () => {
      const matching = w.messages.slice(seen).filter((m) => m.commandId !== 'warm-up');
      return matching.length >= 2 && matching;
    });
    expect(rest.map((m) => m.id)).toEqual([ids[0], ids[4]]);
    expect(rest[1]).toMatchObject({ type: 'command_succeeded', commandId: 'x4', agentId: 'a1', replicaId: 'r9', atUnixMs: 1234 });
    expect(rest[1].fields).toMatchObject({ type: 'command_succeeded', command_id: 'x4', replica: 'r9' });
    w.call.cancel();
    expect((await w.ended)?.code).toBe(status.CANCELLED);
  });

  it('from an id: what follows it, then live; cut and resumed, the two parts are the full sequence exactly', async () => {
    const [start] = await emit(db, [{ type: 'replica_up', replica: 'mark' }]);
    const old = await emit(db, Array.from({ length: 250 }, (_, i) => ({ type: 'command_queued', command_id: `s-${i}` })));
    const first = watchEvents(client, { after: start, types: ['command_queued'] }, (_m, all) => {
      if (all.length === 300) first.call.cancel();
    });
    // Live ones keep coming while the first watcher catches up and is cut.
    const live: string[] = [];
    for (let i = 0; i < 10; i++) live.push(...await emit(db, Array.from({ length: 25 }, (_, j) => ({ type: 'command_queued', command_id: `l-${i}-${j}` }))));
    expect((await first.ended)?.code).toBe(status.CANCELLED);
    const part1 = first.messages.map((m) => m.id);
    expect(part1.length).toBeGreaterThanOrEqual(300);
    const second = watchEvents(client, { after: part1[part1.length - 1], types: ['command_queued'] });
    const expected = [...old, ...live];
    await waitFor('the rest', () => part1.length + second.messages.length >= expected.length);
    expect([...part1, ...second.messages.map((m) => m.id)]).toEqual(expected);
    second.call.cancel();
  });

  it('catching up a long backlog while many live events arrive: every one, in order, once', async () => {
    const [start] = await emit(db, [{ type: 'replica_up', replica: 'mark-2' }]);
    const backlog: string[] = [];
    for (let i = 0; i < 20; i++) backlog.push(...await emit(db, Array.from({ length: 1000 }, (_, j) => ({ type: 'agent_stale', agent_id: `b-${i}-${j}` }))));
    const w = watchEvents(client, { after: start, types: ['agent_stale'] });
    await waitFor('catching up', () => w.messages.length > 0);
    // More live entries than a catching-up watcher keeps aside (1,000) arrive while it reads the backlog.
    const live: string[] = [];
    for (let i = 0; i < 5; i++) live.push(...await emit(db, Array.from({ length: 1000 }, (_, j) => ({ type: 'agent_stale', agent_id: `v-${i}-${j}` }))));
    const expected = [...backlog, ...live];
    await waitFor('all of them', () => w.messages.length >= expected.length, { timeoutMs: 30_000 });
    expect(w.messages.map((m) => m.id)).toEqual(expected);
    w.call.cancel();
  });

  it('refuses bad input naming the field, and a watcher over MAX_WATCHERS', async () => {
    const badType = watchEvents(client, { types: ['command_dead', 'exploded'] });
    expect(await badType.ended).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^types\[1\]: /) });
    const badAfter = watchEvents(client, { after: 'yesterday' });
    expect(await badAfter.ended).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^after: /) });

    // Four watchers that each got an event are open; the fifth is refused.
    const open = [1, 2, 3, 4].map(() => watchEvents(client, { after: '0-0' }));
    await waitFor('four watchers open', () => open.every((w) => w.messages.length > 0));
    // One events reader (one connection) for all of them, not one per watcher.
    const clients = (await db.client('LIST')) as string;
    expect(clients.split('\n').filter((l) => /name=nexus:\S+:watch /.test(l))).toHaveLength(1);
    const fifth = watchEvents(client, { after: '0-0' });
    expect(await fifth.ended).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringContaining('MAX_WATCHERS') });
    open[0].call.cancel();
    await open[0].ended;
    // The slot is freed once the replica hears of the cancel.
    await waitFor('a slot again', async () => {
      const again = watchEvents(client, { after: '0-0' });
      await waitFor('an answer', () => again.messages.length > 0 || again.done);
      again.call.cancel();
      return (await again.ended)?.code === status.CANCELLED;
    });
    for (const w of open.slice(1)) w.call.cancel();
  });

  it('ends every watcher with UNAVAILABLE and its position when the replica drains', async () => {
    const other = await startOrchestrator(redis.url);
    const c = statusClient(other.grpcPort);
    const w = watchEvents(c, { after: '0-0', types: ['replica_up'] });
    await waitFor('events', () => w.messages.length > 0);
    await other.orchestrator.shutdown();
    const err = await w.ended;
    const last = w.messages[w.messages.length - 1].id;
    expect(err).toMatchObject({ code: status.UNAVAILABLE, details: `replica draining; resume elsewhere with after=${last}` });
    expect(err?.metadata.get('nexus-resume-after')).toEqual([last]);
    c.close();
  });
});

describe('WatchEvents: a watcher that does not read', () => {
  const redis = new RedisServer();
  let db: Redis;
  let replica: Awaited<ReturnType<typeof spawnReplica>>;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    replica = await spawnReplica(redis.url, { LOG_LEVEL: 'warn' });
  });

  afterAll(async () => {
    await replica?.stop();
    db?.disconnect();
    await redis.destroy();
  });

  it('cannot grow the replica: it ends RESOURCE_EXHAUSTED with the position to resume from', async () => {
    const client = statusClient(replica.port);
    const w = watchEvents(client, { types: ['command_queued'] });
    await waitFor('the watch is live', async () => {
      await emit(db, [{ type: 'command_queued', command_id: 'warm-up' }]);
      return w.messages.length > 0;
    });
    w.call.pause();
    const rssBefore = rssMb(replica.pid);
    const pad = 'x'.repeat(600);
    // 60,000 events of ~700 bytes (~40 MB as stream entries, several times that as JS objects).
    for (let i = 0; i < 60; i++) await emit(db, Array.from({ length: 1000 }, (_, j) => ({ type: 'command_queued', command_id: `flood-${i}-${j}`, pad })));
    await waitFor('the watcher ended on the replica', async () => (await metric(replica.metricsPort, 'nexus_watchers_open')) === 0, { timeoutMs: 30_000 });
    const rssAfter = rssMb(replica.pid);
    console.log(`slow watcher: replica RSS ${rssBefore.toFixed(0)} MB -> ${rssAfter.toFixed(0)} MB after 60,000 events`);
    // Bounded: a few MB here; with an unbounded queue the same flood grew it by ~78 MB.
    expect(rssAfter - rssBefore).toBeLessThan(40);
    w.call.resume();
    const err = await w.ended;
    expect(err?.code).toBe(status.RESOURCE_EXHAUSTED);
    const position = /with after=(\S+)$/.exec(err?.details ?? '')?.[1];
    expect(err?.details).toBe(`watcher too slow (more than 1000 events waiting); resume with after=${position}`);
    expect(err?.metadata.get('nexus-resume-after')).toEqual([position]);
    // gRPC may drop messages still in flight when a stream ends with an error (grpc-js does, for
    // a client that was not reading): the client resumes from the last one it received, which
    // is at or before the replica's position. Either way the sequence has no gap and no repeat.
    await w.quiet;
    const received = w.messages[w.messages.length - 1].id;
    expect(compareStreamIds(received, position!)).toBeLessThanOrEqual(0);
    expect(w.messages.length).toBeLessThan(5000);
    const resumed = watchEvents(client, { after: received, types: ['command_queued'] });
    await waitFor('the rest after resuming', () => resumed.messages.length > 0 && resumed.messages[resumed.messages.length - 1].commandId === 'flood-59-999', { timeoutMs: 30_000 });
    const floods = [...w.messages, ...resumed.messages].map((m) => m.commandId).filter((id) => id.startsWith('flood-'));
    expect(floods).toEqual(Array.from({ length: 60_000 }, (_, n) => `flood-${Math.floor(n / 1000)}-${n % 1000}`));
    resumed.call.cancel();
    client.close();
  });
});
