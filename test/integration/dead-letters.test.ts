import { describe, expect, it } from 'vitest';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import {
  CommandState,
  GetCommandRequest,
  ListDeadLettersRequest as ListRequest,
  NexusPulseServiceClient,
  PurgeDeadLettersRequest as PurgeRequest,
  RedriveDeadLettersRequest as RedriveRequest,
  type GetCommandResponse,
  type ListDeadLettersRequest,
  type ListDeadLettersResponse,
  type PurgeDeadLettersRequest,
  type PurgeDeadLettersResponse,
  type RedriveDeadLettersRequest,
  type RedriveDeadLettersResponse,
} from '../../src/generated/nexus/prime/pulse';
import { useAgents } from '../helpers/agents';
import { DLQ, eventCounts, groupState, INGRESS, issue, readDlq, xaddMany } from '../helpers/commands';
import { readEvents } from '../helpers/events';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';

const FAST = {
  MAINTENANCE_INTERVAL_MS: '100',
  WAKE_POLL_MS: '200',
  INGRESS_BLOCK_MS: '200',
  CLAIM_MIN_IDLE_MS: '1000',
  CLAIM_SWEEP_MS: '250',
};

type Unary<Q, R> = (request: Q, callback: (err: ServiceError | null, response: R) => void) => unknown;

function call<Q, R>(client: NexusPulseServiceClient, method: Unary<Q, R>, request: Q): Promise<R> {
  return new Promise((resolve, reject) => method.call(client, request, (err, response) => (err ? reject(err) : resolve(response))));
}

/** The status a call fails with (or 'ok'), and its details. */
async function failure(p: Promise<unknown>): Promise<{ code: status | 'ok'; details: string }> {
  try {
    await p;
    return { code: 'ok', details: '' };
  } catch (err) {
    return { code: (err as ServiceError).code, details: (err as ServiceError).details };
  }
}

describe('dead letters: list, redrive, purge', () => {
  const fx = useOrchestrator(FAST);
  const startAgent = useAgents();
  const db = () => fx.redis.client();
  let client: NexusPulseServiceClient;
  const rpc = () => {
    client ??= new NexusPulseServiceClient(`127.0.0.1:${fx.port}`, credentials.createInsecure());
    return {
      list: (q: Partial<ListDeadLettersRequest>) => call<ListDeadLettersRequest, ListDeadLettersResponse>(client, client.listDeadLetters, ListRequest.fromPartial(q)),
      redrive: (q: Partial<RedriveDeadLettersRequest>) => call<RedriveDeadLettersRequest, RedriveDeadLettersResponse>(client, client.redriveDeadLetters, RedriveRequest.fromPartial(q)),
      purge: (q: Partial<PurgeDeadLettersRequest>) => call<PurgeDeadLettersRequest, PurgeDeadLettersResponse>(client, client.purgeDeadLetters, PurgeRequest.fromPartial(q)),
      get: (commandId: string) => call<GetCommandRequest, GetCommandResponse>(client, client.getCommand, GetCommandRequest.fromPartial({ commandId })),
    };
  };
  /** Every page of a listing, `pageSize` at a time. */
  const listAll = async (q: Partial<ListDeadLettersRequest>): Promise<{ ids: string[]; pages: number }> => {
    const ids: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await rpc().list({ ...q, pageToken: token });
      ids.push(...page.deadLetters.map((d) => d.id));
      token = page.nextPageToken;
      pages++;
    } while (token && pages < 100);
    return { ids, pages };
  };
  const settled = () => waitFor('ingress handled', async () => {
    const g = await groupState(db());
    return g.pending === 0 && g.lag === 0;
  });
  const expiredIds: string[] = [];

  it('builds a DLQ of mixed reasons and lists it newest first, filtered, paged, with counts', async () => {
    await startAgent('worker', fx.port);
    await xaddMany(db(), [
      issue('worker', 'bad-1', 'echo', ['priority', 'urgent']),
      issue('elsewhere', 'bad-2', 'echo', ['max_attempts', '0']),
      issue('worker', 'unknown-1', 'format-disk'),
      issue('later', 'late-1', 'echo', ['ttl_ms', '150', 'payload', 'one']),
      issue('later', 'late-2', 'echo', ['ttl_ms', '150', 'payload', 'two']),
      issue('later', 'late-3', 'echo', ['ttl_ms', '150', 'payload', 'three', 'priority', 'high', 'correlation_id', 'corr-3']),
    ]);
    await waitFor('6 dead letters', async () => (await db().xlen(DLQ)) === 6);

    const all = await rpc().list({});
    expect(all.total).toBe(6);
    expect(all.countsByReason).toEqual({ invalid: 2, failed: 1, expired: 3 });
    expect(all.nextPageToken).toBe('');
    const raw = (await db().xrevrange(DLQ, '+', '-')).map(([id]) => id);
    expect(all.deadLetters.map((d) => d.id)).toEqual(raw);
    const byCommand = new Map(all.deadLetters.map((d) => [d.commandId, d]));
    expect(byCommand.get('bad-1')).toMatchObject({ reason: 'invalid', target: 'worker', error: expect.stringMatching(/^priority must be/) });
    expect(byCommand.get('unknown-1')).toMatchObject({ reason: 'failed', attempts: 1, commandType: 'format-disk', replicaId: expect.any(String) });
    expect(byCommand.get('late-3')).toMatchObject({ reason: 'expired', target: 'later', fields: expect.objectContaining({ payload: 'three', correlation_id: 'corr-3' }) });
    expect(byCommand.get('late-3')!.deadAtUnixMs).toBeGreaterThan(Date.now() - 60_000);

    const expired = await rpc().list({ filter: { reasons: ['expired'], target: '', commandType: '' } });
    expect(expired.deadLetters.map((d) => d.commandId).sort()).toEqual(['late-1', 'late-2', 'late-3']);
    expiredIds.push(...expired.deadLetters.map((d) => d.id));
    expect((await rpc().list({ filter: { reasons: [], target: 'worker', commandType: '' } })).deadLetters.map((d) => d.commandId).sort()).toEqual(['bad-1', 'unknown-1']);
    expect((await rpc().list({ filter: { reasons: [], target: '', commandType: 'format-disk' } })).deadLetters.map((d) => d.commandId)).toEqual(['unknown-1']);
    expect((await rpc().list({ filter: { reasons: ['invalid', 'failed'], target: 'worker', commandType: 'echo' } })).deadLetters.map((d) => d.commandId)).toEqual(['bad-1']);
    expect((await rpc().list({ filter: { reasons: ['poison'], target: '', commandType: '' } })).deadLetters).toEqual([]);

    // Paging: every entry once, in order, whatever the page size.
    const byTwo = await listAll({ pageSize: 2, filter: { reasons: ['expired'], target: '', commandType: '' } });
    expect(byTwo).toEqual({ ids: expiredIds, pages: 2 });
    const byOne = await listAll({ pageSize: 1 });
    expect(byOne.ids).toEqual(raw);
  });

  it('answers bad listing input with INVALID_ARGUMENT naming the field', async () => {
    const first = await rpc().list({ pageSize: 1, filter: { reasons: ['expired'], target: '', commandType: '' } });
    expect(first.nextPageToken).not.toBe('');
    expect(await failure(rpc().list({ pageSize: 1, pageToken: first.nextPageToken, filter: { reasons: ['failed'], target: '', commandType: '' } }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^page_token was made for another filter/),
    });
    expect(await failure(rpc().list({ pageToken: first.nextPageToken }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^page_token/) });
    expect(await failure(rpc().list({ pageToken: 'not-a-token' }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^page_token/) });
    expect(await failure(rpc().list({ filter: { reasons: ['expired', 'bored'], target: '', commandType: '' } }))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^filter\.reasons\[1\]: unknown reason "bored"/),
    });
    expect(await failure(rpc().list({ pageSize: 1001 }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^page_size/) });
  });

  it('answers bad redrive and purge input with the status naming the field', async () => {
    const filter = { reasons: [], target: '', commandType: '' };
    expect(await failure(rpc().redrive({ ids: [expiredIds[0]], filter }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^ids and filter/) });
    expect(await failure(rpc().redrive({}))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^ids or filter is required/) });
    expect(await failure(rpc().purge({ ids: [expiredIds[0]], filter }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^ids and filter/) });
    expect(await failure(rpc().redrive({ ids: [expiredIds[0], expiredIds[1], '123-0'] }))).toEqual({ code: status.NOT_FOUND, details: 'ids[2]: no dead letter 123-0' });
    expect(await failure(rpc().redrive({ ids: ['yesterday'] }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^ids\[0\]: "yesterday" is not a dead letter id/) });
    expect(await failure(rpc().redrive({ filter: { reasons: ['late'], target: '', commandType: '' } }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^filter\.reasons\[0\]/) });
    // A dead letter that would be invalid again is refused, not submitted.
    const bad = (await rpc().list({ filter: { reasons: ['invalid'], target: 'worker', commandType: '' } })).deadLetters[0];
    expect(await failure(rpc().redrive({ ids: [bad.id] }))).toEqual({ code: status.FAILED_PRECONDITION, details: expect.stringMatching(/^ids\[0\]: dead letter \S+: priority must be/) });
    expect(await db().xlen(DLQ)).toBe(6);
  });

  it('redrives by filter: a dry run changes nothing; the redriven commands succeed, carry redrive_of, and a second redrive runs nothing', async () => {
    const filter = { reasons: ['expired'], target: '', commandType: '' };
    const ingressBefore = await db().xlen(INGRESS);
    const dry = await rpc().redrive({ filter, dryRun: true });
    expect(dry).toEqual({ matched: 3, redriven: 0, commandIds: [], truncated: false });
    expect(await db().xlen(INGRESS)).toBe(ingressBefore);
    expect(await db().keys('nexus:command:*:redrive:*')).toEqual([]);

    await startAgent('later', fx.port);
    const done = await rpc().redrive({ filter });
    expect(done.matched).toBe(3);
    expect(done.redriven).toBe(3);
    expect(done.truncated).toBe(false);
    const byLetter = new Map(expiredIds.map((id) => [id, done.commandIds.find((c) => c.endsWith(`:redrive:${id}`))]));
    expect([...byLetter.values()].every(Boolean)).toBe(true);
    const late3 = (await readDlq(db())).find((e) => e.command_id === 'late-3')!;
    for (const [letter, commandId] of byLetter) {
      const got = await waitFor(`${commandId} succeeded`, async () => {
        const c = await rpc().get(commandId!);
        return c.state === CommandState.COMMAND_STATE_SUCCEEDED ? c : undefined;
      });
      expect(got.redriveOf).toBe(letter);
      expect(commandId).toMatch(/^late-\d:redrive:\d+-\d+$/);
    }
    const redriven3 = await rpc().get(`late-3:redrive:${expiredIds.find((id) => byLetter.get(id)!.startsWith('late-3'))}`);
    expect(redriven3).toMatchObject({ output: 'three', priority: 8, correlationId: 'corr-3', target: 'later' });
    expect(late3.reason).toBe('expired');

    // The same redrive again: nothing submitted, the same commands named, nothing queued twice.
    const again = await rpc().redrive({ filter });
    expect(again).toMatchObject({ matched: 3, redriven: 0, truncated: false });
    expect([...again.commandIds].sort()).toEqual([...done.commandIds].sort());
    await settled();
    const queued = await eventCounts(db(), 'command_queued');
    for (const id of done.commandIds) expect(queued.get(id)).toBe(1);
    // Dead letters stay until purged; nothing new was dead-lettered.
    expect(await db().xlen(DLQ)).toBe(6);
  });

  it('takes the redis-cli form, idempotently, and dead-letters a redrive that cannot run as invalid', async () => {
    await startAgent('later', fx.port);
    const [letter] = expiredIds;
    expect(await rpc().redrive({ ids: [letter], dryRun: true })).toEqual({ matched: 1, redriven: 0, commandIds: [], truncated: false });
    // Without command_id: the same id as the gRPC redrive above, so a duplicate.
    await xaddMany(db(), [['type', 'command_redrive', 'dead_letter_id', letter]]);
    // With command_id: a new command, redriven twice, runs once.
    await xaddMany(db(), [
      ['type', 'command_redrive', 'dead_letter_id', letter, 'command_id', 'manual-1', 'requested_by', 'operator/alice'],
      ['type', 'command_redrive', 'dead_letter_id', letter, 'command_id', 'manual-1'],
    ]);
    const manual = await waitFor('manual-1 succeeded', async () => {
      const c = await db().hgetall('nexus:command:manual-1');
      return c.state === 'succeeded' ? c : undefined;
    });
    expect(manual).toMatchObject({ redrive_of: letter, requested_by: 'operator/alice', target: 'later', command_type: 'echo' });
    const got = await rpc().get('manual-1');
    expect(got.redriveOf).toBe(letter);
    await settled();
    const queued = await eventCounts(db(), 'command_queued');
    expect(queued.get('manual-1')).toBe(1);
    const byId = await rpc().redrive({ ids: [letter] });
    expect(byId).toMatchObject({ matched: 1, redriven: 0, commandIds: [expect.stringMatching(/:redrive:/)] });
    expect(queued.get(byId.commandIds[0])).toBe(1);

    // A dead letter that is not there, one that would be invalid again, one whose payload was cut.
    const bad = (await rpc().list({ filter: { reasons: ['invalid'], target: 'worker', commandType: '' } })).deadLetters[0];
    const cut = await db().xadd(DLQ, '*', 'reason', 'failed', 'error', 'x', 'target', 'later', 'command_id', 'big-1', 'command_type', 'echo', 'payload', 'abc', 'payload_size', '9000');
    const [missingEntry, invalidEntry, cutEntry] = await xaddMany(db(), [
      ['type', 'command_redrive', 'dead_letter_id', '42-0'],
      ['type', 'command_redrive', 'dead_letter_id', bad.id],
      ['type', 'command_redrive', 'dead_letter_id', String(cut)],
    ]);
    await settled();
    const dlq = await readDlq(db());
    expect(dlq.find((e) => e.source_id === missingEntry)).toMatchObject({ reason: 'invalid', error: 'dead_letter_id: no dead letter 42-0', type: 'command_redrive' });
    expect(dlq.find((e) => e.source_id === invalidEntry)).toMatchObject({ reason: 'invalid', error: expect.stringMatching(/priority must be/) });
    expect(dlq.find((e) => e.source_id === cutEntry)).toMatchObject({ reason: 'invalid', error: expect.stringMatching(/kept only part of its payload \(9000 bytes\)/) });
    // Redriving the redrives' own dead letters submits nothing (they are not commands).
    const invalidAgain = await rpc().redrive({ filter: { reasons: ['invalid'], target: '', commandType: '' } });
    expect(invalidAgain).toMatchObject({ matched: 5, redriven: 0 });
    const dlqLength = await db().xlen(DLQ);
    await settled();
    expect(await db().xlen(DLQ)).toBe(dlqLength);
  });

  it('purges by ids and by filter, with a dry run, safely repeated', async () => {
    const total = await db().xlen(DLQ);
    const failedLetter = (await rpc().list({ filter: { reasons: ['failed'], target: 'worker', commandType: '' } })).deadLetters[0];
    expect(await rpc().purge({ ids: [failedLetter.id], dryRun: true })).toEqual({ matched: 1, purged: 0, truncated: false });
    expect(await db().xlen(DLQ)).toBe(total);
    expect(await rpc().purge({ ids: [failedLetter.id] })).toEqual({ matched: 1, purged: 1, truncated: false });
    expect(await rpc().purge({ ids: [failedLetter.id] })).toEqual({ matched: 0, purged: 0, truncated: false });
    const purgeEvents = (await readEvents(db())).filter((e) => e.type === 'dead_letters_purged');
    expect(purgeEvents).toEqual([expect.objectContaining({ count: '1', ids: failedLetter.id, replica: expect.any(String) })]);
    expect(await db().xrange(DLQ, failedLetter.id, failedLetter.id)).toEqual([]);

    const filter = { reasons: ['expired'], target: '', commandType: '' };
    expect(await rpc().purge({ filter, dryRun: true })).toEqual({ matched: 3, purged: 0, truncated: false });
    expect(await db().xlen(DLQ)).toBe(total - 1);
    expect(await rpc().purge({ filter })).toEqual({ matched: 3, purged: 3, truncated: false });
    expect((await rpc().list({ filter })).deadLetters).toEqual([]);
    const counts = await waitFor('counts recounted', async () => {
      const r = await rpc().list({ pageSize: 1 });
      return r.total === total - 4 ? r : undefined;
    });
    expect(counts.countsByReason.expired ?? 0).toBe(0);
    expect(await rpc().purge({ filter: { reasons: [], target: '', commandType: '' } })).toMatchObject({ matched: total - 4, purged: total - 4 });
    expect(await db().xlen(DLQ)).toBe(0);
  });

  it('bounds the work of one page: a sparse filter over a long DLQ returns short pages with a token', async () => {
    // One match at the oldest end, 12,000 dead letters that do not match after it.
    await db().xadd(DLQ, '*', 'reason', 'poison', 'target', 'needle', 'command_id', 'needle-1', 'command_type', 'echo');
    for (let i = 0; i < 12; i++) {
      const pipeline = db().pipeline();
      for (let j = 0; j < 1000; j++) pipeline.xadd(DLQ, '*', 'reason', 'failed', 'target', 'hay', 'command_id', `hay-${i}-${j}`, 'command_type', 'echo');
      await pipeline.exec();
    }
    const filter = { reasons: ['poison'], target: '', commandType: '' };
    const first = await rpc().list({ filter });
    expect(first.deadLetters).toEqual([]);
    expect(first.nextPageToken).not.toBe('');
    expect(first.total).toBe(12_001);
    const { ids, pages } = await listAll({ filter });
    expect(ids).toHaveLength(1);
    expect(pages).toBe(3);
    // Purge by filter over all of it at once is capped, and says so.
    const purge = await rpc().purge({ filter: { reasons: ['failed'], target: '', commandType: '' } });
    expect(purge).toEqual({ matched: 12_000, purged: 10_000, truncated: true });
    expect(await rpc().purge({ filter: { reasons: ['failed'], target: '', commandType: '' } })).toEqual({ matched: 2000, purged: 2000, truncated: false });
  });

  it('ends a page early rather than pass the gRPC message limit with big payloads', async () => {
    await db().del(DLQ);
    const pipeline = db().pipeline();
    for (let i = 0; i < 300; i++) pipeline.xadd(DLQ, '*', 'reason', 'failed', 'target', 'big', 'command_id', `big-${i}`, 'command_type', 'echo', 'payload', 'x'.repeat(4096));
    await pipeline.exec();
    const first = await rpc().list({ pageSize: 1000 });
    expect(first.deadLetters.length).toBeGreaterThan(10);
    expect(first.deadLetters.length).toBeLessThan(300);
    expect(first.nextPageToken).not.toBe('');
    const { ids } = await listAll({ pageSize: 1000 });
    expect(ids).toEqual((await db().xrevrange(DLQ, '+', '-')).map(([id]) => id));
  });
});
