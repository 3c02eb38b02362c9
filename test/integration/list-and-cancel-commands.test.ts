import { status } from '@grpc/grpc-js';
import type Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommandState, type CancelCommandsRequest, type CancelCommandsResponse, type CommandFilter, type ListCommandsResponse, type NexusPulseServiceClient,
} from '../../src/generated/nexus/prime/pulse';
import { trimIndex } from '../../src/redis-bridge/command-index';
import { NexusKeys } from '../../src/redis-bridge/keys';
import { xaddMany } from '../helpers/commands';
import { allAgents, statusClient } from '../helpers/grpc-clients';
import { ipv4Target, spawnAgent, spawnReplica, type Child } from '../helpers/processes';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

const EMPTY: CommandFilter = { states: [], target: '', commandType: '', correlationId: '', parentId: '', createdAfterUnixMs: 0, createdBeforeUnixMs: 0 };

function list(client: NexusPulseServiceClient, filter: Partial<CommandFilter>, pageSize = 0, pageToken = ''): Promise<ListCommandsResponse> {
  return new Promise((resolve, reject) => {
    client.listCommands({ filter: { ...EMPTY, ...filter }, pageSize, pageToken }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Every page, each from the next replica's client in turn (a token works on any replica). */
async function listAll(clients: NexusPulseServiceClient[], filter: Partial<CommandFilter>, pageSize: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let token = '';
  let pages = 0;
  do {
    const page = await list(clients[pages % clients.length], filter, pageSize, token);
    expect(page.commands.length).toBeLessThanOrEqual(pageSize);
    ids.push(...page.commands.map((c) => c.commandId));
    token = page.nextPageToken;
    pages++;
  } while (token);
  return { ids, pages };
}

function cancel(client: NexusPulseServiceClient, request: Partial<CancelCommandsRequest>): Promise<CancelCommandsResponse> {
  return new Promise((resolve, reject) => {
    client.cancelCommands({ commandIds: [], filter: undefined, dryRun: false, reason: '', ...request }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

describe('ListCommands and CancelCommands across 3 replicas', () => {
  const redis = new RedisServer();
  let replicas: Awaited<ReturnType<typeof spawnReplica>>[] = [];
  let clients: NexusPulseServiceClient[] = [];
  let agents: Child;
  let db: Redis;

  beforeAll(async () => {
    await redis.start();
    db = redis.client();
    replicas = await Promise.all([1, 2, 3].map((i) => spawnReplica(redis.url, { REPLICA_ID: `r${i}`, LOG_LEVEL: 'warn' })));
    clients = replicas.map((r) => statusClient(r.port));
    agents = spawnAgent(ipv4Target(replicas.map((r) => r.port)), { AGENT_ID: 'lister', AGENT_COUNT: '2', LOG_LEVEL: 'warn' });
    await waitFor('both agents online', async () => (await allAgents(clients[0])).filter((a) => a.state === 1).length === 2, { timeoutMs: 20_000 });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await agents?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    db?.disconnect();
    await redis.destroy();
  });

  it('lists by state, target, type, correlation id and time, newest first, paging across replicas', async () => {
    const before = Date.now() - 1;
    // 40 echoes to lister-1 (correlation k-0..k-3), 10 unknown types to lister-2 (they fail), 15 for an agent nobody runs.
    const entries: string[][] = [];
    for (let i = 0; i < 40; i++) entries.push(['target', 'lister-1', 'command_id', `e-${i}`, 'command_type', 'echo', 'correlation_id', `k-${i % 4}`]);
    for (let i = 0; i < 10; i++) entries.push(['target', 'lister-2', 'command_id', `f-${i}`, 'command_type', 'no-such-type']);
    for (let i = 0; i < 15; i++) entries.push(['target', 'nobody', 'command_id', `q-${i}`, 'command_type', 'echo']);
    await xaddMany(db, entries);
    await waitFor('echoes succeeded and unknown types failed', async () => {
      const counts = await db.hgetall('nexus:commands:counts');
      return counts.succeeded === '40' && counts.failed === '10';
    }, { timeoutMs: 20_000 });

    const everything = await listAll(clients, {}, 7);
    expect(everything.ids).toHaveLength(65);
    expect(new Set(everything.ids).size).toBe(65);
    expect(everything.pages).toBeGreaterThanOrEqual(10);
    // Newest first: created times never increase down the list.
    const rows = (await list(clients[1], {}, 1000)).commands;
    for (let i = 1; i < rows.length; i++) expect(rows[i].createdAtUnixMs).toBeLessThanOrEqual(rows[i - 1].createdAtUnixMs);

    const failed = await listAll(clients, { states: [CommandState.COMMAND_STATE_FAILED] }, 4);
    expect(failed.ids.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `f-${i}`).sort());
    const queued = await list(clients[2], { states: [CommandState.COMMAND_STATE_QUEUED] }, 100);
    expect(queued.commands.map((c) => c.commandId).sort()).toEqual(Array.from({ length: 15 }, (_, i) => `q-${i}`).sort());
    expect(queued.commands.every((c) => c.target === 'nobody' && c.state === CommandState.COMMAND_STATE_QUEUED)).toBe(true);
    const two = await list(clients[0], { states: [CommandState.COMMAND_STATE_FAILED, CommandState.COMMAND_STATE_QUEUED] }, 100);
    expect(two.commands).toHaveLength(25);

    expect((await listAll(clients, { target: 'lister-1' }, 9)).ids).toHaveLength(40);
    expect((await listAll(clients, { commandType: 'no-such-type' }, 3)).ids).toHaveLength(10);
    expect((await list(clients[1], { correlationId: 'k-2' }, 100)).commands.map((c) => c.commandId).sort()).toEqual(['e-10', 'e-14', 'e-18', 'e-2', 'e-22', 'e-26', 'e-30', 'e-34', 'e-38', 'e-6']);
    expect((await list(clients[1], { target: 'lister-2', states: [CommandState.COMMAND_STATE_SUCCEEDED] }, 100)).commands).toHaveLength(0);
    expect((await list(clients[0], { createdAfterUnixMs: before, createdBeforeUnixMs: Date.now() + 1 }, 1000)).commands).toHaveLength(65);
    expect((await list(clients[0], { createdBeforeUnixMs: before }, 1000)).commands).toHaveLength(0);

    const f0 = (await list(clients[0], { commandType: 'no-such-type' }, 1)).commands[0];
    expect(f0.state).toBe(CommandState.COMMAND_STATE_FAILED);
    expect(f0.error).toMatch(/no-such-type/);

    // A record that expired is no longer listed, and leaves the index it was read from.
    await db.del('nexus:command:q-0');
    expect((await list(clients[0], { target: 'nobody' }, 100)).commands).toHaveLength(14);
    await waitFor('the expired id left the index', async () => (await db.zscore('nexus:idx:target:nobody', 'q-0')) === null);

    // Ids older than any record can live leave the fixed sets; newer ones stay.
    await db.zadd('nexus:idx:state:failed', 1, 'ancient');
    await db.zadd('nexus:idx:state:dead', 1, 'ancient');
    expect(await trimIndex(db, new NexusKeys('nexus'), 60_000)).toBe(2);
    expect(await db.zcard('nexus:idx:state:failed')).toBe(10);
  });

  it('names the field of a bad request', async () => {
    const code = async (p: Promise<unknown>): Promise<string> => p.then(() => 'OK', (err: { code: number; details: string }) => `${status[err.code]} ${err.details}`);
    expect(await code(list(clients[0], {}, 1001))).toBe('INVALID_ARGUMENT page_size: at most 1000, got 1001');
    expect(await code(list(clients[0], { states: [99 as CommandState] }))).toMatch(/^INVALID_ARGUMENT filter.states\[0\]: not a command state/);
    expect(await code(list(clients[0], { createdAfterUnixMs: 20, createdBeforeUnixMs: 10 }))).toMatch(/^INVALID_ARGUMENT filter.created_after_unix_ms/);
    const token = (await list(clients[0], {}, 1)).nextPageToken;
    expect(await code(list(clients[1], { target: 'lister-1' }, 1, token))).toBe('INVALID_ARGUMENT page_token: belongs to another filter');
    expect(await code(list(clients[1], {}, 1, 'garbage'))).toMatch(/^INVALID_ARGUMENT page_token: malformed/);
    expect(await code(cancel(clients[0], {}))).toBe('INVALID_ARGUMENT command_ids or filter is required');
    expect(await code(cancel(clients[0], { commandIds: ['x'], filter: { ...EMPTY } }))).toMatch(/^INVALID_ARGUMENT command_ids and filter/);
    expect(await code(cancel(clients[0], { commandIds: ['no-such-command'] }))).toMatch(/^NOT_FOUND command_ids\[0\]: no command no-such-command/);
  });

  it('cancels 500 queued commands by filter: a dry run changes nothing, the real one cancels each once', async () => {
    await xaddMany(db, Array.from({ length: 500 }, (_, i) => ['target', 'parked', 'command_id', `p-${i}`, 'command_type', 'echo']));
    const filter = { ...EMPTY, target: 'parked' };
    await waitFor('500 parked commands queued', async () => (await list(clients[0], { target: 'parked', states: [CommandState.COMMAND_STATE_QUEUED] }, 1000)).commands.length === 500);

    expect(await cancel(clients[1], { filter, dryRun: true })).toEqual({ matched: 500, submitted: 0, truncated: false });
    expect((await list(clients[0], { target: 'parked', states: [CommandState.COMMAND_STATE_QUEUED] }, 1000)).commands).toHaveLength(500);

    expect(await cancel(clients[2], { filter, reason: 'maintenance window' })).toEqual({ matched: 500, submitted: 500, truncated: false });
    await waitFor('all 500 cancelled', async () => (await list(clients[0], { target: 'parked', states: [CommandState.COMMAND_STATE_CANCELLED] }, 1000)).commands.length === 500, { timeoutMs: 20_000 });
    const timeline = await db.hget('nexus:command:p-7', 'timeline');
    expect(timeline).toContain('"detail":"maintenance window"');
    // Nothing is left to cancel: a repeat matches nothing and changes nothing.
    expect(await cancel(clients[0], { filter })).toEqual({ matched: 0, submitted: 0, truncated: false });
    expect(await db.hget('nexus:commands:counts', 'cancelled')).toBe('500');
  });
});
