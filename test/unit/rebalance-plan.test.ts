import { describe, expect, it } from 'vitest';
import { assignTargets, planRebalance, type ReplicaLoad } from '../../src/orchestrator/rebalance-plan';

const SETTINGS = { ratePerSec: 50, tolerancePct: 10, admissionRatePerSec: 1000 };
const replica = (id: string, agents: number, ready = true): ReplicaLoad => ({ replicaId: id, address: `${id}:50051`, agents, ready });

describe('planRebalance', () => {
  it('3 -> 4 replicas with 5,000 agents: each heavy replica moves its surplus over the share to the new one', () => {
    const fleet = [replica('r1', 1667), replica('r2', 1667), replica('r3', 1666), replica('r4', 0)];
    const plan = planRebalance(fleet[0], fleet, SETTINGS);
    expect(plan.fairShare).toBe(1250);
    expect(plan.tolerance).toBe(125);
    expect(plan.surplus).toBe(417);
    expect(plan.targets).toEqual([{ replicaId: 'r4', address: 'r4:50051', deficit: 1250 }]);
    expect(plan.ratePerSec).toBe(50);
    // The surpluses of the three add up to the new replica's deficit: nobody fills a gap twice.
    const surpluses = fleet.slice(0, 3).map((r) => planRebalance(r, fleet, SETTINGS).surplus);
    expect(surpluses.reduce((a, b) => a + b, 0)).toBe(1250);
    // The new replica itself moves nothing.
    expect(planRebalance(fleet[3], fleet, SETTINGS).surplus).toBe(0);
  });

  it('within the tolerance nothing moves; over it, a replica moves down to the share', () => {
    const within = [replica('r1', 108), replica('r2', 96), replica('r3', 96)];
    expect(planRebalance(within[0], within, SETTINGS).surplus).toBe(0);
    const over = [replica('r1', 112), replica('r2', 94), replica('r3', 94)];
    expect(planRebalance(over[0], over, SETTINGS).surplus).toBe(12);
  });

  it('a tolerance of at least one agent: 2 against 0 stays, 3 against 0 moves one', () => {
    const two = [replica('r1', 2), replica('r2', 0)];
    expect(planRebalance(two[0], two, { ...SETTINGS, tolerancePct: 0 }).surplus).toBe(0);
    const fleet = [replica('r1', 3), replica('r2', 0)];
    expect(planRebalance(fleet[0], fleet, { ...SETTINGS, tolerancePct: 0 }).surplus).toBe(1);
    const small = [replica('r1', 1), replica('r2', 0)];
    expect(planRebalance(small[0], small, { ...SETTINGS, tolerancePct: 0 }).surplus).toBe(0);
  });

  it('an empty replica is out of bounds too: 10 -> 11 replicas, each old one at share + 10 %, still fills it', () => {
    const fleet = [...Array.from({ length: 10 }, (_, i) => replica(`r${i}`, 1100)), replica('new', 0)];
    const plan = planRebalance(fleet[0], fleet, SETTINGS);
    expect(plan.fairShare).toBe(1000);
    expect(plan.surplus).toBe(100);
    expect(plan.targets).toEqual([{ replicaId: 'new', address: 'new:50051', deficit: 1000 }]);
  });

  it('targets add up to the fleet: 30 agents held 8/8/8/6 become 8/8/7/7, one move in all', () => {
    const fleet = [replica('a', 8), replica('b', 8), replica('c', 8), replica('d', 6)];
    const surpluses = fleet.map((r) => planRebalance(r, fleet, SETTINGS).surplus);
    expect(surpluses).toEqual([0, 0, 1, 0]);
  });

  it('pauses while any replica is not ready (a rolling restart settles first)', () => {
    const fleet = [replica('r1', 200), replica('r2', 100), replica('r3', 0, false)];
    const plan = planRebalance(fleet[0], fleet, SETTINGS);
    expect(plan.surplus).toBe(0);
    expect(plan.pausedBecause).toBe('replica r3 is not ready');
  });

  it('caps the rate at half of what the lighter replicas admit, shared by the heavy ones', () => {
    const fleet = [...Array.from({ length: 30 }, (_, i) => replica(`h${i}`, 1000)), replica('new', 0)];
    const plan = planRebalance(fleet[0], fleet, { ...SETTINGS, ratePerSec: 500, tolerancePct: 1 });
    // 1000 admitted per second by the one light replica, half of it split over 30 heavy ones.
    expect(plan.ratePerSec).toBe(16);
  });

  it('a replica without an address is not a target', () => {
    const fleet = [replica('r1', 300), { ...replica('r2', 0), address: '' }];
    expect(planRebalance(fleet[0], fleet, SETTINGS).surplus).toBe(0);
  });
});

describe('assignTargets', () => {
  it('splits moves by deficit and never gives a target more than it lacks', () => {
    const targets = [{ replicaId: 'a', address: 'a:1', deficit: 30 }, { replicaId: 'b', address: 'b:1', deficit: 10 }];
    const out = assignTargets(targets, 8);
    expect(out.filter((a) => a === 'a:1')).toHaveLength(6);
    expect(out.filter((a) => a === 'b:1')).toHaveLength(2);
    expect(assignTargets(targets, 100)).toHaveLength(40);
    expect(assignTargets([], 5)).toEqual([]);
  });
});
