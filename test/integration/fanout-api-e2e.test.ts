import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/agent/command-errors';
import type { CommandContext } from '../../src/agent/handlers';
import {
  CommandState, GetCommandRequest, ListCommandsRequest, type GetCommandResponse, type ListCommandsResponse, type NexusPulseServiceClient,
} from '../../src/generated/nexus/prime/pulse';
import { INGRESS } from '../helpers/commands';
import { readEvents } from '../helpers/events';
import { parentTerminal, useLabelledAgents } from '../helpers/fanout';
import { statusClient } from '../helpers/grpc-clients';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';
import { watchCommand } from '../helpers/watch-streams';

/*
 * GetCommand, WatchCommand and ListCommands over gRPC on a real fan-out parent (issue 16),
 * made by the scripts from an ingress entry, with an offline matching agent skipped and one
 * failing child; children's events carry parent_id.
 */

function get(client: NexusPulseServiceClient, request: Partial<GetCommandRequest>): Promise<GetCommandResponse> {
  return new Promise((resolve, reject) => {
    client.getCommand(GetCommandRequest.fromPartial(request), new Metadata(), { deadline: Date.now() + 3000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function list(client: NexusPulseServiceClient, parentId: string): Promise<ListCommandsResponse> {
  return new Promise((resolve, reject) => {
    client.listCommands(ListCommandsRequest.fromPartial({ filter: { parentId }, pageSize: 100 }), new Metadata(), { deadline: Date.now() + 3000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

describe('fan-out parent over the API, end to end', () => {
  const fx = useOrchestrator();
  const start = useLabelledAgents();

  it('GetCommand shows the counts and children pages, WatchCommand streams each child outcome and ends, ListCommands filters by parent', async () => {
    const db = fx.redis.client();
    const client = statusClient(fx.port);
    // Runs are held until released, so the watch and GetCommand see a fan-out in progress.
    const held = new Map<string, () => void>();
    const work = (ctx: CommandContext): Promise<string> => new Promise((resolve, reject) => {
      held.set(ctx.commandId, () => (ctx.agentId === 'e3' ? reject(new PermanentError('e3 breaks')) : resolve('ok')));
    });
    for (const id of ['e1', 'e2', 'e3', 'e4']) await start(fx.port, { agentId: id, labels: { team: 'api' } }, { work });
    // A matching agent that went away: skipped (include_offline is not set).
    const gone = await start(fx.port, { agentId: 'e9', labels: { team: 'api' } }, { work });
    await gone.agent.close();
    await waitFor('e9 offline', async () => (await db.hget('nexus:agent:e9', 'state')) !== 'online');

    await db.xadd(INGRESS, '*', 'selector', 'team=api', 'command_id', 'api-1', 'command_type', 'work', 'payload', '', 'batch', '2', 'max_attempts', '1');
    await waitFor('2 children running', () => held.size === 2, { timeoutMs: 10_000 });

    const watch = watchCommand(client, 'api-1');
    await waitFor('the snapshot', () => watch.messages.length > 0);

    const mid = await get(client, { commandId: 'api-1', childrenPageSize: 1 });
    expect(mid.selector).toBe('team=api');
    expect(mid.pick).toBe('all');
    expect(mid.fanout).toMatchObject({ matched: 4, skipped: 1, launched: 2, running: 2, pending: 2, finished: 0, batch: 2, batchSpec: '2', skippedAgents: ['e9'] });
    expect(mid.fanout!.children.map((c) => c.commandId)).toHaveLength(1);
    expect(mid.fanout!.childrenNextPageToken).not.toBe('');
    const page2 = await get(client, { commandId: 'api-1', childrenPageSize: 1, childrenPageToken: mid.fanout!.childrenNextPageToken });
    expect([...mid.fanout!.children, ...page2.fanout!.children].map((c) => c.commandId).sort()).toEqual(['api-1/e1', 'api-1/e2']);
    expect(page2.fanout!.childrenNextPageToken).toBe('');

    // Release every run as it comes until all 4 ran.
    await waitFor('4 runs released', () => {
      for (const [id, release] of held) {
        release();
        held.set(id, () => undefined);
      }
      return held.size === 4;
    }, { timeoutMs: 10_000 });
    for (const release of held.values()) release();

    const parent = await parentTerminal(db, 'api-1');
    expect(parent).toMatchObject({ state: 'failed', matched: '4', skipped: '1', launched: '4', finished: '4', n_succeeded: '3' });
    expect(await watch.ended).toBeUndefined();
    const kinds = watch.messages.map((m) => m.kind);
    expect(kinds[0]?.$case).toBe('snapshot');
    const outcomes = kinds.flatMap((k) => (k?.$case === 'child' ? [k.child] : []));
    expect(outcomes.map((c) => c.commandId).sort()).toEqual(['api-1/e1', 'api-1/e2', 'api-1/e3', 'api-1/e4']);
    for (const c of outcomes) {
      expect(c.agentId).toBe(c.commandId.split('/')[1]);
      if (c.agentId === 'e3') {
        expect([CommandState.COMMAND_STATE_FAILED, CommandState.COMMAND_STATE_DEAD]).toContain(c.state);
        expect(c.error).toMatch(/e3 breaks/);
      } else {
        expect(c.state).toBe(CommandState.COMMAND_STATE_SUCCEEDED);
      }
    }
    const last = kinds[kinds.length - 1];
    expect(last?.$case).toBe('step');
    expect(last?.$case === 'step' && last.step.event).toBe('failed');
    expect(last?.$case === 'step' && last.step.detail).toMatch(/3 succeeded.*1 skipped/);

    const done = await get(client, { commandId: 'api-1' });
    expect(done.state).toBe(CommandState.COMMAND_STATE_FAILED);
    expect(done.fanout).toMatchObject({ matched: 4, skipped: 1, launched: 4, finished: 4, running: 0, pending: 0, succeeded: 3, skippedAgents: ['e9'] });
    expect(done.fanout!.children).toHaveLength(4);

    const listed = await list(client, 'api-1');
    expect(listed.commands.map((c) => c.commandId).sort()).toEqual(['api-1/e1', 'api-1/e2', 'api-1/e3', 'api-1/e4']);
    for (const c of listed.commands) expect(c.parentId).toBe('api-1');

    // Children's events carry parent_id; the parent's own terminal event has the summary.
    const events = await readEvents(db);
    const childEvents = events.filter((e) => e.command_id?.startsWith('api-1/'));
    expect(childEvents.length).toBeGreaterThanOrEqual(8);
    for (const e of childEvents) expect({ type: e.type, parent: e.parent_id }).toEqual({ type: e.type, parent: 'api-1' });
    const parentEnd = events.filter((e) => e.command_id === 'api-1' && e.type === 'command_failed');
    expect(parentEnd).toHaveLength(1);
    expect(parentEnd[0].summary).toMatch(/3 succeeded/);
    client.close();
    db.disconnect();
  });
});
