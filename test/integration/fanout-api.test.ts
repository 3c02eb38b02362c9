import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandState, GetCommandRequest, type GetCommandResponse, type NexusPulseServiceClient } from '../../src/generated/nexus/prime/pulse';
import { statusClient } from '../helpers/grpc-clients';
import { startOrchestrator } from '../helpers/in-process';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';
import { watchCommand } from '../helpers/watch-streams';

/*
 * GetCommand and WatchCommand on a fan-out parent, with the records written by hand the way
 * the fan-out scripts write them (contract: the parent's counters, idx:parent:<id> scored by
 * creation ms, the skipped zset, children's events carrying parent_id).
 */

const EVENTS = 'nexus:events:stream';

function get(client: NexusPulseServiceClient, request: Partial<GetCommandRequest>): Promise<GetCommandResponse> {
  return new Promise((resolve, reject) => {
    client.getCommand(GetCommandRequest.fromPartial(request), new Metadata(), { deadline: Date.now() + 3000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function refused(client: NexusPulseServiceClient, request: Partial<GetCommandRequest>): Promise<ServiceError> {
  try {
    await get(client, request);
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('accepted');
}

/** A parent record with its counters, `n` children (created 1 ms apart, oldest first) and skipped agents. */
async function writeParent(db: Redis, id: string, counters: Record<string, string>, children: { agent: string; state: string; error?: string }[], skipped: string[]): Promise<void> {
  const now = Date.now();
  const p = db.pipeline();
  p.hset(`nexus:command:${id}`, {
    command_id: id, state: 'delivered', target: '', command_type: 'echo', priority: '5', attempt: '0', queued_at: String(now),
    fanout: '1', selector: 'env=prod', pick: 'all', timeline: JSON.stringify({ event: 'queued', at: now, replica: 'r0', attempt: 0 }), ...counters,
  });
  children.forEach((c, i) => {
    const childId = `${id}/${c.agent}`;
    p.hset(`nexus:command:${childId}`, {
      command_id: childId, state: c.state, target: c.agent, command_type: 'echo', priority: '5', attempt: '1', parent_id: id,
      queued_at: String(now + i), error: c.error ?? '',
    });
    p.zadd(`nexus:idx:parent:${id}`, now + i, childId);
  });
  if (skipped.length > 0) p.zadd(`nexus:fanout-skipped:${id}`, ...skipped.flatMap((a) => ['0', a]));
  await p.exec();
}

describe('fan-out parents over the API', () => {
  const redis = new RedisServer();
  let db: Redis;
  let orch: Awaited<ReturnType<typeof startOrchestrator>>;
  let client: NexusPulseServiceClient;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    orch = await startOrchestrator(redis.url, { REPLICA_ID: 'fanout-api' });
    client = statusClient(orch.grpcPort);
  });

  afterAll(async () => {
    client?.close();
    await orch?.orchestrator.shutdown();
    db?.disconnect();
    await redis.destroy();
  });

  it('GetCommand answers the counts by state, the skipped agents and the children in 3 pages, oldest first', async () => {
    const agents = ['a1', 'a2', 'a3', 'a4', 'a5'];
    const states = ['succeeded', 'failed', 'delivered', 'delivered', 'queued'];
    await writeParent(
      db, 'fo-1',
      { matched: '6', skipped: '2', launched: '4', finished: '2', n_succeeded: '1', n_failed: '1', n_dead: '0', n_cancelled: '0', not_started: '0', batch: '2', batch_spec: '40%', max_failures: '3', batch_wait_ms: '250', include_offline: '0' },
      agents.map((agent, i) => ({ agent, state: states[i], error: states[i] === 'failed' ? 'boom' : '' })),
      ['off-2', 'off-1'],
    );

    const first = await get(client, { commandId: 'fo-1', childrenPageSize: 2 });
    expect(first.selector).toBe('env=prod');
    expect(first.pick).toBe('all');
    expect(first.fanout).toMatchObject({
      matched: 6, skipped: 2, launched: 4, finished: 2, running: 2, pending: 2, succeeded: 1, failed: 1, dead: 0, cancelled: 0, notStarted: 0,
      batch: 2, batchSpec: '40%', maxFailures: 3, batchWaitMs: 250, includeOffline: false, stopReason: '',
      skippedAgents: ['off-1', 'off-2'],
    });
    const pages = [first.fanout!.children];
    let token = first.fanout!.childrenNextPageToken;
    while (token) {
      const next = await get(client, { commandId: 'fo-1', childrenPageSize: 2, childrenPageToken: token });
      pages.push(next.fanout!.children);
      token = next.fanout!.childrenNextPageToken;
    }
    expect(pages.map((p) => p.map((c) => c.commandId))).toEqual([['fo-1/a1', 'fo-1/a2'], ['fo-1/a3', 'fo-1/a4'], ['fo-1/a5']]);
    const [a1, a2] = pages[0];
    expect(a1).toMatchObject({ target: 'a1', parentId: 'fo-1', state: CommandState.COMMAND_STATE_SUCCEEDED, commandType: 'echo' });
    expect(a2).toMatchObject({ state: CommandState.COMMAND_STATE_FAILED, error: 'boom' });

    // The default page holds them all; a plain command has no fan-out summary.
    expect((await get(client, { commandId: 'fo-1' })).fanout!.children).toHaveLength(5);
    const plain = await get(client, { commandId: 'fo-1/a3' });
    expect(plain.fanout).toBeUndefined();
    expect(plain.parentId).toBe('fo-1');
  });

  it('refuses bad children paging with INVALID_ARGUMENT naming the field', async () => {
    await writeParent(db, 'fo-t', { matched: '3', launched: '3' }, [{ agent: 'b1', state: 'queued' }, { agent: 'b2', state: 'queued' }, { agent: 'b3', state: 'queued' }], []);
    const page = await get(client, { commandId: 'fo-t', childrenPageSize: 1 });
    expect(page.fanout!.childrenNextPageToken).not.toBe('');

    const garbage = await refused(client, { commandId: 'fo-t', childrenPageToken: 'zzz' });
    expect(garbage.code).toBe(status.INVALID_ARGUMENT);
    expect(garbage.details).toMatch(/^children_page_token: /);
    // A token of one parent does not page another.
    const foreign = await refused(client, { commandId: 'fo-1', childrenPageToken: page.fanout!.childrenNextPageToken });
    expect(foreign.code).toBe(status.INVALID_ARGUMENT);
    expect(foreign.details).toMatch(/^children_page_token: belongs to another command/);
    const big = await refused(client, { commandId: 'fo-t', childrenPageSize: 1001 });
    expect(big.code).toBe(status.INVALID_ARGUMENT);
    expect(big.details).toMatch(/^children_page_size: /);
  });

  it("WatchCommand on a parent: the snapshot with counts, each child's outcome, then the parent's terminal step ends it", async () => {
    await writeParent(db, 'fo-w', { matched: '3', launched: '3', finished: '0' }, [{ agent: 'c1', state: 'delivered' }, { agent: 'c2', state: 'delivered' }, { agent: 'c3', state: 'delivered' }], ['off-9']);
    const w = watchCommand(client, 'fo-w');
    await waitFor('the snapshot', () => w.messages.length > 0);
    const snapshot = w.messages[0].kind;
    expect(snapshot?.$case).toBe('snapshot');
    expect(snapshot?.$case === 'snapshot' && snapshot.snapshot.fanout).toMatchObject({ matched: 3, launched: 3, running: 3, skippedAgents: ['off-9'], children: [] });

    const ts = String(Date.now());
    const add = (...fields: string[]) => db.xadd(EVENTS, '*', ...fields, 'replica', 'r1', 'ts', ts);
    // Children's steps that are not outcomes, another command's events: not sent.
    await add('type', 'command_delivered', 'command_id', 'fo-w/c1', 'agent_id', 'c1', 'parent_id', 'fo-w');
    await add('type', 'command_failed', 'command_id', 'fo-w/c2', 'agent_id', 'c2', 'parent_id', 'fo-w', 'error', 'try 1');
    await add('type', 'command_succeeded', 'command_id', 'other', 'agent_id', 'c1');
    await add('type', 'command_succeeded', 'command_id', 'fo-w/c1', 'agent_id', 'c1', 'parent_id', 'fo-w');
    await add('type', 'command_dead', 'command_id', 'fo-w/c2', 'reason', 'failed', 'error', 'boom', 'parent_id', 'fo-w');
    await add('type', 'command_cancelled', 'command_id', 'fo-w/c3', 'agent_id', 'c3', 'parent_id', 'fo-w');
    await add('type', 'command_failed', 'command_id', 'fo-w', 'agent_id', '', 'summary', '1 succeeded, 1 failed, 0 dead, 1 cancelled, 1 skipped');
    expect(await w.ended).toBeUndefined(); // OK, after the parent's terminal event
    await add('type', 'command_succeeded', 'command_id', 'fo-w/late', 'parent_id', 'fo-w');

    const rest = w.messages.slice(1).map((m) => m.kind);
    expect(rest.map((k) => k?.$case)).toEqual(['child', 'child', 'child', 'step']);
    const children = rest.flatMap((k) => (k?.$case === 'child' ? [k.child] : []));
    expect(children.map((c) => [c.commandId, c.agentId, c.state, c.error])).toEqual([
      ['fo-w/c1', 'c1', CommandState.COMMAND_STATE_SUCCEEDED, ''],
      ['fo-w/c2', 'c2', CommandState.COMMAND_STATE_FAILED, 'boom'],
      ['fo-w/c3', 'c3', CommandState.COMMAND_STATE_CANCELLED, ''],
    ]);
    expect(children[0]).toMatchObject({ replicaId: 'r1', atUnixMs: Number(ts) });
    const last = rest[3];
    expect(last?.$case === 'step' && [last.step.event, last.step.detail]).toEqual(['failed', '1 succeeded, 1 failed, 0 dead, 1 cancelled, 1 skipped']);
    // Positions move on with each message, children's included: a resume after a child gets the rest.
    const resumed = watchCommand(client, 'fo-w', w.messages[2].position);
    expect(await resumed.ended).toBeUndefined();
    expect(resumed.messages.map((m) => m.kind?.$case)).toEqual(['child', 'step']);
  });

  it('a parent finished before the watch: snapshot, then the end', async () => {
    await writeParent(db, 'fo-done', { matched: '1', launched: '1', finished: '1', n_succeeded: '1' }, [{ agent: 'd1', state: 'succeeded' }], []);
    await db.hset('nexus:command:fo-done', 'state', 'succeeded');
    const w = watchCommand(client, 'fo-done');
    expect(await w.ended).toBeUndefined();
    expect(w.messages.map((m) => m.kind?.$case)).toEqual(['snapshot']);
  });
});
