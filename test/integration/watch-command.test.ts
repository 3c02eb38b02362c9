import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import type { WatchCommandResponse } from '../../src/generated/nexus/prime/pulse';
import { compareStreamIds, parsePosition } from '../../src/orchestrator/watch/stream-ids';
import { useAgents } from '../helpers/agents';
import { INGRESS } from '../helpers/commands';
import { readEvents } from '../helpers/events';
import { statusClient } from '../helpers/grpc-clients';
import { startOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';
import { watchCommand, watchEvents } from '../helpers/watch-streams';

type Orch = Awaited<ReturnType<typeof startOrchestrator>>;

const logKey = (id: string) => `nexus:cmdlog:${id}`;

/** Adds progress/log entries the way the agent-facing side does (format in keys.commandLog). */
async function addLog(db: Redis, id: string, entries: ({ line: string } | { percent: number; message: string })[]): Promise<void> {
  const p = db.pipeline();
  for (const e of entries) {
    const fields = 'line' in e ? ['kind', 'log', 'line', e.line] : ['kind', 'progress', 'percent', String(e.percent), 'message', e.message];
    p.xadd(logKey(id), '*', 'attempt', '1', 'at', String(Date.now()), ...fields);
  }
  await p.exec();
}

function submit(db: Redis, id: string, target: string, type: string, payload: string): Promise<string | null> {
  return db.xadd(INGRESS, '*', 'type', 'command_issued', 'target', target, 'command_id', id, 'command_type', type, 'payload', payload);
}

/** What a message says, without its position: comparable between a live watch and a resumed one. */
function what(m: WatchCommandResponse): string {
  const k = m.kind!;
  if (k.$case === 'step') return `step ${k.step.event}`;
  if (k.$case === 'log') return `log ${k.log.line}`;
  if (k.$case === 'progress') return `progress ${k.progress.percent} ${k.progress.message}`;
  return 'snapshot';
}

/** Each message moves exactly one half of the position forward (the snapshot moves none). */
function expectPositionsAdvance(messages: readonly WatchCommandResponse[]): void {
  for (let i = 1; i < messages.length; i++) {
    const a = parsePosition(messages[i - 1].position)!;
    const b = parsePosition(messages[i].position)!;
    const ev = compareStreamIds(b.events, a.events);
    const lg = compareStreamIds(b.log, a.log);
    const moved = messages[i].kind?.$case === 'step' ? ev > 0 && lg === 0 : lg > 0 && ev === 0;
    expect(moved, `message ${i} (${what(messages[i])}) at ${messages[i].position} after ${messages[i - 1].position}`).toBe(true);
  }
}

/** What this test wrote itself: everything but the built-in sleep's own progress ("slept … ms"). */
const written = (line: string): boolean => !/^progress \S+ slept /.test(line);

describe('WatchCommand', () => {
  const redis = new RedisServer();
  const startAgent = useAgents();
  let db: Redis;
  let holder: Orch;
  let watcher: Orch;
  let client: ReturnType<typeof statusClient>;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    holder = await startOrchestrator(redis.url, { REPLICA_ID: 'holder' });
    watcher = await startOrchestrator(redis.url, { REPLICA_ID: 'watcher', MAX_WATCHERS: '2' });
    client = statusClient(watcher.grpcPort);
  });

  afterAll(async () => {
    client?.close();
    await Promise.all([holder?.orchestrator.shutdown(), watcher?.orchestrator.shutdown()]);
    db?.disconnect();
    await redis.destroy();
  });

  it('follows a sleep on another replica: snapshot, steps, progress and log lines in order, then ends; a resume from a mid position gets exactly the rest', async () => {
    await startAgent('sleeper', holder.grpcPort);
    await submit(db, 'w-1', 'sleeper', 'sleep', '1500');
    await waitFor('the record', async () => (await db.exists('nexus:command:w-1')) === 1);
    const w = watchCommand(client, 'w-1');
    await waitFor('the snapshot', () => w.messages.length > 0);
    await addLog(db, 'w-1', [{ line: 'line-1' }, { percent: 10, message: 'warming' }]);
    await waitFor('the first log lines', () => w.messages.some((m) => what(m) === 'progress 10 warming'));
    await addLog(db, 'w-1', [{ line: 'line-2' }, { percent: 60, message: 'half' }, { line: 'line-3' }]);
    expect(await w.ended).toBeUndefined(); // OK, after the terminal step

    const [snapshot, ...rest] = w.messages;
    expect(snapshot.kind?.$case).toBe('snapshot');
    expect(snapshot.kind?.$case === 'snapshot' && snapshot.kind.snapshot.commandId).toBe('w-1');
    expect(snapshot.position).toMatch(/^\d+-\d+\/0-0$/);
    const steps = rest.filter((m) => m.kind?.$case === 'step').map(what);
    expect(steps[steps.length - 1]).toBe('step succeeded');
    // Each step once, across the seam between the snapshot's timeline and the steps after it.
    const timeline = snapshot.kind?.$case === 'snapshot' ? snapshot.kind.snapshot.timeline.map((s) => `step ${s.event}`) : [];
    expect([...timeline, ...steps].filter((s) => ['step queued', 'step delivered', 'step succeeded'].includes(s))).toEqual(['step queued', 'step delivered', 'step succeeded']);
    // The built-in sleep reports its own progress too ("slept … ms"): compare what this test wrote.
    expect(rest.filter((m) => m.kind?.$case !== 'step').map(what).filter(written)).toEqual(['log line-1', 'progress 10 warming', 'log line-2', 'progress 60 half', 'log line-3']);
    expectPositionsAdvance(w.messages);
    // Steps carry the events' ids: the command's events after the snapshot's position, exactly.
    const after = parsePosition(snapshot.position)!.events;
    const events = (await readEvents(db)).filter((e) => e.command_id === 'w-1' && compareStreamIds(e.id, after) > 0).map((e) => e.id);
    expect(rest.filter((m) => m.kind?.$case === 'step').map((m) => parsePosition(m.position)!.events)).toEqual(events);

    // Resume from each position in the middle: no snapshot, nothing missed, nothing twice.
    for (const k of [1, 3, Math.floor(w.messages.length / 2)]) {
      const resumed = watchCommand(client, 'w-1', w.messages[k].position);
      expect(await resumed.ended).toBeUndefined();
      const tail = w.messages.slice(k + 1);
      // A live watch interleaves steps and log lines as they came; a replay may order them otherwise.
      expect(resumed.messages.map(what).filter((s) => s.startsWith('step'))).toEqual(tail.map(what).filter((s) => s.startsWith('step')));
      expect(resumed.messages.map(what).filter((s) => !s.startsWith('step'))).toEqual(tail.map(what).filter((s) => !s.startsWith('step')));
      const stepIds = (ms: WatchCommandResponse[]) => ms.filter((m) => m.kind?.$case === 'step').map((m) => parsePosition(m.position)!.events);
      expect(stepIds(resumed.messages)).toEqual(stepIds(tail));
      expectPositionsAdvance(resumed.messages);
    }

    // Finished before the watch: snapshot, the log lines, end.
    const late = watchCommand(client, 'w-1');
    expect(await late.ended).toBeUndefined();
    expect(late.messages.map(what).filter(written)).toEqual(['snapshot', 'log line-1', 'progress 10 warming', 'log line-2', 'progress 60 half', 'log line-3']);
    expect(late.messages[0].kind?.$case === 'snapshot' && late.messages[0].kind.snapshot.state).toBe(3); // SUCCEEDED
  });

  it('a 5 s sleep watched from a replica that does not hold its agent shows at least 4 progress updates, then the success', async () => {
    await startAgent('sleeper-5', holder.grpcPort);
    await submit(db, 'w-5', 'sleeper-5', 'sleep', '5000');
    await waitFor('the record', async () => (await db.exists('nexus:command:w-5')) === 1);
    const w = watchCommand(client, 'w-5');
    expect(await w.ended).toBeUndefined(); // OK, after the terminal step
    const progress = w.messages.filter((m) => m.kind?.$case === 'progress').map((m) => (m.kind?.$case === 'progress' ? m.kind.progress.percent : -1));
    expect(progress.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
    // The last step is the success (the final progress line may come after it: the log stream is read once more at the end).
    const steps = w.messages.filter((m) => m.kind?.$case === 'step').map(what);
    expect(steps[steps.length - 1]).toBe('step succeeded');
  });

  it('a watch cut mid-stream resumes from its last position: both parts are the whole, once', async () => {
    await startAgent('sleeper-2', holder.grpcPort);
    await submit(db, 'w-2', 'sleeper-2', 'sleep', '2500');
    await waitFor('the record', async () => (await db.exists('nexus:command:w-2')) === 1);
    const first = watchCommand(client, 'w-2', '', (_m, all) => {
      if (all.length === 30) first.call.cancel();
    });
    for (let i = 0; i < 60; i++) {
      await addLog(db, 'w-2', [{ line: `l-${i}` }]);
      if (i === 40) await waitFor('the first watch cut', () => first.done);
    }
    expect((await first.ended)?.code).toBe(status.CANCELLED);
    await first.quiet;
    const second = watchCommand(client, 'w-2', first.messages[first.messages.length - 1].position);
    expect(await second.ended).toBeUndefined();
    const all = [...first.messages, ...second.messages];
    expect(all.map(what).filter((s) => s.startsWith('log'))).toEqual(Array.from({ length: 60 }, (_, i) => `log l-${i}`));
    const snapshot = all[0].kind?.$case === 'snapshot' ? all[0].kind.snapshot : undefined;
    const steps = [...(snapshot?.timeline.map((s) => `step ${s.event}`) ?? []), ...all.map(what).filter((s) => s.startsWith('step'))];
    expect(steps.filter((s) => ['step queued', 'step delivered', 'step succeeded'].includes(s))).toEqual(['step queued', 'step delivered', 'step succeeded']);
    expectPositionsAdvance(all);
  });

  it('refuses an unknown id, a bad position, a missing id, and a watcher over MAX_WATCHERS (both kinds together)', async () => {
    expect((await watchCommand(client, 'never-was').ended)?.code).toBe(status.NOT_FOUND);
    expect((await watchCommand(client, 'never-was', '1-0/0-0').ended)?.code).toBe(status.NOT_FOUND);
    expect(await watchCommand(client, 'w-1', '1-0').ended).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^after: /) });
    expect(await watchCommand(client, '').ended).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^command_id: /) });

    await submit(db, 'w-queued', 'nobody', 'echo', 'x');
    await waitFor('the record', async () => (await db.exists('nexus:command:w-queued')) === 1);
    const a = watchCommand(client, 'w-queued');
    const b = watchEvents(client, { after: '0-0' });
    await waitFor('both open', () => a.messages.length > 0 && b.messages.length > 0);
    expect(await watchCommand(client, 'w-queued').ended).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringContaining('MAX_WATCHERS') });
    b.call.cancel();
    a.call.cancel();
    await Promise.all([a.ended, b.ended]);
  });

  it('a draining replica ends its watchers with UNAVAILABLE and the position to resume from elsewhere', async () => {
    const leaving = await startOrchestrator(redis.url, { REPLICA_ID: 'leaving' });
    const c = statusClient(leaving.grpcPort);
    const w = watchCommand(c, 'w-queued');
    await waitFor('the snapshot', () => w.messages.length > 0);
    await leaving.orchestrator.shutdown();
    const err = await w.ended;
    expect(err).toMatchObject({ code: status.UNAVAILABLE, details: `replica draining; resume elsewhere with after=${w.messages[0].position}` });
    c.close();
    // Elsewhere, from that position: nothing new yet, the watch is open (cancelled here).
    const again = watchCommand(client, 'w-queued', w.messages[0].position);
    await addLog(db, 'w-queued', [{ line: 'after the move' }]);
    await waitFor('the line', () => again.messages.some((m) => what(m) === 'log after the move'));
    expect(again.messages.map(what)).toEqual(['log after the move']);
    again.call.cancel();
  });
});
