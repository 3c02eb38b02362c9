import type Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useAgents } from '../helpers/agents';
import { DLQ, issue, readDlq, xaddMany } from '../helpers/commands';
import { useOrchestrator } from '../helpers/in-process';
import { nexusctl } from '../helpers/nexusctl';
import { waitFor } from '../helpers/wait-for';

interface DeadLetterJson {
  id: string;
  commandId: string;
  reason: string;
  target: string;
  commandType: string;
  error: string;
}

const FAST = { MAINTENANCE_INTERVAL_MS: '100', WAKE_POLL_MS: '200', INGRESS_BLOCK_MS: '200' };

describe('nexusctl dlq list, redrive, purge', () => {
  const fx = useOrchestrator(FAST);
  const startAgent = useAgents();
  let env: Record<string, string>;
  const ctl = (args: string[]) => nexusctl(args, { env, timeoutMs: 20_000 });
  /** Dead letter id by command id. */
  const ids = new Map<string, string>();
  let db: Redis;
  const dlqIds = async () => (await readDlq(db)).map((e) => e.id);
  const commandExists = async (id: string) => (await db.exists(`nexus:command:${id}`)) === 1;

  beforeAll(async () => {
    env = { NEXUS_ADDR: `127.0.0.1:${fx.port}`, NEXUS_TIMEOUT: '5' };
    db = fx.redis.client();
  });

  afterAll(() => {
    db?.disconnect();
  });

  it('dlq list: a table of the dead letters, filtered, limited; json and jsonl', async () => {
    await startAgent('dl-worker', fx.port);
    await xaddMany(db, [
      issue('dl-worker', 'bad-1', 'echo', ['priority', 'urgent']),
      issue('dl-worker', 'wipe-1', 'format-disk'),
      issue('ghost-host', 'report-1', 'echo', ['ttl_ms', '300', 'payload', 'weekly']),
      issue('ghost-host', 'report-2', 'echo', ['ttl_ms', '300', 'payload', 'monthly']),
      issue('ghost-host', 'report-3', 'report', ['ttl_ms', '300', 'payload', 'yearly']),
    ]);
    await waitFor('5 dead letters', async () => (await db.xlen(DLQ)) === 5);
    for (const e of await readDlq(db)) ids.set(e.command_id, e.id);

    const r = await ctl(['dlq', 'list']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+REASON\s+COMMAND\s+TARGET\s+TYPE\s+ATTEMPTS\s+AGE\s+ERROR$/);
    expect(lines).toHaveLength(6);
    expect(r.stdout).toMatch(new RegExp(`^${ids.get('bad-1')}\\s+invalid\\s+bad-1\\s+dl-worker\\s+echo\\s+0\\s+\\d+s\\s+priority must be`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^${ids.get('wipe-1')}\\s+failed\\s+wipe-1\\s+dl-worker\\s+format-disk\\s+1\\s+\\d+s\\s+unknown command type "format-disk"$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^${ids.get('report-1')}\\s+expired\\s+report-1\\s+ghost-host\\s+echo\\s+0\\s+\\d+s\\s+not delivered`, 'm'));
    // Newest first.
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([...(await dlqIds())].reverse());
    expect(r.stderr).toMatch(/dead letters in the DLQ/);
    expect(r.stdout).not.toContain('\u001b[');

    const wide = await ctl(['dlq', 'list', '-o', 'wide']);
    expect(wide.stdout.split('\n')[0]).toMatch(/AGE\s+REPLICA\s+SOURCE\s+ERROR$/);

    const json = await ctl(['dlq', 'list', '-o', 'json']);
    const doc = json.json<{ deadLetters: DeadLetterJson[]; total: string; countsByReason: Record<string, string> }>();
    expect(doc.deadLetters.map((d) => d.commandId).sort()).toEqual(['bad-1', 'report-1', 'report-2', 'report-3', 'wipe-1']);
    expect(doc.deadLetters.find((d) => d.commandId === 'wipe-1')).toMatchObject({ reason: 'failed', target: 'dl-worker', commandType: 'format-disk' });

    const expired = await ctl(['dlq', 'list', '--reason', 'expired', '--type', 'echo', '-o', 'jsonl']);
    expect(expired.lines<DeadLetterJson>().map((d) => d.commandId).sort()).toEqual(['report-1', 'report-2']);
    const twoReasons = await ctl(['dlq', 'list', '--reason', 'invalid', '--reason', 'failed', '-o', 'json']);
    expect(twoReasons.json<{ deadLetters: DeadLetterJson[] }>().deadLetters.map((d) => d.commandId).sort()).toEqual(['bad-1', 'wipe-1']);
    const byTarget = await ctl(['dlq', 'list', '--target', 'ghost-host', '--limit', '2', '-o', 'json']);
    expect(byTarget.json<{ deadLetters: DeadLetterJson[] }>().deadLetters.map((d) => d.commandId)).toEqual(['report-3', 'report-2']);
    expect(byTarget.stderr).toBe('');
    const limitedTable = await ctl(['dlq', 'list', '--limit', '2']);
    expect(limitedTable.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(limitedTable.stderr).toContain('more match');
    const none = await ctl(['dlq', 'list', '--reason', 'poison']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('No resources found.');

    const badReason = await ctl(['dlq', 'list', '--reason', 'expried']);
    expect(badReason.code).toBe(2);
    expect(badReason.stderr).toContain('--reason');
    expect(badReason.stderr).toContain('expried');
  });

  it('dlq redrive <ids>: acts at once; again runs nothing twice; bad ids exit 3 and 6', async () => {
    const id = ids.get('report-1')!;
    const r = await ctl(['dlq', 'redrive', id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('redriven 1 of 1 matched dead letter');
    expect(r.stdout).toContain(`report-1:redrive:${id}`);
    await waitFor('the redrive command', () => commandExists(`report-1:redrive:${id}`));

    const again = await ctl(['dlq', 'redrive', id, '-o', 'json']);
    expect(again.code).toBe(0);
    const doc = again.json<{ matched: string; redriven?: string; commandIds: string[] }>();
    expect(doc).toMatchObject({ matched: expect.anything(), commandIds: [`report-1:redrive:${id}`] });
    expect(Number(doc.matched)).toBe(1);
    expect(Number(doc.redriven ?? 0)).toBe(0);

    const invalid = await ctl(['dlq', 'redrive', ids.get('bad-1')!]);
    expect(invalid.code).toBe(6);
    expect(invalid.stderr).toContain('priority must be');
    const missing = await ctl(['dlq', 'redrive', '1-9']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no dead letter 1-9');
    const both = await ctl(['dlq', 'redrive', id, '--reason', 'expired']);
    expect(both.code).toBe(2);
    const nothing = await ctl(['dlq', 'redrive']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('--all');
  });

  it('dlq redrive by filter: counts and exits 2 without --yes (nothing redriven); does it with --yes', async () => {
    const r2 = `report-2:redrive:${ids.get('report-2')}`;
    const r3 = `report-3:redrive:${ids.get('report-3')}`;
    const dry = await ctl(['dlq', 'redrive', '--reason', 'expired', '--target', 'ghost-host']);
    expect(dry.code).toBe(2);
    expect(dry.stdout).toBe('');
    expect(dry.stderr).toContain('3 dead letters match');
    expect(dry.stderr).toContain('pass --yes to redrive them');
    expect(await commandExists(r2)).toBe(false);
    expect(await commandExists(r3)).toBe(false);

    const done = await ctl(['dlq', 'redrive', '--reason', 'expired', '--target', 'ghost-host', '--yes']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain('3 dead letters match');
    expect(done.stdout).toContain('redriven 2 of 3 matched dead letters (1 already redriven earlier)');
    expect(done.stdout).toContain(r2);
    expect(done.stdout).toContain(r3);
    await waitFor('the redrive commands', async () => (await commandExists(r2)) && (await commandExists(r3)));

    const json = await ctl(['dlq', 'redrive', '--reason', 'expired', '--type', 'report', '--yes', '-o', 'json']);
    expect(json.code).toBe(0);
    const doc = json.json<{ matched: string; commandIds: string[] }>();
    expect(Number(doc.matched)).toBe(1);
    expect(doc.commandIds).toEqual([r3]);

    const noMatch = await ctl(['dlq', 'redrive', '--reason', 'poison']);
    expect(noMatch.code).toBe(0);
    expect(noMatch.stderr).toContain('0 dead letters match');
  });

  it('dlq purge: by ids at once; by filter only with --yes; --all', async () => {
    const before = await dlqIds();
    const dry = await ctl(['dlq', 'purge', '--reason', 'expired']);
    expect(dry.code).toBe(2);
    expect(dry.stderr).toContain('3 dead letters match');
    expect(dry.stderr).toContain('pass --yes to purge them');
    expect(await dlqIds()).toEqual(before);

    const byFilter = await ctl(['dlq', 'purge', '--reason', 'expired', '--yes']);
    expect(byFilter.code, byFilter.stderr).toBe(0);
    expect(byFilter.stdout).toBe('purged 3 dead letters\n');
    expect((await dlqIds()).sort()).toEqual([ids.get('bad-1'), ids.get('wipe-1')].sort());

    const byId = await ctl(['dlq', 'purge', ids.get('bad-1')!, '-o', 'json']);
    expect(byId.code).toBe(0);
    expect(byId.json()).toEqual({ matched: expect.anything(), purged: expect.anything() });
    expect(Number(byId.json<{ purged: string }>().purged)).toBe(1);
    expect(await dlqIds()).toEqual([ids.get('wipe-1')]);
    const gone = await ctl(['dlq', 'purge', ids.get('bad-1')!]);
    expect(gone.code).toBe(0);
    expect(gone.stdout).toBe('purged 0 dead letters\n');
    expect(gone.stderr).toContain('1 of the ids were already gone');

    const allDry = await ctl(['dlq', 'purge', '--all']);
    expect(allDry.code).toBe(2);
    expect(allDry.stderr).toContain('1 dead letter match');
    expect(allDry.stderr).toContain('pass --yes to purge it');
    const all = await ctl(['dlq', 'purge', '--all', '--yes']);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe('purged 1 dead letter\n');
    expect(await dlqIds()).toEqual([]);
    const empty = await ctl(['dlq', 'list']);
    expect(empty.code).toBe(0);
    expect(empty.stderr).toContain('No resources found.');
  });
});
