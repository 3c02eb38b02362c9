import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { createConnection } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnAgent } from '../helpers/processes';
import { rssMb } from '../helpers/rss';
import { waitFor } from '../helpers/wait-for';
import { FaultCluster } from './harness/fault-cluster';


/** One gRPC call over a raw HTTP/2 session with `body` as the whole request; resolves with grpc-status. */
function rawCall(session: ClientHttp2Session, path: string, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let code = -1;
    req.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) code = Number(headers['grpc-status']);
    });
    req.on('trailers', (trailers) => (code = Number(trailers['grpc-status'])));
    req.on('close', () => resolve(code));
    req.on('error', () => resolve(code));
    req.resume();
    req.end(body);
  });
}

/** A gRPC length-prefixed message whose header says `declared` bytes. */
function frame(payload: Buffer, declared = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(declared, 1);
  return Buffer.concat([header, payload]);
}

describe('F14: oversized and garbage gRPC', () => {
  let cluster: FaultCluster;
  afterEach(async () => cluster?.stop());

  it('answers with status codes (never crashes), limits streams per connection, and does not grow with more bad calls', async () => {
    cluster = await new FaultCluster('none').start(['r1']);
    const replica = cluster.replica('r1');
    const session = connect(`http://127.0.0.1:${replica.port}`);
    session.on('error', () => undefined);
    await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
    expect(session.remoteSettings.maxConcurrentStreams).toBe(16);
    const baseline = rssMb(replica.pid);

    const garbage = frame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]));
    const codes = new Map<string, number[]>();
    const record = (what: string, code: number) => codes.set(what, [...(codes.get(what) ?? []), code]);
    let afterFirstThousand = 0;
    for (let i = 0; i < 1000; i++) {
      if (i === 250) afterFirstThousand = rssMb(replica.pid);
      const [bad, oversized, declared, unary] = await Promise.all([
        rawCall(session, '/nexus.prime.NexusPulseService/Pulse', garbage),
        rawCall(session, '/nexus.prime.NexusPulseService/Pulse', frame(Buffer.alloc(2 * 1024 * 1024, 1))),
        rawCall(session, '/nexus.prime.NexusPulseService/Pulse', frame(Buffer.alloc(10), 100 * 1024 * 1024)),
        rawCall(session, '/nexus.prime.NexusPulseService/GetSystemStatus', garbage),
      ]);
      record('invalid protobuf on Pulse', bad);
      record('2 MB message', oversized);
      record('frame declaring 100 MB', declared);
      record('invalid protobuf on a unary call', unary);
    }
    session.close();
    // HTTP/1 garbage on the gRPC port: the connection is closed, nothing else happens.
    const closed = await new Promise<boolean>((resolve) => {
      const socket = createConnection(replica.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01garbage'));
      socket.on('close', () => resolve(true));
      socket.on('error', () => undefined);
      socket.resume();
    });
    expect(closed).toBe(true);

    const summary = Object.fromEntries([...codes].map(([k, v]) => [k, [...new Set(v)]]));
    const end = rssMb(replica.pid);
    console.log(`F14: status codes ${JSON.stringify(summary)}; RSS ${baseline.toFixed(1)} MB at start, ${afterFirstThousand.toFixed(1)} after 1,000 bad calls, ${end.toFixed(1)} after 4,000`);
    expect(summary['invalid protobuf on Pulse']).toEqual([13]);
    expect(summary['2 MB message']).toEqual([8]);
    expect(summary['frame declaring 100 MB']).toEqual([8]);
    expect(summary['invalid protobuf on a unary call']).toEqual([13]);
    // The first rejected 2 MB messages grow Node's buffers once (about +30 MB here); more bad
    // calls add nothing: bounded, not leaking. FAULTS.md D.5 bounds the total at +50 MB.
    expect(end).toBeLessThanOrEqual(afterFirstThousand + 10);
    expect(end).toBeLessThanOrEqual(baseline + 50);

    // Still serving: a normal agent connects.
    spawnAgent(cluster.target(), { AGENT_ID: 'after-garbage' });
    await waitFor('normal agent online', async () => (await cluster.db.zscore('nexus:agents:online', 'after-garbage')) !== null);
    expect(replica.running).toBe(true);
  });
});
