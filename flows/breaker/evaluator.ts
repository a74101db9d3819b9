// Step D: the circuit breaker. Armed by two people, evaluated by one replica, trips traffic to legacy with no human.
import { performance } from 'node:perf_hooks';
import {
  advance,
  describeEvaluation,
  queryText,
  type Advance,
  type BreakerSettings,
  type Evaluation,
  type Reading,
} from './rules.ts';
import { cloudWatchQueries, prometheusEndpoint } from './source.ts';
import {
  combine,
  conditionsOf,
  forStack,
  judgeCondition,
  worstOf,
  type ConditionSpec,
} from './conditions.ts';
import type { Breaker, BreakerQuery } from '../../src/config.ts';
import type { BreakerCaps } from './caps.ts';
import { Leadership } from '../../src/lease.ts';
import { getJson } from '../../src/store/store.ts';
import { EVALUATOR_LEASE, getBreaker, updateBreaker, type BreakerState, type TripRecord } from './state.ts';
import { armHandler } from './arm.ts';
import { historyKey } from './chart.ts';
import { NOTIFY_QUEUE, alertNoData, deliverNotice } from './notify.ts';
import { type BreakerOptions, DEFAULT_BREAKER_OPTIONS } from './options.ts';
import { runTrip } from './trip.ts';
export { BREAKER_ARM, breakerStatus, disarm, requestArm, requireSource } from './arm.ts';
export type { ArmBasis, ArmChange } from './arm.ts';
export { DEFAULT_BREAKER_OPTIONS } from './options.ts';
export type { BreakerOptions } from './options.ts';

export { getBreaker, breakerConfig, type BreakerState } from './state.ts';

/** Evaluates every armed breaker on the replica holding the lease; trips, alerts and recovers interrupted trips. */
export class BreakerEvaluator {
  #deps: BreakerCaps;
  #opts: BreakerOptions;
  #leadership: Leadership;
  #busy = new Set<string>();
  #ticking = false;

  constructor(deps: BreakerCaps, opts: BreakerOptions) {
    this.#deps = deps;
    this.#opts = opts;
    this.#leadership = new Leadership(deps.store, EVALUATOR_LEASE, {
      owner: deps.instanceId,
      ttlMs: opts.leaseMs,
      renewMs: opts.renewMs,
      onLost: (reason) =>
        deps.log.warn({ reason }, 'breaker evaluator lease lost; another replica evaluates'),
    });
  }

  get isLeader(): boolean {
    return this.#leadership.lease !== null;
  }

  #services(): [string, Breaker][] {
    return Object.entries(this.#deps.config.services).flatMap(([name, s]) =>
      s.breaker ? [[name, s.breaker] as [string, Breaker]] : [],
    );
  }

  /** Leads when this replica holds the evaluator lease (it renews itself every renewMs, lapses after leaseMs). */
  async #lead(): Promise<boolean> {
    try {
      return await this.#leadership.lead();
    } catch (err) {
      this.#deps.log.warn({ err }, 'breaker lease unavailable');
      return false;
    }
  }

  /** Gives the lease up (graceful shutdown): another replica takes over at its next tick. */
  async release(): Promise<void> {
    await this.#leadership.release();
  }

  /** One pass: safe to call directly (tests drive it with a controlled clock). */
  async tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const services = this.#services();
      if (services.length === 0 || !(await this.#lead())) return;
      const now = this.#deps.now().getTime();
      for (const [service] of services) {
        if (this.#busy.has(service)) continue;
        const state = await getBreaker(this.#deps, service);
        if (!state) continue;
        if (state.status === 'tripped' && state.trip && state.trip.phase !== 'done') {
          this.#run(service, () => runTrip({ deps: this.#deps, opts: this.#opts }, service));
        } else if (state.status === 'armed' && now >= (state.nextEvalAt ?? 0)) {
          this.#run(service, () => this.#evaluateService(service, state));
        }
      }
    } finally {
      this.#ticking = false;
    }
  }

  #run(service: string, fn: () => Promise<void>): void {
    this.#busy.add(service);
    this.#deps.tasks.run(`breaker:${service}`, async () => {
      try {
        await fn();
      } finally {
        this.#busy.delete(service);
      }
    });
  }

  async #evaluateService(service: string, seen: BreakerState): Promise<void> {
    const deps = this.#deps;
    const cfg = deps.config.services[service]?.breaker;
    const settings = seen.settings;
    if (!cfg || !settings) return;
    // Claim this interval: exactly one evaluation per interval across replicas, even while a lease changes hands.
    const now = deps.now().getTime();
    let claimed = false;
    await updateBreaker(deps, service, (current) => {
      claimed = false;
      if (!current || current.status !== 'armed' || current.armId !== seen.armId) return undefined;
      const due = current.nextEvalAt ?? now;
      if (now < due) return undefined;
      claimed = true;
      const next = due + settings.intervalMs > now ? due + settings.intervalMs : now + settings.intervalMs;
      return { ...current, nextEvalAt: next };
    });
    if (!claimed) return;
    const evaluation = await this.#measure(service, cfg, settings);
    let step: Advance | undefined;
    let trip: TripRecord | undefined;
    await updateBreaker(deps, service, (current) => {
      step = undefined;
      trip = undefined;
      if (!current || current.status !== 'armed' || current.armId !== seen.armId) return undefined;
      step = advance(current.counters, evaluation.outcome, settings);
      const last = [...current.last, evaluation].slice(-10);
      const next: BreakerState = {
        ...current,
        counters: step.counters,
        evaluations: current.evaluations + 1,
        last,
      };
      if (!step.trip) return next;
      trip = {
        id: `trip-${current.armId ?? current.version}`,
        at: evaluation.at,
        reason: step.trip,
        values: {
          ...(evaluation.memory?.value !== undefined ? { memory: evaluation.memory.value } : {}),
          ...(evaluation.errors?.value !== undefined ? { errors: evaluation.errors.value } : {}),
        },
        ...(evaluation.conditions ? { conditions: evaluation.conditions } : {}),
        breaches: step.counters.breaches,
        evaluations: last.map((e) => `${e.at.slice(11, 19)}Z ${e.outcome}: ${describeEvaluation(e)}`),
        phase: 'deciding',
        attempts: 0,
      };
      return { ...next, status: 'tripped', version: current.version + 1, trip };
    });
    await this.#remember(service, evaluation);
    const advanced = step as Advance | undefined;
    if (!advanced) return;
    deps.log.info({ service, outcome: evaluation.outcome, ...advanced.counters }, 'breaker evaluated');
    if (trip) await runTrip({ deps: this.#deps, opts: this.#opts }, service);
    else if (advanced.alert) await alertNoData({ deps: this.#deps, opts: this.#opts }, service, evaluation);
  }

  async #remember(service: string, evaluation: Evaluation): Promise<void> {
    try {
      const history = (await getJson<Evaluation[]>(this.#deps.store, historyKey(service))) ?? [];
      history.push(evaluation);
      await this.#deps.store.set(historyKey(service), JSON.stringify(history.slice(-this.#opts.historySize)));
    } catch (err) {
      this.#deps.log.warn({ err, service }, 'could not keep the breaker history');
    }
  }

  /** Queries every condition and its traffic guard at once; every failure becomes an inconclusive reading. */
  async #measure(service: string, cfg: Breaker, settings: BreakerSettings): Promise<Evaluation> {
    const started = performance.now();
    const at = this.#deps.now().toISOString();
    const specs: ConditionSpec[] = settings.conditions ?? conditionsOf(cfg);
    // A guard shared by several conditions is asked once per evaluation.
    const guards = new Map<string, Promise<Reading>>();
    const guardOf = (spec: ConditionSpec) => {
      if (spec.guard === undefined) return Promise.resolve(undefined);
      const query = forStack(spec.guard, 'cloud', cfg, spec.minRps);
      const key = JSON.stringify(query);
      const reading = guards.get(key) ?? this.#read(service, cfg, query, undefined, 'above');
      guards.set(key, reading);
      return reading;
    };
    const conditions = await Promise.all(
      specs.map(async (spec) => {
        const [reading, guard] = await Promise.all([
          this.#read(service, cfg, forStack(spec.query, 'cloud', cfg, spec.minRps), undefined, spec.op),
          guardOf(spec),
        ]);
        return judgeCondition(spec, reading, guard);
      }),
    );
    const legacyShape = (name: string) => {
      const j = conditions.find((c) => c.name === name);
      if (!j) return {};
      const { outcome, value, threshold, skipped, note } = j;
      return {
        [name]: {
          outcome,
          threshold,
          ...(value !== undefined ? { value } : {}),
          ...(skipped ? { skipped } : {}),
          ...(note ? { note } : {}),
        },
      };
    };
    const traffic = conditions.find((c) => c.traffic)?.traffic;
    return {
      at,
      outcome: combine(conditions),
      conditions,
      ...legacyShape('memory'),
      ...legacyShape('errors'),
      ...(traffic ? { traffic } : {}),
      by: this.#deps.instanceId,
      durationMs: Math.round(performance.now() - started),
    };
  }

  async #read(
    service: string,
    cfg: Breaker,
    query: BreakerQuery,
    minRps: number | undefined,
    op: ConditionSpec['op'] = 'above',
  ): Promise<Reading> {
    try {
      if ('prometheus' in cfg.source) {
        const prometheus = this.#deps.adapters.prometheus;
        if (!prometheus) return { kind: 'error', message: 'no Prometheus client' };
        const { samples, warnings } = await prometheus.query(
          prometheusEndpoint(cfg, service),
          queryText(query, minRps),
        );
        const reading = worstOf(
          samples.map((s) => s.value),
          op,
        );
        if (warnings.length > 0) {
          this.#deps.log.warn({ service, warnings }, 'prometheus answered with warnings: partial data');
          if (reading.kind === 'value' || reading.kind === 'empty') return { ...reading, warnings };
        }
        return reading;
      }
      const cloudwatch = this.#deps.adapters.cloudwatch;
      if (!cloudwatch) return { kind: 'error', message: 'no CloudWatch client' };
      const cw = cfg.source.cloudwatch;
      const end = this.#deps.now();
      const series = await cloudwatch.getMetricData(
        cw.region,
        cloudWatchQueries(query, minRps, cw.period / 1000),
        { start: new Date(end.getTime() - cw.lookback), end },
      );
      const failed = series.find((s) => s.status === 'Forbidden' || s.status === 'InternalError');
      if (failed)
        return {
          kind: 'error',
          message: `${failed.status}${failed.messages[0] ? `: ${failed.messages[0]}` : ''}`,
        };
      const latest = series.flatMap((s) =>
        s.points.length > 0 ? [s.points[s.points.length - 1]?.v ?? NaN] : [],
      );
      return worstOf(latest, op);
    } catch (err) {
      return { kind: 'error', message: (err as Error).message.slice(0, 300) };
    }
  }

  /** Posts (or retries) one queued breaker message; run by the durable timer. */
  async deliver(id: string): Promise<void> {
    return deliverNotice({ deps: this.#deps, opts: this.#opts }, id);
  }
}

export { cloudWatchQueries } from './source.ts';

const evaluators = new WeakMap<BreakerCaps, BreakerEvaluator>();

/** The evaluator registered for these deps (tests and drills drive its tick directly). */
export function breakerEvaluatorOf(deps: BreakerCaps): BreakerEvaluator | undefined {
  return evaluators.get(deps);
}

/** Registers the arm approval, the message retry timer and the evaluator; returns the evaluator. */
export function registerBreaker(deps: BreakerCaps, options: Partial<BreakerOptions> = {}): BreakerEvaluator {
  const opts = { ...DEFAULT_BREAKER_OPTIONS, ...options };
  const evaluator = new BreakerEvaluator(deps, opts);
  evaluators.set(deps, evaluator);
  deps.approvals.register(armHandler(deps));
  deps.scheduler.handle(NOTIFY_QUEUE, (id) => evaluator.deliver(id));
  deps.scheduler.every('breaker', opts.tickMs, () => evaluator.tick());
  return evaluator;
}
