/** One timed run of a throughput scenario. */
export interface ThroughputRun {
  perSecond: number;
  seconds: number;
}
