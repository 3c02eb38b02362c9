/** The figures the scenarios read from one replica's /metrics. */
export interface ReplicaSample {
  /** nexus_pulse_total{kind="hello"}: streams admitted that said hello (new sessions). */
  hellos: number;
  /** nexus_pulse_total{kind="heartbeat"}. */
  heartbeats: number;
  /** nexus_connected_agents. */
  connected: number;
  /** Sum of nexus_sessions_rejected_total over codes. */
  rejected: number;
  /** nexus_ready (1 when serving). */
  ready: number;
  /** nexus_rebalance_moves_total{reason="rebalance"}: agents this replica told to move to a lighter one. */
  moves: number;
  /**
   * nodejs_eventloop_lag_{max,p99}_seconds. prom-client resets its event-loop histogram at
   * every scrape, so these cover the time since the previous scrape.
   */
  lagMaxS: number;
  lagP99S: number;
}

/** Scrapes http://127.0.0.1:<port>/metrics (2 s timeout). */
export async function scrapeReplica(port: number): Promise<ReplicaSample> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`/metrics on port ${port} answered ${res.status}`);
  const text = await res.text();
  const sum = (name: string, label = ''): number => {
    let total = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
      if (!label || (m[1] ?? '').includes(label)) total += Number(m[2]);
    }
    return total;
  };
  return {
    hellos: sum('nexus_pulse_total', 'kind="hello"'),
    heartbeats: sum('nexus_pulse_total', 'kind="heartbeat"'),
    connected: sum('nexus_connected_agents'),
    rejected: sum('nexus_sessions_rejected_total'),
    ready: sum('nexus_ready'),
    moves: sum('nexus_rebalance_moves_total', 'reason="rebalance"'),
    lagMaxS: sum('nodejs_eventloop_lag_max_seconds'),
    lagP99S: sum('nodejs_eventloop_lag_p99_seconds'),
  };
}
