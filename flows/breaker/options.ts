// Step D breaker, the evaluator's options (timings, chart window, history) and the context its functions share.
import type { BreakerCaps } from './caps.ts';

export interface BreakerOptions {
  /** The evaluator lease: whoever holds it evaluates; another replica takes over when it lapses. */
  leaseMs: number;
  renewMs: number;
  /** How often each replica looks for due evaluations (and tries the lease). */
  tickMs: number;
  /** How long a trip with no open incident waits for the PagerDuty page before declaring one. */
  pageWaitMs: number;
  /** First retry of a message Slack did not take; doubles up to 5 minutes. */
  notifyRetryMs: number;
  /** The chart posted with a trip. */
  chartWindowMs: number;
  /** Evaluations kept for charts when the metrics source cannot answer a range query. */
  historySize: number;
}

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = {
  leaseMs: 15_000,
  renewMs: 5000,
  tickMs: 1000,
  pageWaitMs: 2000,
  notifyRetryMs: 5000,
  chartWindowMs: 30 * 60_000,
  historySize: 120,
};

/** What the evaluator's trip, notice and chart functions work with. */
export interface EvaluatorContext {
  deps: BreakerCaps;
  opts: BreakerOptions;
}
