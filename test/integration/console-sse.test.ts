import { connect } from 'node:net';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useAgents } from '../helpers/agents';
import { ConsoleBrowser, readSse, startConsoleOrchestrator } from '../helpers/console';
import { RedisServer } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait-for';

type Started = Awaited<ReturnType<typeof startConsoleOrchestrator>>;
const STUCK_MS = 1500;

describe('web console SSE streams', () => {
  const redis = new RedisServer();
  const startAgent = useAgents();
  let db: Redis;
  let replica: Started;
  let browser: ConsoleBrowser;

  beforeAll(async () => {
    await redis.start();
    db = new Redis(redis.url);
    replica = await startConsoleOrchestrator(redis.url, { REPLICA_ID: 'sse-1' }, { consoleSse: { stuckMs: STUCK_MS, keepAliveMs: 300 } });
    browser = new ConsoleBrowser(replica.base);
    await browser.session();
  });

  afterAll(async () => {
    await replica?.orchestrator.shutdown();
    db?.disconnect();
    await redis.destroy();
  });

  it("streams a command's lifecycle events; a reconnect with Last-Event-ID gets only what came after", async () => {
    await startAgent('sse-a1', replica.grpcPort);
    const res = await browser.get('/api/events/stream?types=command_queued,command_delivered,command_succeeded&command=sse-cmd-1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const live = readSse(res);
    expect((await browser.post('/api/commands', { target: 'sse-a1', commandType: 'echo', commandId: 'sse-cmd-1', payload: 'x' })).status).toBe(200);
    await waitFor('the succeeded event', () => live.events.some((e) => JSON.parse(e.data).type === 'command_succeeded'));
    const types = live.events.map((e) => JSON.parse(e.data) as { id: string; type: string; commandId: string });
    expect(types.map((t) => t.type)).toEqual(['command_queued', 'command_delivered', 'command_succeeded']);
    expect(live.events.every((e) => e.event === 'lifecycle')).toBe(true);
    expect(live.events.map((e) => e.id)).toEqual(types.map((t) => t.id));
    await live.cancel();

    const resumed = await browser.get('/api/events/stream?command=sse-cmd-1', { 'last-event-id': live.events[0].id });
    const later = readSse(resumed);
    await waitFor('the replayed events', () => later.events.length >= 2);
    expect(later.events.map((e) => e.id)).toEqual(live.events.slice(1).map((e) => e.id));
    await later.cancel();
  });

  it('sends keep-alive comments on an idle stream', async () => {
    const res = await fetch(`${replica.base}/api/events/stream?types=replica_down&agent=nobody`);
    const reader = res.body!.getReader();
    let text = '';
    await waitFor('a keep-alive', async () => {
      text += new TextDecoder().decode((await reader.read()).value);
      return text.includes(': keep-alive\n\n');
    }, { timeoutMs: 5000 });
    await reader.cancel();
  });

  it('ends a command stream with `end` after its terminal step', async () => {
    await startAgent('sse-a1', replica.grpcPort);
    expect((await browser.post('/api/commands', { target: 'sse-a1', commandType: 'echo', commandId: 'sse-cmd-2', payload: 'y' })).status).toBe(200);
    const res = await browser.get('/api/commands/sse-cmd-2/stream');
    expect(res.status).toBe(200);
    const stream = readSse(res);
    await stream.done; // the server ends it
    const kinds = stream.events.map((e) => e.event);
    expect(kinds[0]).toBe('snapshot');
    expect(kinds.at(-1)).toBe('end');
    expect(JSON.parse(stream.events[0].data)).toMatchObject({ commandId: 'sse-cmd-2' });
    const steps = stream.events.filter((e) => e.event === 'step').map((e) => JSON.parse(e.data).event as string);
    expect(steps.at(-1) ?? JSON.parse(stream.events[0].data).state).toMatch(/succeeded|COMMAND_STATE_SUCCEEDED/);

    const unknown = await browser.get('/api/commands/no-such/stream');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('closes a browser that does not read, instead of holding what it did not take', async () => {
    // A raw socket that sends the request and never reads; then events far larger than the
    // socket buffers: the server must pause the watch and, after the stuck time, close it.
    const socket = connect(replica.consolePort, '127.0.0.1');
    socket.pause();
    let received = 0;
    let closed = false;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET /api/events/stream?types=replica_up HTTP/1.1\r\nHost: 127.0.0.1:${replica.consolePort}\r\n\r\n`);
    await waitFor('the stream to open', () => replica.orchestrator.consoleStreams === 1);
    const big = 'x'.repeat(512 * 1024);
    const p = db.pipeline();
    for (let i = 0; i < 24; i++) p.xadd('nexus:events:stream', '*', 'type', 'replica_up', 'replica', `fake-${i}`, 'padding', big);
    await p.exec();
    const wroteAt = Date.now();
    // Paused: the response holds what the socket did not take, not the 12 MiB behind it.
    let most = 0;
    await waitFor('the server to drop the stuck stream', () => {
      most = Math.max(most, replica.orchestrator.consoleBufferedBytes);
      return replica.orchestrator.consoleStreams === 0;
    }, { timeoutMs: STUCK_MS + 10_000, intervalMs: 20 });
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThan(3 * big.length);
    expect(Date.now() - wroteAt).toBeGreaterThanOrEqual(STUCK_MS - 200);
    // The browser finds its connection closed, having got only a part of the 12 MiB.
    socket.resume();
    await waitFor('the connection to close', () => closed);
    expect(received).toBeLessThan(24 * big.length);
  });

  it('ends the SSE responses when the replica drains', async () => {
    const events = readSse(await browser.get('/api/events/stream'));
    const command = readSse(await browser.get('/api/commands/sse-cmd-1/stream?'));
    await waitFor('both streams open', () => replica.orchestrator.consoleStreams === 2);
    const started = Date.now();
    const stopping = replica.orchestrator.shutdown('test drain');
    await Promise.all([events.done, command.done]);
    expect(Date.now() - started).toBeLessThan(2000);
    await stopping;
    await expect(fetch(`${replica.base}/api/session`)).rejects.toThrow();
  });
});
