import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent';
import type { AgentOptions } from '../../src/agent/agent-options';
import { createLogger } from '../../src/shared/logger';
import { INGRESS, issue } from '../helpers/commands';
import { useOrchestrator } from '../helpers/in-process';
import { nexusctl, NEXUSCTL_BIN } from '../helpers/nexusctl';
import { Child } from '../helpers/processes';
import { waitFor } from '../helpers/wait-for';

interface AgentJson {
  agentId: string;
  state: string;
  replicaId: string;
  agentType: string;
  labels?: Record<string, string>;
  metrics?: { cpuPercent?: number; memoryTotalBytes?: string | number };
}

interface EventJson {
  id: string;
  type: string;
  commandId?: string;
  agentId?: string;
  replicaId?: string;
  fields?: Record<string, string>;
}

/** nexusctl `args` started and left running: its stdout so far, and a way to end it. */
function startCtl(args: string[], env: Record<string, string>): { child: Child; stdout: () => string; stderr: () => string } {
  const proc = spawn(process.execPath, [NEXUSCTL_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { child: new Child(`nexusctl ${args.join(' ')}`, proc), stdout: () => out, stderr: () => err };
}

const jsonLines = (text: string): EventJson[] => text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as EventJson);

describe('nexusctl agents and events', () => {
  const fx = useOrchestrator({ WAKE_POLL_MS: '200', INGRESS_BLOCK_MS: '200' });
  const agents: Agent[] = [];
  let env: Record<string, string>;
  const ctl = (args: string[], timeoutMs = 20_000) => nexusctl(args, { env, timeoutMs });
  const submit = async (target: string, id: string, type: string, payload: string) => {
    const db = fx.redis.client();
    await db.xadd(INGRESS, '*', ...issue(target, id, type, ['payload', payload]));
    db.disconnect();
  };

  beforeAll(async () => {
    env = { NEXUS_ADDR: `127.0.0.1:${fx.port}`, NEXUS_TIMEOUT: '5' };
    const start = async (agentId: string, options: Partial<AgentOptions>) => {
      const agent = new Agent(
        { agentId, orchestrator: `127.0.0.1:${fx.port}`, heartbeatIntervalMs: 300, initialBackoffMs: 20, maxBackoffMs: 100, ...options },
        { logger: createLogger('silent') },
      );
      let welcomed = false;
      agent.once('welcome', () => (welcomed = true));
      agents.push(agent);
      agent.start();
      await waitFor(`${agentId} welcomed`, () => welcomed);
    };
    await start('web-prod-1', { labels: { env: 'prod', region: 'eu' }, agentType: 'web', capabilities: ['deploy', 'restart'] });
    await start('web-prod-2', { labels: { env: 'prod', region: 'us' }, agentType: 'web' });
    await start('build-dev-1', { labels: { env: 'dev' }, agentType: 'builder', maxConcurrency: 2 });
    await start('build-dev-10', { labels: { env: 'dev' }, agentType: 'builder' });
    // Metrics arrive with the heartbeats.
    await waitFor('metrics of every agent', async () => {
      const r = await ctl(['agents', '-o', 'json']);
      const list = r.json<{ agents: AgentJson[] }>().agents;
      return list.length === 4 && list.every((a) => a.metrics?.memoryTotalBytes);
    });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
  });

  it('agents: a table of every agent with state, replica, type, cpu, memory, age and labels', async () => {
    const r = await ctl(['agents']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+STATE\s+REPLICA\s+TYPE\s+CPU\s+MEMORY\s+AGE\s+LABELS$/);
    expect(lines).toHaveLength(5);
    const row = lines.find((l) => l.startsWith('web-prod-1 '));
    expect(row).toMatch(/^web-prod-1\s+online\s+\S+\s+web\s+\d+(\.\d)?%\s+[\d.]+\w+\/[\d.]+\w+\s+\d+s\s+env=prod,region=eu$/);
    expect(r.stdout).not.toContain('\u001b[');

    const wide = await ctl(['agents', '-o', 'wide']);
    expect(wide.code).toBe(0);
    expect(wide.stdout.split('\n')[0]).toMatch(/LABELS\s+CAPABILITIES\s+VERSION\s+ACTIVE\s+LAST PULSE$/);
    expect(wide.stdout).toMatch(/web-prod-1 .* deploy,restart\s+\S+\s+0\/4\s+\d+s/);
    expect(wide.stdout).toMatch(/build-dev-1 .*\s+0\/2\s+\d+s/);
  });

  it('agents -o json / jsonl: AgentInfo documents', async () => {
    const r = await ctl(['agents', '-o', 'json']);
    expect(r.code).toBe(0);
    const doc = r.json<{ agents: AgentJson[] }>();
    expect(doc.agents.map((a) => a.agentId).sort()).toEqual(['build-dev-1', 'build-dev-10', 'web-prod-1', 'web-prod-2']);
    const a = doc.agents.find((x) => x.agentId === 'web-prod-1')!;
    expect(a).toMatchObject({ state: 'AGENT_STATE_ONLINE', agentType: 'web', labels: { env: 'prod', region: 'eu' } });
    expect(a.replicaId).not.toBe('');
    expect(a).toMatchObject({ connectedAt: expect.stringMatching(/^\d{4}-.*Z$/), lastPulse: expect.stringMatching(/^\d{4}-.*Z$/) });
    const lines = await ctl(['agents', '-o', 'jsonl', '--type', 'builder']);
    expect(lines.lines<AgentJson>().map((x) => x.agentId).sort()).toEqual(['build-dev-1', 'build-dev-10']);
  });

  it('agents -l env=prod: exactly the prod agents; filters and paging', async () => {
    const prod = await ctl(['agents', '-l', 'env=prod', '-o', 'json']);
    expect(prod.code).toBe(0);
    expect(prod.json<{ agents: AgentJson[] }>().agents.map((a) => a.agentId).sort()).toEqual(['web-prod-1', 'web-prod-2']);
    const table = await ctl(['agents', '--selector', 'env=prod,region=us']);
    expect(table.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['web-prod-2']);
    const online = await ctl(['agents', '--state', 'online', '-o', 'json']);
    expect(online.json<{ agents: AgentJson[] }>().agents).toHaveLength(4);
    const offline = await ctl(['agents', '--state', 'offline']);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toBe('');
    expect(offline.stderr).toContain('No resources found.');
    const limited = await ctl(['agents', '--limit', '3', '-o', 'json']);
    expect(limited.json<{ agents: AgentJson[] }>().agents).toHaveLength(3);
    expect(limited.stderr).toContain('more match');

    const badState = await ctl(['agents', '--state', 'asleep']);
    expect(badState.code).toBe(2);
    expect(badState.stderr).toContain('--state');
    const badSelector = await ctl(['agents', '-l', 'env in (prod']);
    expect(badSelector.code, badSelector.stderr).toBe(2);
    expect(badSelector.stderr).toContain('--selector');
    const badLimit = await ctl(['agents', '--limit', 'lots']);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('--limit');
  });

  it('agents <id>: details and recent commands; the exact id, not its prefix matches', async () => {
    await submit('build-dev-1', 'agents-detail-echo', 'echo', 'hello');
    await waitFor('the echo ran', async () => {
      const r = await ctl(['agents', 'build-dev-1']);
      return r.stdout.includes('agents-detail-echo') && /agents-detail-echo\s+succeeded/.test(r.stdout) && r;
    });
    const r = await ctl(['agents', 'build-dev-1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Agent:\s+build-dev-1$/m);
    expect(r.stdout).toMatch(/^State:\s+online$/m);
    expect(r.stdout).toMatch(/^Type:\s+builder$/m);
    expect(r.stdout).toMatch(/^Labels:\s+env=dev$/m);
    expect(r.stdout).toMatch(/^Memory:\s+\S+ of \S+$/m);
    expect(r.stdout).toMatch(/Recent commands:\nCOMMAND\s+STATE\s+TYPE\s+ATTEMPTS\s+AGE\s+ERROR\nagents-detail-echo\s+succeeded\s+echo\s+1\s+\d+s\s+-/);
    expect(r.stdout).not.toContain('build-dev-10');

    const json = await ctl(['agents', 'build-dev-10', '-o', 'json']);
    expect(json.json<AgentJson>()).toMatchObject({ agentId: 'build-dev-10', agentType: 'builder', state: 'AGENT_STATE_ONLINE' });

    const missing = await ctl(['agents', 'build-dev']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no agent build-dev');
    const unknown = await ctl(['agents', 'unknown']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('no agent unknown');
  });

  it("events: a command's events, as a table and as json", async () => {
    await submit('web-prod-2', 'events-echo-1', 'echo', 'hi');
    const table = await waitFor('the events of events-echo-1', async () => {
      const r = await ctl(['events', '--command', 'events-echo-1']);
      return r.code === 0 && r.stdout.includes('command_succeeded') && r;
    });
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+TYPE\s+COMMAND\s+AGENT\s+REPLICA\s+DETAIL$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(['command_queued', 'command_delivered', 'command_succeeded']);
    expect(lines[3]).toMatch(/^\d\d:\d\d:\d\d\.\d{3}\s+command_succeeded\s+events-echo-1\s+web-prod-2\s+\S+\s+attempt=1/);

    const json = await ctl(['events', '--command', 'events-echo-1', '-o', 'json']);
    expect(json.code).toBe(0);
    const doc = json.json<{ events: EventJson[] }>();
    expect(doc.events.map((e) => e.type)).toEqual(['command_queued', 'command_delivered', 'command_succeeded']);
    expect(doc.events[2]).toMatchObject({ commandId: 'events-echo-1', agentId: 'web-prod-2', fields: { attempt: '1' } });
    expect(doc.events[2].id).toMatch(/^\d+-\d+$/);
    // Times in machine output are ISO 8601 (atUnixMs -> at), like every nexusctl document.
    expect((doc.events[2] as unknown as { at: string }).at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const typed = await ctl(['events', '--since', '5m', '--type', 'command_queued,command_succeeded', '--agent', 'web-prod-2', '-o', 'jsonl']);
    const got = typed.lines<EventJson>();
    expect(got.filter((e) => e.commandId === 'events-echo-1').map((e) => e.type)).toEqual(['command_queued', 'command_succeeded']);
    expect(got.every((e) => e.agentId === 'web-prod-2')).toBe(true);

    const limited = await ctl(['events', '--since', '5m', '--limit', '2', '-o', 'json']);
    expect(limited.json<{ events: EventJson[] }>().events).toHaveLength(2);

    const after = await ctl(['events', '--after', doc.events[0].id, '--command', 'events-echo-1', '-o', 'json']);
    expect(after.json<{ events: EventJson[] }>().events.map((e) => e.type)).toEqual(['command_delivered', 'command_succeeded']);

    const badType = await ctl(['events', '--type', 'command_exploded']);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toContain('--type');
    expect(badType.stderr).toContain('command_exploded');
    const badSince = await ctl(['events', '--since', 'yesterday']);
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toContain('--since');
    const jsonFollow = await ctl(['events', '-f', '-o', 'json']);
    expect(jsonFollow.code).toBe(2);
    expect(jsonFollow.stderr).toContain('-o json prints one document; use -o jsonl with --follow');
  });

  it('events -f -o jsonl: prints events while a command runs; Ctrl-C ends it with 0', async () => {
    const follow = startCtl(['events', '-f', '-o', 'jsonl', '--command', 'events-follow-1', '--after', `${Date.now() - 1000}`], env);
    await submit('web-prod-1', 'events-follow-1', 'sleep', '2500');
    const running = await waitFor('command_delivered printed', () => {
      const got = jsonLines(follow.stdout());
      return got.some((e) => e.type === 'command_delivered') && got;
    });
    // Printed as it happened: the command is still running.
    expect(running.map((e) => e.type)).toEqual(['command_queued', 'command_delivered']);
    expect(follow.child.running).toBe(true);
    const done = await waitFor('command_succeeded printed', () => {
      const got = jsonLines(follow.stdout());
      return got.some((e) => e.type === 'command_succeeded') && got;
    });
    expect(done.map((e) => e.type)).toEqual(['command_queued', 'command_delivered', 'command_succeeded']);
    expect(done[2]).toMatchObject({ commandId: 'events-follow-1', agentId: 'web-prod-1', at: expect.stringMatching(/Z$/) });
    follow.child.signal('SIGINT');
    const { code } = await follow.child.exited;
    expect(code, follow.stderr()).toBe(0);
  });

  it('events -f (table): a header, then one fixed-layout line per event as it arrives', async () => {
    // From an id (not "from now") so the event cannot slip in before the server's watch is set up.
    const follow = startCtl(['events', '-f', '--agent', 'web-prod-2', '--type', 'command_succeeded', '--after', `${Date.now()}-0`], env);
    await waitFor('the header', () => follow.stdout().startsWith('TIME'));
    await submit('web-prod-2', 'events-follow-2', 'echo', 'x');
    await waitFor('the event line', () => follow.stdout().includes('events-follow-2'));
    const lines = follow.stdout().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME {11}TYPE {18}COMMAND {24}AGENT {18}REPLICA {6}DETAIL$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {3}command_succeeded {5}events-follow-2 {16}web-prod-2 {13}\S+\s+attempt=1/);
    expect(lines).toHaveLength(2);
    follow.child.signal('SIGINT');
    expect((await follow.child.exited).code).toBe(0);
  });
});

describe('nexusctl events -f when the replica drains', () => {
  const fx = useOrchestrator();

  it('says where to resume on stderr and exits 4', async () => {
    const env = { NEXUS_ADDR: `127.0.0.1:${fx.port}`, NEXUS_TIMEOUT: '5' };
    const follow = startCtl(['events', '-f', '-o', 'jsonl', '--since', '1m'], env);
    const seen = await waitFor('the replica_up event', () => {
      const got = jsonLines(follow.stdout());
      return got.some((e) => e.type === 'replica_up') && got;
    });
    await fx.orchestrator.shutdown();
    const { code } = await follow.child.exited;
    expect(code, follow.stderr()).toBe(4);
    const last = jsonLines(follow.stdout()).at(-1)!;
    expect(seen.length).toBeGreaterThan(0);
    expect(follow.stderr()).toMatch(/^error: the event stream ended \(UNAVAILABLE\): replica draining/m);
    expect(follow.stderr()).toContain(`resume with --after ${last.id}`);
  });
});
