import { describe, expect, it } from 'vitest';
import { CancelledError, PermanentError } from '../../src/agent/command-errors';
import type { CommandContext } from '../../src/agent/handlers';
import { INGRESS } from '../helpers/commands';
import { childRecords, parentTerminal, useLabelledAgents, type LabelledAgent } from '../helpers/fanout';
import { useOrchestrator } from '../helpers/in-process';
import { waitFor } from '../helpers/wait-for';

/*
 * Rollouts (issue 16): `batch` bounds the children running at once, `batch_wait_ms` spaces the
 * batches, `max_failures` stops launching, cancelling the parent stops the rollout.
 */

const WORK_MS = 150;

/** Global tally of the `work` handler across a test's agents. */
class Tally {
  running = 0;
  max = 0;
  readonly starts: { id: string; at: number }[] = [];
  readonly ends: { id: string; at: number }[] = [];
  fail = new Set<string>();

  handler = async (ctx: CommandContext): Promise<string> => {
    this.running++;
    this.max = Math.max(this.max, this.running);
    this.starts.push({ id: ctx.commandId, at: Date.now() });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, WORK_MS);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new CancelledError('cancelled'));
        }, { once: true });
      });
      if (this.fail.has(ctx.agentId)) throw new PermanentError(`${ctx.agentId} fails`);
      return 'ok';
    } finally {
      this.running--;
      this.ends.push({ id: ctx.commandId, at: Date.now() });
    }
  };
}

describe('fan-out rollouts', () => {
  const fx = useOrchestrator();
  const start = useLabelledAgents();

  /** 20 agents labelled group=<group>, ids <group>-01..20, all running `work` through `tally`. */
  async function fleet(group: string, tally: Tally): Promise<LabelledAgent[]> {
    const out: LabelledAgent[] = [];
    for (let i = 1; i <= 20; i++) {
      out.push(await start(fx.port, { agentId: `${group}-${String(i).padStart(2, '0')}`, labels: { group }, maxConcurrency: 4 }, { work: tally.handler }));
    }
    return out;
  }

  function issue(id: string, group: string, ...extra: string[]): Promise<string | null> {
    return fx.redis.client().xadd(INGRESS, '*', 'selector', `group=${group}`, 'command_id', id, 'command_type', 'work', 'payload', '', ...extra);
  }

  it('batch 10% of 20 runs at most 2 children at once and all 20 succeed', async () => {
    const db = fx.redis.client();
    const tally = new Tally();
    const agents = await fleet('g1', tally);
    await issue('roll-pct', 'g1', 'batch', '10%');
    const parent = await parentTerminal(db, 'roll-pct', 20_000);
    expect(parent).toMatchObject({ state: 'succeeded', batch: '2', batch_spec: '10%', matched: '20', launched: '20', finished: '20', n_succeeded: '20' });
    expect(tally.max).toBeLessThanOrEqual(2);
    expect(tally.max).toBe(2); // the batch is used, not run one by one
    expect(tally.starts).toHaveLength(20);
    agents.forEach((a, i) => expect(a.runs).toEqual([`roll-pct/g1-${String(i + 1).padStart(2, '0')}`]));
    expect(new Set(tally.starts.map((s) => s.id)).size).toBe(20);
    db.disconnect();
  });

  it('batch 3 with batch_wait_ms 200: at most 3 at once, each new launch waits 200 ms after a finish', async () => {
    const db = fx.redis.client();
    const tally = new Tally();
    await fleet('g2', tally);
    await issue('roll-3', 'g2', 'batch', '3', 'batch_wait_ms', '200');
    const parent = await parentTerminal(db, 'roll-3', 20_000);
    expect(parent).toMatchObject({ state: 'succeeded', batch: '3', batch_wait_ms: '200', n_succeeded: '20', launched: '20' });
    expect(tally.max).toBeLessThanOrEqual(3);
    expect(tally.starts).toHaveLength(20);
    // Starts after the first batch come >= ~200 ms after the latest finish before them
    // (the ends of one batch are a few ms apart; 150 leaves room for that).
    const sorted = [...tally.starts].sort((a, b) => a.at - b.at);
    for (const s of sorted.slice(3)) {
      const before = tally.ends.filter((e) => e.at <= s.at).map((e) => e.at);
      expect(before.length).toBeGreaterThan(0);
      expect(s.at - Math.max(...before)).toBeGreaterThanOrEqual(150);
    }
    db.disconnect();
  });

  it('max_failures 2 stops the rollout: parent failed, the rest never started, nothing launched after the stop', async () => {
    const db = fx.redis.client();
    const tally = new Tally();
    // Launch order is agent id order: with batch 2, g3-01/02 succeed, g3-03/04 fail -> stop.
    tally.fail = new Set(['g3-03', 'g3-04', 'g3-05', 'g3-06', 'g3-07']);
    const agents = await fleet('g3', tally);
    await issue('roll-fail', 'g3', 'batch', '2', 'max_failures', '2', 'max_attempts', '1');
    const parent = await parentTerminal(db, 'roll-fail', 20_000);
    expect(parent.state).toBe('failed');
    expect(parent.stop_reason).toMatch(/max_failures/);
    expect(Number(parent.not_started)).toBeGreaterThan(0);
    expect(parent.launched).toBe(parent.finished);
    expect(Number(parent.launched) + Number(parent.not_started)).toBe(20);
    expect(Number(parent.n_failed) + Number(parent.n_dead)).toBeGreaterThanOrEqual(2);
    const children = await childRecords(db, 'roll-fail');
    expect(children).toHaveLength(Number(parent.launched));
    for (const c of children) expect(['succeeded', 'failed', 'dead', 'cancelled']).toContain(c.state);
    // What ran is what was launched; no agent ran anything after the stop.
    const ran = agents.flatMap((a) => a.runs).sort();
    expect(ran).toEqual(children.map((c) => c.command_id).sort());
    expect(parent.launched).toBe('4');
    expect(ran).toEqual(['g3-01', 'g3-02', 'g3-03', 'g3-04'].map((a) => `roll-fail/${a}`));
    db.disconnect();
  });

  it('cancelling the parent mid-rollout (batch 1) cancels it; children not started are never created', async () => {
    const db = fx.redis.client();
    const tally = new Tally();
    const agents = await fleet('g4', tally);
    await issue('roll-cancel', 'g4', 'batch', '1');
    await waitFor('3 children started', () => tally.starts.length >= 3, { timeoutMs: 10_000 });
    await db.xadd(INGRESS, '*', 'type', 'command_cancel', 'command_id', 'roll-cancel');
    const parent = await parentTerminal(db, 'roll-cancel', 20_000);
    expect(parent.state).toBe('cancelled');
    const launched = Number(parent.launched);
    expect(launched).toBeGreaterThanOrEqual(3);
    expect(launched).toBeLessThan(20);
    expect(Number(parent.not_started)).toBe(20 - launched);
    expect(parent.finished).toBe(parent.launched);
    const children = await childRecords(db, 'roll-cancel');
    expect(children).toHaveLength(launched);
    for (const c of children) expect(['succeeded', 'cancelled']).toContain(c.state);
    // Agents past the launched ones never got a child record nor a run.
    for (const a of agents) {
      const id = a.runs[0];
      if (id) expect(children.map((c) => c.command_id)).toContain(id);
    }
    for (let i = launched + 1; i <= 20; i++) expect(await db.exists(`nexus:command:roll-cancel/g4-${String(i).padStart(2, '0')}`)).toBe(0);
    expect(tally.running).toBe(0);
    db.disconnect();
  });
});
