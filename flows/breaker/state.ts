// The breaker's stored state per service (read by the breaker, the canary, preflight and /breaker status).
import type { BreakerPage } from '../pagerduty/index.ts';
import type { ConditionJudgement } from './conditions.ts';
import type { BreakerSettings, Counters, Evaluation } from './rules.ts';
import type { Breaker } from '../../src/config.ts';
import type { Deps } from '../../src/deps.ts';
import { UsageError } from '../../src/errors.ts';
import { getJson, updateJson } from '../../src/store/store.ts';
import type { Actor } from '../../src/timeline.ts';

export const breakerKey = (service: string) => `breaker:${service}`;
export const EVALUATOR_LEASE = 'breaker:evaluator';

/** A trip, from the decision to the shift's outcome; survives restarts (the leader finishes it). */
export interface TripRecord {
  /** The op id of the first shift attempt (`trip-<arming action>`); retries add `-r2`, `-r3`. */
  id: string;
  at: string;
  reason: 'breach' | 'no_data';
  values: { memory?: number; errors?: number };
  /** The judgements of the evaluation that tripped it: which condition, its value and threshold. */
  conditions?: ConditionJudgement[];
  breaches: number;
  /** The evaluations that led to it, one line each. */
  evaluations: string[];
  incident?: string;
  /** The breaker declared `incident` itself (no incident was open for the service). */
  declared?: boolean;
  /** `deciding`: not yet on a timeline; `shifting`: recorded, shift under way; `done`: outcome known. */
  phase: 'deciding' | 'shifting' | 'done';
  /** Shift attempts started (a drift caused by a concurrent write is retried with a fresh read). */
  attempts: number;
  outcome?: { ok: boolean; summary: string; unchanged?: boolean; reason?: string };
  page?: BreakerPage | { paged: false; error: string };
}

export interface BreakerState {
  service: string;
  status: 'armed' | 'tripped' | 'disarmed';
  /** Bumped by every arm, disarm and trip: an arming request is bound to the version it saw. */
  version: number;
  /** The approval (action id) that armed it. */
  armId?: string;
  armedAt?: string;
  armedBy?: Actor;
  approvedBy?: Actor[];
  /** Where it was armed: the incident whose timeline holds the approval, and its channel. */
  incident?: string;
  channel?: string;
  settings?: BreakerSettings;
  counters: Counters;
  /** Epoch ms of the next evaluation (the bot's clock). */
  nextEvalAt?: number;
  evaluations: number;
  /** The latest evaluations, oldest first (at most 10). */
  last: Evaluation[];
  trip?: TripRecord;
  disarmed?: { at: string; by: Actor };
}

export async function getBreaker(deps: Pick<Deps, 'store'>, service: string): Promise<BreakerState | null> {
  return getJson<BreakerState>(deps.store, breakerKey(service));
}

export async function updateBreaker(
  deps: Pick<Deps, 'store'>,
  service: string,
  change: (current: BreakerState | null) => BreakerState | null | undefined,
): Promise<BreakerState | null> {
  return updateJson<BreakerState>(deps.store, breakerKey(service), change);
}

/** The service's breaker section, or a usage error saying what to add. */
export function breakerConfig(deps: Pick<Deps, 'config'>, service: string, usage?: string): Breaker {
  const cfg = deps.config.services[service]?.breaker;
  if (!cfg) {
    throw new UsageError(
      `${service} has no breaker configured. Add services.${service}.breaker (source, and memory/errors queries or named conditions) to cloud-safety.yml; docs/breaker.md has the standard queries.`,
      usage,
    );
  }
  return cfg;
}
