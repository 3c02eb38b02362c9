import { describe, expect, it } from 'vitest';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { CancelledError } from '../../src/agent/command-errors';
import { delay } from '../../src/shared/delay';
import { CommandState, GetCommandRequest, NexusPulseServiceClient, SubmitCommandRequest, type GetCommandResponse, type SubmitCommandResponse } from '../../src/generated/nexus/prime/pulse';
import { useAgents } from '../helpers/agents';
import { DLQ, eventCounts, groupState, issue, readDlq, xaddMany } from '../helpers/commands';
import { getStatus } from '../helpers/grpc-clients';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';
import { defineScripts } from '../../src/redis-bridge/script-loader';
import '../../src/redis-bridge/script-commands';

const FAST = {
  RETRY_BASE_MS: '50',
  RETRY_MAX_MS: '200',
  MAINTENANCE_INTERVAL_MS: '100',
  WAKE_POLL_MS: '200',
  INGRESS_BLOCK_MS: '200',
  CLAIM_MIN_IDLE_MS: '1000',
  CLAIM_SWEEP_MS: '250',
};

describe('command lifecycle', () => {
  const fx = useOrchestrator(FAST);
  const startAgent = useAgents();
  const db = () => fx.redis.client();
  const state = async (id: string) => (await db().hget(`nexus:command:${id}`, 'state')) ?? undefined;

  it('keeps commands for an offline agent and delivers them in priority order when it connects', async () => {
    await xaddMany(db(), [
      issue('late', 'p-a', 'record', ['priority', '1']),
      issue('late', 'p-b', 'record', ['priority', '10']),
      issue('late', 'p-c', 'record', ['priority', '5']),
      issue('late', 'p-d', 'record', ['priority', 'critical']),
      issue('late', 'p-e', 'record', ['priority', 'low']),
      issue('late', 'p-f', 'record'),
    ]);
    await waitFor('all queued', async () => (await groupState(db())).pending === 0 && (await db().zcard('nexus:mailbox:late')) === 6);
    const { runs } = await startAgent('late', fx.port, { record: () => 'ok' }, 1);
    await waitFor('all run', () => runs.length === 6);
    expect(runs.map((c) => c.commandId)).toEqual(['p-b', 'p-d', 'p-c', 'p-f', 'p-e', 'p-a']);
  });

  it('dead-letters a command not delivered within its ttl_ms as expired', async () => {
    await xaddMany(db(), [issue('nobody-home', 'ttl-1', 'echo', ['ttl_ms', '300'])]);
    const dead = await waitFor('expired in the DLQ', async () => (await readDlq(db())).find((e) => e.command_id === 'ttl-1'));
    expect(dead).toMatchObject({ reason: 'expired', target: 'nobody-home', command_type: 'echo', error: expect.stringMatching(/ttl_ms=300/) });
    expect(await state('ttl-1')).toBe('dead');
    expect(await db().zcard('nexus:mailbox:nobody-home')).toBe(0);
  });

  it('retries a failing command with backoff, then dead-letters it as failed with the last error', async () => {
    const { runs } = await startAgent('flaky', fx.port, {
      flaky: (ctx) => {
        throw new Error(`boom on attempt ${ctx.attempt}`);
      },
    });
    await xaddMany(db(), [issue('flaky', 'fail-1', 'flaky', ['max_attempts', '3'])]);
    const dead = await waitFor('failed in the DLQ', async () => (await readDlq(db())).find((e) => e.command_id === 'fail-1'));
    expect(dead).toMatchObject({ reason: 'failed', error: 'boom on attempt 3', attempts: '3' });
    expect(runs.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(await state('fail-1')).toBe('failed');
    const events = (await fx.redis.client().xrange('nexus:events:stream', '-', '+')).map(([, f]) => f).filter((f) => f.includes('fail-1')).map((f) => f[1]);
    expect(events.filter((t) => t === 'command_failed')).toHaveLength(3);
    expect(events.filter((t) => t === 'command_retrying')).toHaveLength(2);
    expect(events.filter((t) => t === 'command_dead')).toHaveLength(1);
  });

  it('fails an unknown command type permanently, without retry', async () => {
    const { runs } = await startAgent('plain', fx.port);
    await xaddMany(db(), [issue('plain', 'unknown-1', 'format-disk')]);
    const dead = await waitFor('failed in the DLQ', async () => (await readDlq(db())).find((e) => e.command_id === 'unknown-1'));
    expect(dead).toMatchObject({ reason: 'failed', attempts: '1', error: expect.stringMatching(/unknown command type "format-disk"/) });
    expect(runs).toHaveLength(1);
  });

  it.each([
    ['missing command_type', ['target', 'A1', 'command_id', 'bad-1'], /command_type is required/],
    ['missing target', ['command_id', 'bad-2', 'command_type', 'echo'], /target is required/],
    ['a 1 MB payload', ['target', 'A1', 'command_id', 'bad-3', 'command_type', 'echo', 'payload', 'x'.repeat(1024 * 1024)], /payload is 1048576 bytes; the limit is 262144/],
    ['a payload that is not UTF-8', ['target', 'A1', 'command_id', 'bad-4', 'command_type', 'echo', 'payload', Buffer.from([0x68, 0xff, 0xfe])], /field "payload" is not valid UTF-8/],
    ['priority abc', ['target', 'A1', 'command_id', 'bad-5', 'command_type', 'echo', 'priority', 'abc'], /priority must be 1..10/],
    ['a negative max_attempts', ['target', 'A1', 'command_id', 'bad-6', 'command_type', 'echo', 'max_attempts', '-1'], /max_attempts must be a whole number/],
    ['ttl_ms 1e99', ['target', 'A1', 'command_id', 'bad-7', 'command_type', 'echo', 'ttl_ms', '1e99'], /ttl_ms must be a whole number/],
    ['duplicate fields', ['target', 'A1', 'target', 'A2', 'command_id', 'bad-8', 'command_type', 'echo'], /field "target" is given more than once/],
    ['an unknown type', ['type', 'command_exploded', 'target', 'A1', 'command_id', 'bad-9', 'command_type', 'echo'], /type must be command_issued, command_cancel or command_redrive/],
  ] as [string, (string | Buffer)[], RegExp][])('dead-letters an entry with %s as invalid, naming the field, and keeps serving', async (_name, fields, error) => {
    const client = db();
    const before = await client.xlen(DLQ);
    const [entryId] = await xaddMany(client, [fields]);
    const dead = await waitFor('the dead letter', async () => (await readDlq(client)).find((e) => e.source_id === entryId));
    expect(dead.reason).toBe('invalid');
    expect(dead.error).toMatch(error);
    expect(await client.xlen(DLQ)).toBe(before + 1);
    expect((dead.payload ?? '').length).toBeLessThanOrEqual(4096);
    if (dead.payload_size) expect(dead.payload_size).toBe('1048576');
    expect((await groupState(client)).pending).toBe(0);
    // The next valid command still succeeds.
    await startAgent('after-bad', fx.port);
    const id = `ok-after-${entryId}`;
    await xaddMany(client, [issue('after-bad', id, 'echo', ['payload', 'fine'])]);
    await waitFor('the next command succeeds', async () => (await state(id)) === 'succeeded');
  });

  it('runs a command id once however often it is added', async () => {
    const { runs } = await startAgent('dedupe', fx.port, { once: () => 'done' });
    await xaddMany(db(), [issue('dedupe', 'dup-1', 'once'), issue('dedupe', 'dup-1', 'once')]);
    await waitFor('succeeded', async () => (await state('dup-1')) === 'succeeded');
    await xaddMany(db(), [issue('dedupe', 'dup-1', 'once')]);
    await waitFor('all three entries handled', async () => (await groupState(db())).pending === 0 && (await groupState(db())).lag === 0);
    expect(runs.map((c) => c.commandId)).toEqual(['dup-1']);
    expect((await eventCounts(db(), 'command_queued')).get('dup-1')).toBe(1);
  });

  it('cancels a queued command before delivery and a running one on the agent', async () => {
    await xaddMany(db(), [issue('canceller', 'cq-1', 'sleep', ['payload', '10'])]);
    await waitFor('queued', async () => (await state('cq-1')) === 'queued');
    await xaddMany(db(), [['type', 'command_cancel', 'command_id', 'cq-1']]);
    await waitFor('cancelled while queued', async () => (await state('cq-1')) === 'cancelled');
    const { runs } = await startAgent('canceller', fx.port);
    await xaddMany(db(), [issue('canceller', 'cr-1', 'sleep', ['payload', '60000'])]);
    await waitFor('sleep running', () => runs.some((c) => c.commandId === 'cr-1'));
    const started = Date.now();
    await xaddMany(db(), [['type', 'command_cancel', 'command_id', 'cr-1']]);
    await waitFor('cancelled while running', async () => (await state('cr-1')) === 'cancelled');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(runs.map((c) => c.commandId)).toEqual(['cr-1']);
    // A cancel for an id nobody knows is dead-lettered, not lost.
    await xaddMany(db(), [['type', 'command_cancel', 'command_id', 'never-was']]);
    await waitFor('undeliverable cancel', async () => (await readDlq(db())).some((e) => e.reason === 'cancelled_undeliverable' && e.command_id === 'never-was'));
  });

  it('handles a mixed batch in entry order: a cancel right behind its command cancels it, an invalid entry is dead-lettered alone', async () => {
    await xaddMany(db(), [
      issue('orderly', 'ord-1', 'echo'),
      ['type', 'command_cancel', 'command_id', 'ord-1'],
      ['type', 'command_issued', 'target', 'orderly', 'command_id', 'ord-bad'],
      issue('orderly', 'ord-2', 'echo', ['priority', 'high']),
    ]);
    await waitFor('all four handled', async () => (await groupState(db())).pending === 0 && (await groupState(db())).lag === 0);
    expect(await state('ord-1')).toBe('cancelled');
    expect(await state('ord-2')).toBe('queued');
    expect(await db().zrange('nexus:mailbox:orderly', '0', '-1')).toEqual(['ord-2']);
    const dead = (await readDlq(db())).filter((e) => String(e.command_id).startsWith('ord-'));
    expect(dead).toEqual([expect.objectContaining({ command_id: 'ord-bad', reason: 'invalid', error: expect.stringMatching(/command_type/) })]);
  });

  it('does not run a command twice when the agent reconnects in the middle of it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { runs } = await startAgent('bouncer', fx.port, {
      slow: async (ctx) => {
        await Promise.race([gate, new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(new CancelledError())))]);
        return 'finished';
      },
    });
    await xaddMany(db(), [issue('bouncer', 'mid-1', 'slow')]);
    await waitFor('running', () => runs.length === 1);
    const before = fx.orchestrator.sessions.get('bouncer')!;
    before.close({ code: status.UNAVAILABLE, details: 'test cuts the session' });
    await waitFor('a new session', () => {
      const now = fx.orchestrator.sessions.get('bouncer');
      return now !== undefined && now !== before;
    });
    await waitFor('redelivered to the new session', async () => Number(await db().hget('nexus:command:mid-1', 'deliveries')) === 2);
    release();
    await waitFor('succeeded', async () => (await state('mid-1')) === 'succeeded');
    expect(runs.map((c) => c.commandId)).toEqual(['mid-1']);
    expect(await db().hget('nexus:command:mid-1', 'output')).toBe('finished');
  });

  it('keeps working after SCRIPT FLUSH (scripts are reloaded on NOSCRIPT)', async () => {
    await startAgent('flushed', fx.port);
    await db().script('FLUSH');
    await xaddMany(db(), [issue('flushed', 'after-flush', 'echo', ['payload', 'still here'])]);
    await waitFor('succeeded', async () => (await state('after-flush')) === 'succeeded');
  });

  it("caps a command's timeline at 4 KB, keeping its first step and dropping the oldest after it", async () => {
    await xaddMany(db(), [issue('tl-nobody', 'tl-1', 'echo')]);
    await waitFor('queued', async () => (await state('tl-1')) === 'queued');
    // 200 acks of a command taken to be in flight: each appends a step through the same helper as every script.
    const client = db();
    defineScripts(client);
    await client.hset('nexus:command:tl-1', 'state', 'delivered');
    for (let i = 1; i <= 200; i++) expect(await client.ackCommand('nexus:command:tl-1', 'tl-nobody', i, 'r-test')).toBe(1);
    const timeline = (await client.hget('nexus:command:tl-1', 'timeline'))!;
    expect(timeline.length).toBeLessThanOrEqual(4096);
    const steps = timeline.split('\n').map((line) => JSON.parse(line) as { event: string; attempt?: number });
    expect(steps[0].event).toBe('queued');
    expect(steps.length).toBeGreaterThan(20);
    expect(steps.at(-1)).toMatchObject({ event: 'acked', attempt: 200 });
    // Only the oldest were dropped: the kept acks are the latest, in order.
    const attempts = steps.slice(1).map((s) => s.attempt);
    expect(attempts).toEqual(Array.from({ length: attempts.length }, (_, i) => 201 - attempts.length + i));
    client.disconnect();
  });

  it('SubmitCommand goes through the ingress; GetCommand shows the timeline; status counts commands', async () => {
    await startAgent('grpc-user', fx.port);
    const client = new NexusPulseServiceClient(`127.0.0.1:${fx.port}`, credentials.createInsecure());
    const submit = (r: Partial<SubmitCommandRequest>) =>
      new Promise<SubmitCommandResponse>((resolve, reject) =>
        client.submitCommand(SubmitCommandRequest.fromPartial(r), (e, res) => (e ? reject(e) : resolve(res))),
      );
    const get = (commandId: string) => new Promise<GetCommandResponse>((resolve, reject) => client.getCommand(GetCommandRequest.fromPartial({ commandId }), new Metadata(), (e, res) => (e ? reject(e) : resolve(res))));

    const submitted = await submit({ target: 'grpc-user', commandType: 'echo', commandId: 'via-grpc', payload: 'hi', priority: 'high', correlationId: 'corr-7' });
    expect(submitted.commandId).toBe('via-grpc');
    expect(submitted.entryId).toMatch(/^\d+-\d+$/);
    await waitFor('succeeded', async () => (await get('via-grpc')).state === CommandState.COMMAND_STATE_SUCCEEDED);
    const c = await get('via-grpc');
    expect(c).toMatchObject({ target: 'grpc-user', commandType: 'echo', priority: 8, attempts: 1, maxAttempts: 3, output: 'hi', correlationId: 'corr-7' });
    expect(c.handledBy).not.toBe('');
    expect(c.deliveredBy).not.toBe('');
    expect(c.timeline.map((s) => s.event)).toEqual(['queued', 'delivered', 'acked', 'succeeded']);
    expect(c.timeline.every((s) => s.atUnixMs > 0)).toBe(true);

    const noId = await submit({ target: 'grpc-user', commandType: 'echo' });
    expect(noId.commandId).toBe(noId.entryId);
    await expect(submit({ target: 'grpc-user' })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: 'command_type is required' });
    await expect(get('no-such-command')).rejects.toMatchObject({ code: status.NOT_FOUND });

    const s = await getStatus(client, { summaryOnly: true });
    expect(s.ingress).toMatchObject({ pending: 0, consumers: 1 });
    expect(s.ingress!.length).toBeGreaterThan(0);
    expect(s.dlqLength).toBe(await db().xlen(DLQ));
    expect(s.commands!.succeeded).toBeGreaterThan(0);
    client.close();
    await delay(0);
  });
});
