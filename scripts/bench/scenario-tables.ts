import type { BroadcastScripts, FanoutRun, FanoutTimes } from './fanout';
import type { FleetRun } from './fleet';
import { median } from './stats';
import type { ScaleUpRun } from './scale-up';
import type { StormRun } from './storm';

/** "median (min–max)" over rounds, with `digits` decimals; just the value for one round. */
function cell<T>(runs: T[], f: (r: T) => number, digits = 0): string {
  const xs = runs.map(f);
  const fmt = (v: number) => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return xs.length === 1 ? fmt(xs[0]) : `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
}

export function printFleet(nexus: FleetRun[], bare: FleetRun[], shape: { replicas: number; swarms: number; heartbeatS: number }): void {
  const { replicas, swarms, heartbeatS } = shape;
  const n = nexus[0]?.streams ?? bare[0]?.streams ?? 0;
  console.log(`\nFleet: ${n.toLocaleString('en-US')} streams heartbeating every ${heartbeatS} s, ${Math.max(nexus.length, bare.length)} round(s); median (min–max)`);
  console.log('| Server | all connected after s | heartbeats/s received | server CPU % of a core (idle) | CPU per heartbeat µs | marginal CPU per heartbeat µs | RSS idle → connected MB | RSS per stream KB | client CPU % | Redis CPU % | sessions started in the window |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const row = (label: string, runs: FleetRun[]) => {
    if (!runs.length) return;
    const redis = runs[0].redisCpuPercent === undefined ? '–' : cell(runs, (r) => r.redisCpuPercent ?? 0);
    console.log(`| ${label} | ${cell(runs, (r) => r.connectMs / 1000, 1)} | ${cell(runs, (r) => r.heartbeatsPerSecond)} | ${cell(runs, (r) => r.serverCpuPercent)} (${cell(runs, (r) => r.idleCpuPercent, 1)}) | ${cell(runs, (r) => r.cpuPerHeartbeatUs)} | ${cell(runs, (r) => r.marginalCpuPerHeartbeatUs)} | ${cell(runs, (r) => r.idleRssMb)} → ${cell(runs, (r) => r.connectedRssMb)} | ${cell(runs, (r) => r.rssPerStreamKb, 1)} | ${cell(runs, (r) => r.clientCpuPercent)} | ${redis} | ${cell(runs, (r) => r.sessionsStartedInWindow)} |`);
  };
  row(`Nexus: ${replicas} replicas (summed), agents in ${swarms} swarm process${swarms > 1 ? 'es' : ''}`, nexus);
  row(`bare grpc-js bidi server: ${replicas} processes (summed), 1 client process`, bare);
  if (nexus.length && bare.length) {
    const ratio = (f: (r: FleetRun) => number) => (median(nexus.map(f)) / median(bare.map(f))).toFixed(2);
    console.log(`Nexus ÷ bare (medians): RSS per stream ${ratio((r) => r.rssPerStreamKb)}, CPU per heartbeat ${ratio((r) => r.cpuPerHeartbeatUs)}, marginal CPU per heartbeat ${ratio((r) => r.marginalCpuPerHeartbeatUs)} (bar: ≤ 2 for RSS and CPU per heartbeat)`);
  }
}

export function printStorm(runs: StormRun[]): void {
  if (!runs.length) return;
  const bar = runs[0].jitterWindowMs / 1000 + 5;
  console.log(`\nStorm: the busiest of 3 replicas SIGKILLed with ${runs[0].agents.toLocaleString('en-US')} agents connected, ${runs.length} round(s); median (min–max)`);
  console.log('| Agents on the killed replica | all back after s | bar: jitter window + 5 s | peak new sessions/s | bare grpc-js: same streams connected after s (streams/s) | survivors\' event-loop lag max ms | lag p99 ms (worst 250 ms poll) | sessions started | pushed back | CPU % survivors / swarms |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  const bareS = (r: StormRun) => (r.bare ? r.bare.connectMs / 1000 : NaN);
  const bareRate = (r: StormRun) => (r.bare ? r.bare.streams / (r.bare.connectMs / 1000) : NaN);
  console.log(`| ${cell(runs, (r) => r.agentsOnKilled)} | ${cell(runs, (r) => r.backMs / 1000, 2)} | ${runs[0].jitterWindowMs / 1000} + 5 = ${bar} s | ${cell(runs, (r) => r.peakSessionsPerSecond)} | ${cell(runs, bareS, 2)} (${cell(runs, bareRate)}) | ${cell(runs, (r) => r.lagMaxMs)} | ${cell(runs, (r) => r.lagP99Ms)} | ${cell(runs, (r) => r.sessionsStarted)} | ${cell(runs, (r) => r.rejected)} | ${cell(runs, (r) => r.cpuPercent?.survivors ?? NaN)} / ${cell(runs, (r) => r.cpuPercent?.swarms ?? NaN)} |`);
}

/** Fan-out at one size: Nexus' N commands and broadcast (same fleet), and the bare grpc-js floor. */
export interface FanoutSize {
  agents: number;
  nexus: FanoutRun[];
  bare: (FanoutTimes & { agents: number })[];
}

export function printFanout(sizes: FanoutSize[]): void {
  for (const { agents, nexus, bare } of sizes) {
    if (!nexus.length && !bare.length) continue;
    const n = agents.toLocaleString('en-US');
    console.log(`\nFan-out: one echo to each of ${n} agents on 3 replicas, ${Math.max(nexus.length, bare.length)} round(s); ms from the first XADD (bare: from the push), median (min–max)`);
    console.log('| Way | first result | half the results | last result | parent finished |');
    console.log('|---|---|---|---|---|');
    if (nexus.length) {
      console.log(`| Nexus: ${n} commands (${n} XADDs \`target\`) | ${cell(nexus, (r) => r.firstResultMs)} | ${cell(nexus, (r) => r.medianResultMs)} | ${cell(nexus, (r) => r.lastResultMs)} | – |`);
      const b = nexus.map((r) => r.broadcast);
      console.log(`| Nexus: broadcast (1 XADD \`selector '*'\`, ${n} children) | ${cell(b, (r) => r.firstResultMs)} | ${cell(b, (r) => r.medianResultMs)} | ${cell(b, (r) => r.lastResultMs)} | ${cell(b, (r) => r.parentFinishedMs)} |`);
    }
    if (bare.length) console.log(`| bare grpc-js: 3 server processes push 1 message to each of ${n} streams | ${cell(bare, (r) => r.firstResultMs)} | ${cell(bare, (r) => r.medianResultMs)} | ${cell(bare, (r) => r.lastResultMs)} | – |`);
    const scripts = nexus.flatMap((r) => (r.broadcast.scripts ? [r.broadcast.scripts] : []));
    if (scripts.length) {
      const names = [...new Set(scripts.flatMap((x) => Object.keys(x.byName)))];
      const get = (x: BroadcastScripts, name: string) => x.byName[name] ?? { calls: 0, maxUs: 0, totalUs: 0 };
      const total = (name: string) => median(scripts.map((x) => get(x, name).totalUs));
      console.log(`Script calls over ${scripts[0].slowlogUs} µs in Redis during the broadcast (SLOWLOG; the fleet's own calls included), median (min–max):`);
      console.log('| Script | calls | longest call ms | total ms |');
      console.log('|---|---|---|---|');
      for (const name of names.sort((a, b) => total(b) - total(a))) {
        console.log(`| ${name} | ${cell(scripts, (x) => get(x, name).calls)} | ${cell(scripts, (x) => get(x, name).maxUs / 1000, 2)} | ${cell(scripts, (x) => get(x, name).totalUs / 1000, 1)} |`);
      }
      console.log(`| every script call (INFO commandstats) | – | – | ${cell(scripts, (x) => x.scriptUs / 1000, 1)} |`);
    }
    if (nexus.length && bare.length) {
      const last = (xs: number[]) => median(xs);
      console.log(`last result, Nexus ÷ bare (medians): N commands ${(last(nexus.map((r) => r.lastResultMs)) / last(bare.map((r) => r.lastResultMs))).toFixed(1)}, broadcast ${(last(nexus.map((r) => r.broadcast.lastResultMs)) / last(bare.map((r) => r.lastResultMs))).toFixed(1)}`);
    }
  }
}

export function printScaleUp(runs: ScaleUpRun[]): void {
  if (!runs.length) return;
  const r0 = runs[0];
  console.log(`\nScale-up: ${r0.agents.toLocaleString('en-US')} agents on ${r0.replicasBefore} replicas, a replica added (rebalancing defaults: REBALANCE_RATE 50/s per replica), ${runs.length} round(s); median (min–max)`);
  console.log(`| agents per replica before | after | settled (each ${Math.round(r0.fairShare)} ± ${r0.tolerance}) after s | agents moved | moved in the ${5} s after | peak new sessions/s (one replica admits ${r0.admissionRate}) | pushed back |`);
  console.log('|---|---|---|---|---|---|---|');
  console.log(`| ${r0.before.join(' / ')} | ${r0.after.join(' / ')} | ${cell(runs, (r) => r.settleMs / 1000, 1)} | ${cell(runs, (r) => r.moves)} | ${cell(runs, (r) => r.movesAfterSettled)} | ${cell(runs, (r) => r.peakSessionsPerSecond)} | ${cell(runs, (r) => r.rejected)} |`);
}
