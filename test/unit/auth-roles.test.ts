import { createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { NexusPulseServiceService } from '../../src/generated/nexus/prime/pulse';
import { Authenticator, authMode, bearerToken, certificateCaller } from '../../src/orchestrator/auth/authenticator';
import { mayCall, rpcName, RPC_ROLES, type RpcKey } from '../../src/orchestrator/auth/rpc-roles';
import { parseTokensFile } from '../../src/orchestrator/auth/tokens-file';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const READS = ['GetSystemStatus', 'GetCommand', 'ListCommands', 'WatchCommand', 'WatchEvents', 'ListDeadLetters'];

describe('the role table', () => {
  it('has a row for each of the 11 RPCs of the service, and no other', () => {
    expect(Object.keys(RPC_ROLES).sort()).toEqual(Object.keys(NexusPulseServiceService).sort());
    expect(Object.keys(RPC_ROLES)).toHaveLength(11);
  });

  it('agents call only Pulse, viewers the reads, operators everything, other roles nothing', () => {
    for (const key of Object.keys(RPC_ROLES) as RpcKey[]) {
      const name = rpcName(key);
      expect([name, mayCall('agent', key)]).toEqual([name, name === 'Pulse']);
      expect([name, mayCall('viewer', key)]).toEqual([name, READS.includes(name)]);
      expect([name, mayCall('operator', key)]).toEqual([name, true]);
      expect([name, mayCall('robot', key)]).toEqual([name, false]);
      expect([name, mayCall('anonymous', key)]).toEqual([name, false]);
    }
  });
});

describe('the tokens file', () => {
  it('reads role, name and hash per line, skipping comments and blank lines', () => {
    const entries = parseTokensFile(`# who may call\n\noperator alice ${sha('a')}\n  viewer   bob ${sha('b').toUpperCase()}  \r\nagent agent-1 ${sha('c')}\n`);
    expect(entries.map((e) => [e.role, e.name, e.sha256.toString('hex')])).toEqual([
      ['operator', 'alice', sha('a')],
      ['viewer', 'bob', sha('b')],
      ['agent', 'agent-1', sha('c')],
    ]);
  });

  it.each([
    [`operator alice ${sha('a')}\nadmin root ${sha('r')}`, 'AUTH_TOKENS_FILE: line 2: unknown role "admin" (one of agent, viewer, operator)'],
    [`# c\noperator alice`, 'AUTH_TOKENS_FILE: line 2: expected "<role> <name> <sha256 hex>", got 2 field(s)'],
    [`operator alice ${sha('a')} extra`, 'AUTH_TOKENS_FILE: line 1: expected "<role> <name> <sha256 hex>", got 4 field(s)'],
    [`\n\nviewer bob abc123`, 'AUTH_TOKENS_FILE: line 3: the hash must be 64 hex digits (printf %s "$TOKEN" | sha256sum)'],
    [`viewer bob ${sha('b').slice(0, 63)}z`, 'AUTH_TOKENS_FILE: line 1: the hash must be 64 hex digits (printf %s "$TOKEN" | sha256sum)'],
    [`viewer b/ob ${sha('b')}`, 'AUTH_TOKENS_FILE: line 1: bad name: the name may hold only letters, digits and . _ : @ - (and must start with a letter or digit)'],
    [`viewer bob ${sha('b')}\noperator alice ${sha('b')}`, 'AUTH_TOKENS_FILE: line 2: the same token hash appears on an earlier line (each token names one caller)'],
    ['# nothing here\n', 'AUTH_TOKENS_FILE: holds no tokens (one "<role> <name> <sha256 hex>" per line)'],
  ])('refuses %j naming the variable and the line', (text, message) => {
    expect(() => parseTokensFile(text)).toThrow(message);
  });

  it('never repeats a hash in its errors', () => {
    const bad = `${sha('secret').slice(0, 40)}`;
    expect(() => parseTokensFile(`viewer bob ${bad}`)).toThrow(/^(?!.*[0-9a-f]{40}).*$/s);
  });
});

describe('who a call comes from', () => {
  const cert = (san: string | undefined, cn?: string) => ({ subject: cn ? { CN: cn } : {}, subjectaltname: san, raw: Buffer.alloc(1) }) as unknown as PeerCertificate;

  it('reads the role from the spiffe://nexus/<role>/<name> SAN URI, else an agent named by the CN', () => {
    expect(certificateCaller(cert('DNS:x, URI:spiffe://nexus/agent/A1', 'ignored'))).toEqual({ role: 'agent', name: 'A1' });
    expect(certificateCaller(cert('URI:spiffe://nexus/viewer/bob'))).toEqual({ role: 'viewer', name: 'bob' });
    expect(certificateCaller(cert('URI:spiffe://nexus/operator/alice'))).toEqual({ role: 'operator', name: 'alice' });
    expect(certificateCaller(cert('URI:spiffe://nexus/robot/r2'))).toEqual({ role: 'robot', name: 'r2' });
    expect(certificateCaller(cert('URI:spiffe://nexus/operator/', 'alice'))).toEqual({ role: 'unknown', name: '' });
    expect(certificateCaller(cert(undefined, 'B1'))).toEqual({ role: 'agent', name: 'B1' });
    expect(certificateCaller(cert('URI:https://example.com/x', 'B1'))).toEqual({ role: 'agent', name: 'B1' });
  });

  it('reads a bearer token only from one well-formed authorization value', () => {
    const md = (...values: string[]) => {
      const m = new Metadata();
      for (const v of values) m.add('authorization', v);
      return m;
    };
    expect(bearerToken(md('Bearer abc'))).toBe('abc');
    expect(bearerToken(md('bearer abc'))).toBe('abc');
    expect(bearerToken(md('Basic abc'))).toBeUndefined();
    expect(bearerToken(md('Bearer a b'))).toBeUndefined();
    expect(bearerToken(md())).toBeUndefined();
    expect(bearerToken(md('Bearer a', 'Bearer b'))).toBeUndefined();
  });

  it('maps a token to its caller; missing and unknown tokens are UNAUTHENTICATED', () => {
    const auth = new Authenticator('tokens', parseTokensFile(`operator alice ${sha('t-alice')}\nviewer bob ${sha('t-bob')}`));
    const withToken = (t?: string) => {
      const m = new Metadata();
      if (t !== undefined) m.set('authorization', `Bearer ${t}`);
      return auth.authenticate(undefined, m);
    };
    expect(withToken('t-bob')).toEqual({ ok: true, caller: { role: 'viewer', name: 'bob' } });
    expect(withToken('t-alice')).toEqual({ ok: true, caller: { role: 'operator', name: 'alice' } });
    expect(withToken('t-eve')).toMatchObject({ ok: false, code: status.UNAUTHENTICATED, details: 'unknown bearer token' });
    expect(withToken()).toMatchObject({ ok: false, code: status.UNAUTHENTICATED });
  });

  it('lets the certificate decide when both mTLS and tokens are configured', () => {
    const tokens = parseTokensFile(`viewer bob ${sha('b')}`);
    expect(authMode({ tls: { ca: Buffer.alloc(1) }, authTokens: tokens })).toBe('mtls');
    expect(authMode({ tls: { ca: undefined }, authTokens: tokens })).toBe('tokens');
    expect(authMode({ tls: undefined, authTokens: undefined })).toBe('open');
  });
});
