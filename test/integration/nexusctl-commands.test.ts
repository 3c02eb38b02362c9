import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/agent/command-errors';
import { parseDuration, parseStates, parseTime } from '../../src/cli/commands/commands-common';
import { CommandState } from '../../src/generated/nexus/prime/pulse';
import { useAgents } from '../helpers/agents';
import { useOrchestrator } from '../helpers/in-process';
import { nexusctl, type CtlRun } from '../helpers/nexusctl';
import { waitFor } from '../helpers/wait-for';

/**
 * `nexusctl commands list|get|send|cancel` (issue 17) against a real in-process orchestrator
 * and in-process agents, running the built binary (`npm run build` first).
 */
describe('nexusctl commands', () => {
  const fx = useOrchestrator();
  const startAgent = useAgents();
  const ctl = (args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<CtlRun> =>
    nexusctl(args, { env: { NEXUS_ADDR: `127.0.0.1:${fx.port}`, NEXUS_TIMEOUT: '5' }, ...options });
  const failing = { fail: () => { throw new PermanentError('boom: disk full'); } };

  it('send prints the id; get, list show it in table, wide, json, jsonl', async () => {
    await startAgent('cli-a1', fx.port, failing);
    const sent = await ctl(['commands', 'send', '--target', 'cli-a1', '--type', 'echo', '--payload', 'hello', '--id', 'cli-echo-1', '--correlation', 'corr-1']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toBe('cli-echo-1\n');
    await waitFor('echo done', async () => (await ctl(['commands', 'get', 'cli-echo-1', '-o', 'json'])).json<{ state: string }>().state === 'COMMAND_STATE_SUCCEEDED');

    const get = await ctl(['commands', 'get', 'cli-echo-1']);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toMatch(/^Command:\s+cli-echo-1$/m);
    expect(get.stdout).toMatch(/^State:\s+succeeded$/m);
    expect(get.stdout).toMatch(/^Target:\s+cli-a1$/m);
    expect(get.stdout).toMatch(/^Output:\s+hello$/m);
    expect(get.stdout).toMatch(/STEP\s+AT\s+REPLICA\s+ATTEMPT\s+DETAIL/);
    expect(get.stdout).toMatch(/^queued\s/m);
    expect(get.stdout).toMatch(/^succeeded\s/m);
    const wideGet = await ctl(['commands', 'get', 'cli-echo-1', '-o', 'wide']);
    expect(wideGet.stdout).toMatch(/^Created:\s+\d+s ago \(\d{4}-\d\d-\d\dT/m);
    const getJson = (await ctl(['commands', 'get', 'cli-echo-1', '-o', 'json'])).json<{ commandId: string; output: string; timeline: unknown[] }>();
    expect(getJson).toMatchObject({ commandId: 'cli-echo-1', output: 'hello', correlationId: 'corr-1' });
    expect(getJson.timeline.length).toBeGreaterThanOrEqual(2);

    const list = await ctl(['commands', 'list', '--target', 'cli-a1']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^COMMAND\s+STATE\s+TARGET\s+TYPE\s+ATTEMPTS\s+AGE\s+ERROR\/PROGRESS$/m);
    expect(list.stdout).toMatch(/^cli-echo-1\s+succeeded\s+cli-a1\s+echo\s+1\s+\d+s\s+-$/m);
    const wide = await ctl(['commands', 'list', '--target', 'cli-a1', '-o', 'wide']);
    expect(wide.stdout).toMatch(/PRIORITY\s+PARENT\s+CORRELATION\s+FINISHED/);
    expect(wide.stdout).toMatch(/cli-echo-1 .*\s5\s+-\s+corr-1\s+\d+s/);
    const json = (await ctl(['commands', 'list', '--state', 'succeeded', '--type', 'echo', '--since', '5m', '-o', 'json'])).json<{ commands: { commandId: string; state: string }[]; nextPageToken: string }>();
    expect(json.commands.map((c) => c.commandId)).toContain('cli-echo-1');
    expect(json.commands.every((c) => c.state === 'COMMAND_STATE_SUCCEEDED')).toBe(true);
    expect(json).toHaveProperty('nextPageToken');
    const lines = (await ctl(['commands', 'list', '--correlation', 'corr-1', '-o', 'jsonl'])).lines<{ commandId: string }>();
    expect(lines.map((l) => l.commandId)).toEqual(['cli-echo-1']);
    const none = await ctl(['commands', 'list', '--state', 'failed', '--correlation', 'corr-1']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('No resources found');
    const future = (await ctl(['commands', 'list', '--until', '2000-01-01T00:00:00Z', '-o', 'json'])).json<{ commands: unknown[] }>();
    expect(future.commands).toEqual([]);
  });

  it('send -o json; --limit follows pages', async () => {
    await startAgent('cli-a2', fx.port);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await ctl(['commands', 'send', '--target', 'cli-a2', '--type', 'echo', '--payload', `n${i}`, '-o', 'json', '--priority', 'high']);
      expect(r.code, r.stderr).toBe(0);
      const doc = r.json<{ commandId: string; entryId: string }>();
      expect(doc.commandId).toBeTruthy();
      expect(doc.entryId).toBeTruthy();
      ids.push(doc.commandId);
    }
    const two = (await ctl(['commands', 'list', '--target', 'cli-a2', '--limit', '2', '-o', 'json'])).json<{ commands: { commandId: string; priority: number }[]; nextPageToken: string }>();
    expect(two.commands).toHaveLength(2);
    expect(two.nextPageToken).not.toBe('');
    const all = (await ctl(['commands', 'list', '--target', 'cli-a2', '-o', 'json'])).json<{ commands: { commandId: string; priority: number }[]; nextPageToken: string }>();
    expect(all.commands.map((c) => c.commandId).sort()).toEqual([...ids].sort());
    expect(all.commands[0].priority).toBeGreaterThan(5);
    expect(all.nextPageToken).toBe('');
  });

  it('send --wait: exit 0 with the output; 1 with the error when the handler fails; json', async () => {
    await startAgent('cli-a3', fx.port, failing);
    const ok = await ctl(['commands', 'send', '--target', 'cli-a3', '--type', 'echo', '--payload', 'waited', '--wait']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('waited\n');
    expect(ok.stderr).toMatch(/command \S+ sent/);

    const bad = await ctl(['commands', 'send', '--target', 'cli-a3', '--type', 'fail', '--attempts', '1', '--wait']);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/failed.*boom: disk full/);

    const badJson = await ctl(['commands', 'send', '--target', 'cli-a3', '--type', 'fail', '--attempts', '1', '--wait', '-o', 'json']);
    expect(badJson.code).toBe(1);
    expect(badJson.json<{ state: string; error: string }>()).toMatchObject({ state: 'COMMAND_STATE_FAILED', error: expect.stringContaining('boom') });
  });

  it('send --wait to an agent that never comes: dead (expired) after --ttl, exit 1', async () => {
    const started = Date.now();
    const r = await ctl(['commands', 'send', '--target', 'cli-nobody', '--type', 'echo', '--ttl', '1s', '--wait', '--id', 'cli-ttl-1'], { timeoutMs: 25_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cli-ttl-1 dead \(expired\)/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const get = await ctl(['commands', 'get', 'cli-ttl-1']);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^Dead letter:\s+expired$/m);
  });

  it('--payload-file - reads stdin; a fan-out parent in get and send --wait', async () => {
    await startAgent('cli-f1', fx.port, {}, 4, { labels: { squad: 'get' } });
    await startAgent('cli-f2', fx.port, {}, 4, { labels: { squad: 'get' } });
    const piped = await ctl(['commands', 'send', '--target', 'cli-f1', '--type', 'echo', '--payload-file', '-', '--wait'], { stdin: 'from stdin\nline 2\n' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe('from stdin\nline 2\n');

    const fan = await ctl(['commands', 'send', '-l', 'squad=get', '--type', 'echo', '--payload', 'x', '--id', 'cli-fan-1', '--wait']);
    expect(fan.code, fan.stderr).toBe(0);
    expect(fan.stdout).toMatch(/^Selector:\s+squad=get \(pick all\)$/m);
    expect(fan.stdout).toMatch(/summary: cli-fan-1 succeeded: 2 succeeded, 0 failed/);
    const get = await ctl(['commands', 'get', 'cli-fan-1', '--children-limit', '1']);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^Fan-out: cli-fan-1 succeeded: 2 succeeded/m);
    expect(get.stdout).toMatch(/COMMAND\s+AGENT\s+STATE\s+ATTEMPTS\s+FINISHED\s+ERROR\/PROGRESS/);
    expect(get.stdout).toMatch(/^cli-fan-1\/cli-f1\s+cli-f1\s+succeeded/m);
    expect(get.stdout).not.toMatch(/^cli-fan-1\/cli-f2/m);
    expect(get.stderr).toContain('more children');
    const children = (await ctl(['commands', 'list', '--parent', 'cli-fan-1', '-o', 'json'])).json<{ commands: { commandId: string }[] }>();
    expect(children.commands.map((c) => c.commandId).sort()).toEqual(['cli-fan-1/cli-f1', 'cli-fan-1/cli-f2']);
  });

  it('get / watch of an unknown id exit 3', async () => {
    const get = await ctl(['commands', 'get', 'cli-no-such']);
    expect(get.code).toBe(3);
    expect(get.stderr).toContain('command cli-no-such not found');
    const watch = await ctl(['commands', 'watch', 'cli-no-such']);
    expect(watch.code).toBe(3);
    expect(watch.stderr).toContain('command cli-no-such not found');
    // Nothing listening: unavailable, 4, within --timeout.
    for (const args of [['commands', 'watch', 'x'], ['commands', 'get', 'x'], ['commands', 'list']]) {
      const down = await nexusctl(args, { env: { NEXUS_ADDR: '127.0.0.1:1', NEXUS_TIMEOUT: '1' } });
      expect(down.code, args.join(' ')).toBe(4);
      expect(down.stderr).toContain('cannot reach 127.0.0.1:1');
    }
  });

  it('cancel by filter: the count, exit 2 without --yes; cancels with it; cancel by id', async () => {
    for (const id of ['cli-q-1', 'cli-q-2']) {
      expect((await ctl(['commands', 'send', '--target', 'cli-queue-nobody', '--type', 'echo', '--id', id])).code).toBe(0);
    }
    expect((await ctl(['commands', 'send', '--target', 'cli-queue-other', '--type', 'echo', '--id', 'cli-q-3'])).code).toBe(0);
    const queued = async (target: string): Promise<string[]> =>
      (await ctl(['commands', 'list', '--state', 'queued', '--target', target, '-o', 'json'])).json<{ commands: { commandId: string }[] }>().commands.map((c) => c.commandId);
    await waitFor('2 queued', async () => (await queued('cli-queue-nobody')).length === 2);

    const dry = await ctl(['commands', 'cancel', '--state', 'queued', '--target', 'cli-queue-nobody']);
    expect(dry.code).toBe(2);
    expect(dry.stderr).toContain('2 commands match');
    expect(dry.stderr).toContain('pass --yes');
    expect(dry.stdout).toBe('');
    expect((await queued('cli-queue-nobody')).sort()).toEqual(['cli-q-1', 'cli-q-2']);

    const yes = await ctl(['commands', 'cancel', '--state', 'queued', '--target', 'cli-queue-nobody', '--yes', '--reason', 'test', '-o', 'json']);
    expect(yes.code, yes.stderr).toBe(0);
    const counts = yes.json<{ matched: number | string; submitted: number | string }>();
    expect([Number(counts.matched), Number(counts.submitted)]).toEqual([2, 2]);
    await waitFor('both cancelled', async () => {
      const r = (await ctl(['commands', 'list', '--state', 'cancelled', '--target', 'cli-queue-nobody', '-o', 'json'])).json<{ commands: unknown[] }>();
      return r.commands.length === 2;
    });
    expect(await queued('cli-queue-other')).toEqual(['cli-q-3']);

    const byId = await ctl(['commands', 'cancel', 'cli-q-3']);
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toBe('1 cancel requested for 1 matching command\n');
    await waitFor('cli-q-3 cancelled', async () => (await ctl(['commands', 'get', 'cli-q-3', '-o', 'json'])).json<{ state: string }>().state === 'COMMAND_STATE_CANCELLED');
    const nothing = await ctl(['commands', 'cancel', '--state', 'queued', '--target', 'cli-queue-nobody']);
    expect(nothing.code).toBe(0);
    expect(nothing.stderr).toContain('0 commands match');
  });

  it('usage errors exit 2 naming the flag', async () => {
    const cases: [string[], RegExp][] = [
      [['commands', 'send', '--target', 'a', '-l', 'x=y', '--type', 'echo'], /--target and -l\/--selector/],
      [['commands', 'send', '--type', 'echo'], /--target <agent> or -l\/--selector/],
      [['commands', 'send', '--target', 'a'], /--type is required/],
      [['commands', 'send', '--target', 'a', '--type', 'echo', '--ttl', '10'], /--ttl must be a duration/],
      [['commands', 'send', '-l', 'x=y', '--type', 'echo', '--batch', '0'], /--batch must be/],
      [['commands', 'send', '-l', 'x=y', '--type', 'echo', '--pick', 'some'], /--pick must be all or any/],
      [['commands', 'send', '--target', 'a', '--type', 'echo', '--batch', '2'], /need -l\/--selector/],
      [['commands', 'send', '--target', 'a', '--type', 'echo', '--payload-file', '/nonexistent/p'], /--payload-file: cannot read/],
      [['commands', 'list', '--since', 'yesterday'], /--since must be/],
      [['commands', 'list', '--state', 'sleeping'], /--state must be one of/],
      [['commands', 'list', '--limit', '0'], /--limit must be/],
      [['commands', 'cancel'], /command ids or at least one filter/],
    ];
    for (const [args, message] of cases) {
      const r = await ctl(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    for (const sub of ['list', 'get', 'watch', 'send', 'cancel']) {
      const help = await ctl(['commands', sub, '--help']);
      expect(help.code, sub).toBe(0);
      expect(help.stdout, sub).toContain('Examples:');
    }
  });

  it('durations, times and states of the flags', () => {
    expect(parseDuration('--ttl', '30s')).toBe(30_000);
    expect(parseDuration('--ttl', '1h30m')).toBe(5_400_000);
    expect(parseDuration('--ttl', '500ms')).toBe(500);
    expect(parseDuration('--ttl', '1d')).toBe(86_400_000);
    expect(() => parseDuration('--ttl', '5')).toThrow(/--ttl must be a duration/);
    expect(() => parseDuration('--ttl', '5 parsecs')).toThrow(/--ttl/);
    expect(parseTime('--since', '2h', 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(parseTime('--since', '2026-12-06T08:00:00Z')).toBe(Date.parse('2026-12-06T08:00:00Z'));
    expect(() => parseTime('--until', 'tomorrow')).toThrow(/--until must be/);
    expect(parseStates(['queued,running', 'delivered', 'dead'])).toEqual([CommandState.COMMAND_STATE_QUEUED, CommandState.COMMAND_STATE_DELIVERED, CommandState.COMMAND_STATE_DEAD]);
  });
});
