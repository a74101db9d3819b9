// The breaker's judgement (pure): readings of memory and error ratio, breach or inconclusive, when to trip or alert.
import type { Breaker, BreakerQuery } from '../../src/config.ts';
import type { Actor } from '../../src/timeline.ts';
import {
  combine,
  conditionsOf,
  describeJudgement,
  judgeCondition,
  worstOf,
  type ConditionJudgement,
  type ConditionSpec,
} from './conditions.ts';

/** What one query gave: a value (the worst series), nothing, only NaN, or an error. */
export type Reading =
  | {
      kind: 'value';
      value: number;
      series: number;
      partial: boolean;
      /** Prometheus answered with warnings: what came back may be only part of the data. */
      warnings?: string[];
    }
  | { kind: 'empty'; warnings?: string[] }
  | { kind: 'nan'; series: number }
  | { kind: 'error'; message: string };

export type Outcome = 'breach' | 'ok' | 'inconclusive';

/** Traffic guard: enough traffic to judge the error ratio, too little (only memory decides), or unknown. */
export type Traffic = 'enough' | 'low' | 'unknown';

export interface MetricJudgement {
  outcome: Outcome;
  /** The value that was compared, when there was one. */
  value?: number;
  threshold: number;
  /** Why it is inconclusive or skipped, in words. */
  note?: string;
}

export interface Evaluation {
  at: string;
  outcome: Outcome;
  /** Every condition's judgement (evaluations stored before named conditions have only memory and errors). */
  conditions?: ConditionJudgement[];
  memory?: MetricJudgement;
  errors?: MetricJudgement & { skipped?: boolean };
  traffic?: Traffic;
  /** Which replica evaluated. */
  by: string;
  durationMs: number;
}

/** What was approved at arming time: the breaker evaluates with these until re-armed. */
export interface BreakerSettings {
  thresholds: { memory: number; errors: number };
  intervalMs: number;
  failureLimit: number;
  errorLimit: number;
  onNoData: 'alert' | 'rollback';
  /** Every condition with its query and threshold (armings before named conditions have only `thresholds`). */
  conditions?: ConditionSpec[];
}

export function settingsOf(cfg: Breaker): BreakerSettings {
  return {
    thresholds: { memory: cfg.thresholds.memory, errors: cfg.thresholds.errors },
    intervalMs: cfg.interval,
    failureLimit: cfg.failureLimit,
    errorLimit: cfg.errorLimit,
    onNoData: cfg.onNoData,
    conditions: conditionsOf(cfg),
  };
}

export function sameSettings(a: BreakerSettings, b: BreakerSettings): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function breakerActor(service: string): Actor {
  return { type: 'breaker', id: `breaker:${service}`, name: `${service} breaker` };
}

/** The reading of a set of samples: the worst (highest) finite value; NaN and ±Inf never count as a value. */
export function readingOf(values: number[]): Reading {
  return worstOf(values, 'above');
}

function ratioSpec(name: 'memory' | 'errors', threshold: number): ConditionSpec {
  return { name, label: name === 'errors' ? '5xx' : name, query: '', op: 'above', threshold, unit: 'ratio' };
}

function metricJudgement(j: ConditionJudgement): MetricJudgement & { skipped?: boolean } {
  return {
    outcome: j.outcome,
    threshold: j.threshold,
    ...(j.value !== undefined ? { value: j.value } : {}),
    ...(j.skipped ? { skipped: true } : {}),
    ...(j.note ? { note: j.note } : {}),
  };
}

/** A breach needs a real value above the threshold; anything unreadable is inconclusive, never a pass. */
export function judge(reading: Reading, threshold: number): MetricJudgement {
  return metricJudgement(judgeCondition(ratioSpec('memory', threshold), reading));
}

/** Memory and errors (with the minRps guard) judged as the two conditions they are (flows/breaker/conditions.ts). */
export function evaluate(
  input: { memory: Reading; errors: Reading; guard?: Reading },
  thresholds: BreakerSettings['thresholds'],
): Pick<Evaluation, 'outcome' | 'memory' | 'errors' | 'traffic'> {
  const memory = judgeCondition(ratioSpec('memory', thresholds.memory), input.memory);
  const errors = judgeCondition(ratioSpec('errors', thresholds.errors), input.errors, input.guard);
  return {
    outcome: combine([memory, errors]),
    memory: metricJudgement(memory),
    errors: metricJudgement(errors),
    ...(errors.traffic ? { traffic: errors.traffic } : {}),
  };
}

export interface Counters {
  /** Consecutive breaches; an inconclusive evaluation neither adds nor resets, an ok one resets. */
  breaches: number;
  /** Consecutive inconclusive evaluations; any conclusive one resets. */
  inconclusive: number;
  /** The no-data alert went out for the current inconclusive run. */
  alerted: boolean;
}

export interface Advance {
  counters: Counters;
  trip?: 'breach' | 'no_data';
  /** Send the no-data alert now (once per run of inconclusive evaluations). */
  alert: boolean;
}

export function advance(counters: Counters, outcome: Outcome, settings: BreakerSettings): Advance {
  if (outcome === 'breach') {
    const breaches = counters.breaches + 1;
    return {
      counters: { breaches, inconclusive: 0, alerted: false },
      alert: false,
      ...(breaches >= settings.failureLimit ? { trip: 'breach' as const } : {}),
    };
  }
  if (outcome === 'ok') return { counters: { breaches: 0, inconclusive: 0, alerted: false }, alert: false };
  const inconclusive = counters.inconclusive + 1;
  const reached = inconclusive >= settings.errorLimit;
  const alert = reached && !counters.alerted;
  return {
    counters: { breaches: counters.breaches, inconclusive, alerted: counters.alerted || reached },
    alert,
    ...(reached && settings.onNoData === 'rollback' ? { trip: 'no_data' as const } : {}),
  };
}

/** The text of a query: PromQL or the CloudWatch expression, with `{minRps}` filled in. */
export function queryText(query: BreakerQuery, minRps: number | undefined): string {
  const text = typeof query === 'string' ? query : query.expression;
  return minRps === undefined ? text : text.replaceAll('{minRps}', String(minRps));
}

/** "93.1%" for a ratio. */
export function percent(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  const p = value * 100;
  return `${p >= 10 ? p.toFixed(1) : p >= 1 ? p.toFixed(2) : p.toFixed(3)}%`;
}

/** "memory 93.1% > 80.0%" style line of one evaluation. */
export function describeEvaluation(
  e: Pick<Evaluation, 'memory' | 'errors' | 'outcome' | 'conditions'>,
): string {
  if (e.conditions) return e.conditions.map(describeJudgement).join(', ');
  const part = (name: string, j: MetricJudgement & { skipped?: boolean }) => {
    if (j.skipped) return `${name} skipped (${j.note ?? 'low traffic'})`;
    if (j.value === undefined) return `${name} ? (${j.note ?? 'no value'})`;
    const op = j.outcome === 'breach' ? '>' : '≤';
    return `${name} ${percent(j.value)} ${op} ${percent(j.threshold)}${j.note ? ` (${j.note})` : ''}`;
  };
  return [...(e.memory ? [part('memory', e.memory)] : []), ...(e.errors ? [part('5xx', e.errors)] : [])].join(
    ', ',
  );
}
