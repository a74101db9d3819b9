// Step D: the circuit breaker. Armed by two people, evaluated by one replica, trips traffic to legacy with no human.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LAYER_NAME, LAYER_ORDER } from '../../src/adapters/traffic.ts';
import type { Action, ActionResult } from '../../src/actions.ts';
import {
  advance,
  breakerActor,
  describeEvaluation,
  percent,
  queryText,
  sameSettings,
  settingsOf,
  type Advance,
  type BreakerSettings,
  type Evaluation,
  type Reading,
} from './rules.ts';
import { cloudWatchQueries, prometheusEndpoint } from './source.ts';
import {
  combine,
  conditionsOf,
  describeBreaches,
  describeSpec,
  forStack,
  judgeCondition,
  tripFigures,
  worstOf,
  type ConditionSpec,
} from './conditions.ts';
import { armView, breakerStatusMessage, noDataMessage, tripMessage, type ArmChangeView } from './blocks.ts';
import type { Message, MessageRef } from '../../src/chat/chat.ts';
import { renderLineChart, type Series } from '../../src/chart/png.ts';
import type { Breaker, BreakerQuery } from '../../src/config.ts';
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { UsageError } from '../../src/errors.ts';
import {
  BREAKER_ARMED,
  BREAKER_DISARMED,
  BREAKER_INCONCLUSIVE,
  BREAKER_PAGED,
  BREAKER_TRIPPED,
  type BreakerTripEventData,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { Leadership, withLease } from '../../src/lease.ts';
import { getJson } from '../../src/store/store.ts';
import type { Actor } from '../../src/timeline.ts';
import type { ActionHandler } from '../approval/approval.ts';
import {
  breakerConfig,
  EVALUATOR_LEASE,
  getBreaker,
  updateBreaker,
  type BreakerState,
  type TripRecord,
} from './state.ts';
import { getCanary, haltCanaryForTrip, pauseCanaryForDisarm } from '../canary/canary.ts';
import { trafficOf } from '../contain/contain.ts';
import { shiftWithRetry } from '../shift/retry.ts';
import type { BreakerPage } from '../pagerduty/mirror.ts';

export { getBreaker, breakerConfig, type BreakerState } from './state.ts';

export const BREAKER_ARM = 'breaker.arm';
const NOTIFY_QUEUE = 'breaker-notify';
const notifyKey = (id: string) => `breaker:notify:${id}`;
const historyKey = (service: string) => `breaker:${service}:history`;
const tripLeaseKey = (service: string) => `breaker:${service}:trip`;
const MAX_SHIFT_ATTEMPTS = 3;
const NOTIFY_GIVE_UP_MS = 24 * 3_600_000;

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

/** The change a `breaker.arm` approval is bound to: what is watched, the limits, and the one pre-authorised shift. */
export interface ArmChange extends ArmChangeView {
  service: string;
  settings: BreakerSettings;
}

export interface ArmBasis {
  /** The breaker's version when the request was made (0: never armed). */
  version: number;
  status: BreakerState['status'] | 'never';
}

function sourceText(cfg: Breaker): string {
  return 'prometheus' in cfg.source
    ? `Prometheus ${cfg.source.prometheus}`
    : `CloudWatch GetMetricData${cfg.source.cloudwatch.region ? ` (${cfg.source.cloudwatch.region})` : ''}`;
}

function queryLabel(q: BreakerQuery | number | undefined): string | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return `${q} requests/s (in {minRps})`;
  return typeof q === 'string' ? q : q.expression;
}

/** Throws a usage error when the metrics source of the service's breaker is not wired. */
export function requireSource(deps: Deps, cfg: Breaker, service: string, usage?: string): void {
  if ('prometheus' in cfg.source && !deps.adapters.prometheus) {
    throw new UsageError(`${service}'s breaker reads Prometheus, but no Prometheus client is set up.`, usage);
  }
  if ('cloudwatch' in cfg.source && !deps.adapters.cloudwatch) {
    throw new UsageError(`${service}'s breaker reads CloudWatch, but no CloudWatch client is set up.`, usage);
  }
}

/** /breaker arm after parsing: checks, then posts the approval card. */
export async function requestArm(
  deps: Deps,
  req: { incident: Incident; service: string; requester: Actor; usage?: string },
): Promise<Action<ArmChange>> {
  const cfg = breakerConfig(deps, req.service, req.usage);
  const traffic = trafficOf(deps, req.service, req.usage);
  requireSource(deps, cfg, req.service, req.usage);
  const state = await getBreaker(deps, req.service);
  if (state?.status === 'armed') {
    throw new UsageError(
      `${req.service}'s breaker is already armed (by ${state.armedBy?.name ?? '?'} at ${state.armedAt ?? '?'}, request ${state.armId ?? '?'}). /breaker status shows what it sees; /breaker disarm first to arm it with new settings.`,
      req.usage,
    );
  }
  if (state?.status === 'tripped' && state.trip && state.trip.phase !== 'done') {
    throw new UsageError(
      `${req.service}'s breaker tripped at ${state.trip.at} and its shift is still being carried out; wait for it (/breaker status), then arm again.`,
      req.usage,
    );
  }
  const layers = LAYER_ORDER.filter((l) => traffic[l]);
  const settings = settingsOf(cfg);
  const change: ArmChange = {
    service: req.service,
    settings,
    source: sourceText(cfg),
    queries: {
      ...(cfg.memory !== undefined ? { memory: queryLabel(cfg.memory) ?? '' } : {}),
      ...(cfg.errors !== undefined ? { errors: queryLabel(cfg.errors) ?? '' } : {}),
      ...(cfg.minRps !== undefined ? { minRps: queryLabel(cfg.minRps) ?? '' } : {}),
    },
    conditions: conditionsOf(cfg)
      .filter((c) => Object.hasOwn(cfg.conditions, c.name))
      .map((c) => ({
        name: c.name,
        trips: describeSpec(c),
        query: queryLabel(forStack(c.query, 'cloud', cfg)) ?? '',
        ...(c.guard !== undefined ? { guard: queryLabel(forStack(c.guard, 'cloud', cfg)) ?? '' } : {}),
      })),
    preauthorised: {
      legacyPercent: 100,
      layers: layers.map((l) => LAYER_NAME[l]),
      text: `Shift ${req.service} to legacy 100% (${layers.map((l) => LAYER_NAME[l]).join(' then ')}), once, when it trips`,
    },
    ...(state?.status === 'tripped' ? { rearm: `re-arms after the trip at ${state.trip?.at ?? '?'}` } : {}),
  };
  const basis: ArmBasis = { version: state?.version ?? 0, status: state?.status ?? 'never' };
  return deps.approvals.request<ArmChange>({
    kind: BREAKER_ARM,
    incident: req.incident,
    step: 'D',
    summary: `Arm ${req.service}'s circuit breaker (trips to legacy 100% with no human)`,
    basis,
    change,
    requester: req.requester,
  });
}

function armHandler(deps: Deps): ActionHandler<ArmChange> {
  return {
    kind: BREAKER_ARM,
    describe: (action) => armView(action.change),
    async execute(action, ctx): Promise<ActionResult> {
      const { service } = action.change;
      const basis = action.basis as ArmBasis;
      const cfg = deps.config.services[service]?.breaker;
      if (!cfg || !sameSettings(settingsOf(cfg), action.change.settings)) {
        return {
          ok: false,
          summary: `The breaker settings in cloud-safety.yml changed since the request; nothing was armed. Run /breaker arm again to approve the new ones.`,
        };
      }
      const incident = await deps.incidents.get(action.incident);
      let refusal: string | undefined;
      const armedAt = deps.now().toISOString();
      await updateBreaker(deps, service, (current) => {
        refusal = undefined;
        const version = current?.version ?? 0;
        if (version !== basis.version) {
          refusal = `the breaker changed since the request (now ${current?.status ?? 'never armed'}${current?.armedBy ? ` by ${current.armedBy.name}` : ''}); nothing was armed. Run /breaker status, then /breaker arm again if still needed.`;
          return undefined;
        }
        return {
          service,
          status: 'armed',
          version: version + 1,
          armId: action.id,
          armedAt,
          armedBy: action.requester,
          approvedBy: ctx.approvers,
          incident: action.incident,
          ...(incident ? { channel: incident.channel } : {}),
          settings: action.change.settings,
          counters: { breaches: 0, inconclusive: 0, alerted: false },
          nextEvalAt: deps.now().getTime(),
          evaluations: 0,
          last: [],
        };
      });
      if (refusal) return { ok: false, summary: refusal };
      const s = action.change.settings;
      await deps.incidents.record(action.incident, {
        step: 'D',
        kind: BREAKER_ARMED,
        actor: action.requester,
        summary: `${service}'s breaker armed by ${action.requester.name}, approved by ${ctx.approvers.map((a) => a.name).join(', ') || '?'}: trips after ${s.failureLimit} breaches of memory > ${percent(s.thresholds.memory)} or 5xx > ${percent(s.thresholds.errors)}, every ${formatDuration(s.intervalMs)}`,
        data: {
          action: action.id,
          settings: { ...s },
          armedBy: action.requester,
          approvedBy: ctx.approvers,
        },
      });
      return {
        ok: true,
        summary: `Armed. The breaker evaluates every ${formatDuration(s.intervalMs)} and, after ${s.failureLimit} breaches in a row, shifts ${service} to legacy 100% with no human. /breaker status shows what it sees.`,
        data: { armed: true },
      };
    },
    async recheck(action) {
      const state = await getBreaker(deps, action.change.service);
      return state?.armId === action.id
        ? { ok: true, summary: `the breaker is ${state.status} under this request.` }
        : {
            ok: false,
            summary: 'the breaker was not armed by this request; run /breaker arm again if needed.',
          };
    },
  };
}

/** Where breaker messages go when no incident is open: the service's channel, else where it was armed. */
function homeChannel(deps: Deps, service: string, state: BreakerState | null): string | undefined {
  return deps.config.services[service]?.channel ?? state?.channel;
}

/** The incident to record on: the open one of the service, else the one where it was armed. */
async function timelineFor(
  deps: Deps,
  service: string,
  state: BreakerState | null,
): Promise<{ incidentId?: string; channel?: string }> {
  const open = (await deps.incidents.listActive()).find((i) => i.service === service);
  if (open) return { incidentId: open.id, channel: open.channel };
  return {
    ...(state?.incident ? { incidentId: state.incident } : {}),
    ...(homeChannel(deps, service, state) ? { channel: homeChannel(deps, service, state) } : {}),
  };
}

/** /breaker disarm: stops evaluating (and clears a tripped latch). Any responder may do it; it is recorded. */
export async function disarm(
  deps: Deps,
  req: { service: string; actor: Actor; incident: Incident | null; usage?: string },
): Promise<string> {
  breakerConfig(deps, req.service, req.usage);
  let previous: BreakerState | null = null;
  const at = deps.now().toISOString();
  const next = await updateBreaker(deps, req.service, (current) => {
    previous = current;
    if (!current || current.status === 'disarmed') return undefined;
    return { ...current, status: 'disarmed', version: current.version + 1, disarmed: { at, by: req.actor } };
  });
  const before = previous as BreakerState | null;
  if (!before || before.status === 'disarmed' || !next) {
    throw new UsageError(`${req.service}'s breaker is not armed; nothing to disarm.`, req.usage);
  }
  const incidentId =
    req.incident?.service === req.service
      ? req.incident.id
      : (await timelineFor(deps, req.service, next)).incidentId;
  const canary = await pauseCanaryForDisarm(deps, req.service, req.actor);
  if (incidentId) {
    await deps.incidents.record(incidentId, {
      step: 'D',
      kind: BREAKER_DISARMED,
      actor: req.actor,
      summary: `${req.actor.name} disarmed ${req.service}'s breaker (was ${before.status}${before.status === 'tripped' ? ', latch cleared' : ''})${canary ? `; ${canary}` : ''}`,
      data: { by: req.actor, previous: before.status, ...(before.armId ? { action: before.armId } : {}) },
    });
  }
  return `${req.service}'s breaker is disarmed: nothing watches the cloud stack now${before.status === 'tripped' ? ' (the trip latch is cleared; traffic stays where it is)' : ''}.${canary ? ` ${canary}.` : ''} Arm it again with /breaker arm (two-person approval).`;
}

/** /breaker status: state, who armed it, the last evaluations with values, the evaluator holding the lease. */
export async function breakerStatus(deps: Deps, service: string, usage?: string): Promise<Message> {
  const cfg = breakerConfig(deps, service, usage);
  const state = await getBreaker(deps, service);
  const leader = await deps.store.get(EVALUATOR_LEASE);
  const canary = await getCanary(deps, service);
  return breakerStatusMessage({
    service,
    state,
    configured: settingsOf(cfg),
    source: sourceText(cfg),
    leader,
    now: deps.now(),
    ...(canary ? { canary } : {}),
  });
}

interface Notice {
  id: string;
  channel: string;
  message: Message;
  /** Render and upload the breaker chart in the message's thread once it is posted. */
  chart?: { service: string; endMs: number };
  posted?: MessageRef;
  chartDone?: boolean;
  attempts: number;
  firstAt: number;
}

/** Evaluates every armed breaker on the replica holding the lease; trips, alerts and recovers interrupted trips. */
export class BreakerEvaluator {
  #deps: Deps;
  #opts: BreakerOptions;
  #leadership: Leadership;
  #busy = new Set<string>();
  #ticking = false;

  constructor(deps: Deps, opts: BreakerOptions) {
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
          this.#run(service, () => this.#runTrip(service));
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
    if (trip) await this.#runTrip(service);
    else if (advanced.alert) await this.#alertNoData(service, evaluation);
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
        const samples = await prometheus.query(prometheusEndpoint(cfg, service), queryText(query, minRps));
        return worstOf(
          samples.map((s) => s.value),
          op,
        );
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

  async #runTrip(service: string): Promise<void> {
    const { store, instanceId, log } = this.#deps;
    const outcome = await withLease(
      store,
      tripLeaseKey(service),
      {
        owner: instanceId,
        ttlMs: this.#opts.leaseMs,
        renewMs: this.#opts.renewMs,
        onLost: (reason) => log.error({ service, reason }, 'breaker trip lease lost; stopping this trip'),
      },
      async (lease) => {
        try {
          await this.#trip(service, lease.signal);
        } catch (err) {
          log.error({ err, service }, 'breaker trip did not finish; the next tick resumes it');
        }
      },
    );
    if (outcome.held && outcome.lost)
      log.warn({ service }, 'breaker trip ran past its lease; the holder resumes it');
  }

  async #saveTrip(service: string, patch: Partial<TripRecord>): Promise<TripRecord | undefined> {
    const saved = await updateBreaker(this.#deps, service, (current) =>
      current?.trip ? { ...current, trip: { ...current.trip, ...patch } } : undefined,
    );
    return saved?.trip;
  }

  /**
   * The trip, resumable at every stage: stop the canary, find or declare the incident (paging first when none is
   * open), record it, shift to legacy 100% (exactly once per attempt id, retried on drift), then tell people.
   */
  async #trip(service: string, signal: AbortSignal): Promise<void> {
    const deps = this.#deps;
    let state = await getBreaker(deps, service);
    let trip = state?.trip;
    if (!state || state.status !== 'tripped' || !trip || trip.phase === 'done') return;
    const cfg = deps.config.services[service]?.breaker;
    const settings = state.settings ?? (cfg ? settingsOf(cfg) : undefined);
    if (!settings) return;
    const actor = breakerActor(service);
    const canaryNote = await haltCanaryForTrip(deps, service, trip.id);

    let pagePromise: Promise<BreakerPage | { paged: false; error: string }> | undefined;
    if (!trip.incident) {
      const found = await this.#incidentFor(service, state, trip);
      pagePromise = found.page;
      trip =
        (await this.#saveTrip(service, { incident: found.incidentId, declared: found.declared })) ?? trip;
    }
    const incidentId = trip.incident;
    if (!incidentId) throw new Error(`breaker trip ${trip.id} has no incident to record on`);

    if (trip.phase === 'deciding') {
      const data: BreakerTripEventData = {
        ...(trip.conditions
          ? tripFigures(trip.conditions)
          : { values: trip.values, thresholds: settings.thresholds }),
        breaches: trip.breaches,
        reason: trip.reason,
        trip: trip.id,
        ...(state.armId ? { action: state.armId } : {}),
        evaluations: trip.evaluations,
      };
      await deps.incidents.record(incidentId, {
        step: 'D',
        kind: BREAKER_TRIPPED,
        actor,
        summary: tripSummary(service, trip, settings),
        data: { ...data },
        stepState: 'in_progress',
      });
      trip = (await this.#saveTrip(service, { phase: 'shifting' })) ?? trip;
    }

    signal.throwIfAborted();
    const outcome = await this.#shift(service, incidentId, trip, signal);
    trip = (await this.#saveTrip(service, { phase: 'done', outcome })) ?? trip;
    state = await getBreaker(deps, service);

    const channel = (await deps.incidents.get(incidentId))?.channel ?? homeChannel(deps, service, state);
    if (channel) {
      await this.#notify({
        channel,
        message: tripMessage({
          service,
          incident: incidentId,
          declared: trip.declared ?? false,
          trip,
          settings,
          paging: pagePromise !== undefined,
          ...(canaryNote ? { canary: canaryNote } : {}),
        }),
        chart: { service, endMs: Date.parse(trip.at) },
      });
    }
    if (pagePromise) {
      const page = await pagePromise;
      await this.#saveTrip(service, { page });
      await deps.incidents.record(incidentId, {
        step: 'D',
        kind: BREAKER_PAGED,
        actor,
        summary: page.paged
          ? `PagerDuty paged for ${service}'s breaker trip (dedup key ${page.dedupKey ?? '?'})`
          : `PagerDuty NOT paged for ${service}'s breaker trip: ${'error' in page ? page.error : (page.reason ?? 'unknown')}`,
        data: { ...page },
      });
    }
  }

  /** The open incident of the service, or one the breaker declares (after starting the page, so PagerDuty links). */
  async #incidentFor(
    service: string,
    state: BreakerState,
    trip: TripRecord,
  ): Promise<{
    incidentId: string | undefined;
    declared: boolean;
    page?: Promise<BreakerPage | { paged: false; error: string }>;
  }> {
    const deps = this.#deps;
    const open = (await deps.incidents.listActive()).find((i) => i.service === service);
    if (open) return { incidentId: open.id, declared: false };
    const settings = state.settings;
    const page = deps.pagerduty
      .triggerForBreaker({
        service,
        summary: `${service} breaker tripped: ${tripValues(trip, settings)}; shifting traffic to legacy 100%`,
        details: {
          values: trip.values,
          ...(settings ? { thresholds: settings.thresholds } : {}),
          breaches: trip.breaches,
          reason: trip.reason,
          evaluations: trip.evaluations,
        },
      })
      .catch((err: unknown) => ({ paged: false as const, error: (err as Error).message }));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      page,
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.#opts.pageWaitMs);
      }),
    ]);
    clearTimeout(timer);
    const channels = [...new Set([homeChannel(deps, service, state), state.channel].filter((c) => c))];
    for (const channel of channels) {
      if (!channel) continue;
      try {
        const incident = await deps.incidents.declare({
          service,
          title: `${service} breaker tripped: ${tripValues(trip, settings)}`,
          severity: 'SEV2',
          channel,
          actor: breakerActor(service),
        });
        return { incidentId: incident.id, declared: true, page };
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        deps.log.warn({ service, channel }, 'breaker could not declare in a busy channel; trying the next');
      }
    }
    // Nowhere free to declare: the trip still happens, on the timeline of the incident where it was armed.
    return { incidentId: state.incident, declared: false, page };
  }

  /** Shift attempts: the first with the trip's id; drift, errors and unknown outcomes are retried with a fresh read. */
  async #shift(
    service: string,
    incidentId: string,
    trip: TripRecord,
    signal: AbortSignal,
  ): Promise<TripRecord['outcome']> {
    const last = await shiftWithRetry(this.#deps, {
      service,
      incidentId,
      legacyPercent: 100,
      actor: breakerActor(service),
      opIdOf: (n) => (n <= 1 ? trip.id : `${trip.id}-r${n}`),
      attempts: MAX_SHIFT_ATTEMPTS,
      resumeAfter: trip.attempts,
      onAttempt: async (attempts) => {
        await this.#saveTrip(service, { attempts });
      },
      reason: `breaker tripped (${trip.reason === 'breach' ? `${trip.breaches} breaches` : 'no data'})`,
      direction: 'toLegacy',
      signal,
    });
    return {
      ok: last.ok,
      summary: last.summary,
      ...(last.data.unchanged ? { unchanged: true } : {}),
      ...(last.stopped ? { reason: last.stopped.reason } : {}),
    };
  }

  async #alertNoData(service: string, evaluation: Evaluation): Promise<void> {
    const deps = this.#deps;
    const state = await getBreaker(deps, service);
    const settings = state?.settings;
    if (!state || !settings) return;
    const { incidentId, channel } = await timelineFor(deps, service, state);
    const notes = state.last.slice(-settings.errorLimit).map((e) => describeEvaluation(e));
    const summary = `${service}'s breaker has had no usable metrics for ${settings.errorLimit} evaluations in a row (${describeEvaluation(evaluation)}); it cannot trip on a real breach until this is fixed`;
    if (incidentId) {
      await deps.incidents.record(incidentId, {
        step: 'D',
        kind: BREAKER_INCONCLUSIVE,
        actor: breakerActor(service),
        summary,
        data: { count: settings.errorLimit, last: notes, onNoData: settings.onNoData },
      });
    }
    if (channel) {
      await this.#notify({
        channel,
        message: noDataMessage({ service, settings, notes, ...(incidentId ? { incident: incidentId } : {}) }),
      });
    }
    let page: BreakerPage | { paged: false; error: string };
    try {
      page = await deps.pagerduty.triggerForBreaker({
        service,
        summary: `${service} breaker has no usable metrics (${settings.errorLimit} evaluations in a row); it cannot protect the migration`,
        details: { last: notes },
      });
    } catch (err) {
      page = { paged: false, error: (err as Error).message };
    }
    if (incidentId) {
      await deps.incidents.record(incidentId, {
        step: 'D',
        kind: BREAKER_PAGED,
        actor: breakerActor(service),
        summary: page.paged
          ? `PagerDuty paged: ${service}'s breaker has no data`
          : `PagerDuty not paged for the no-data alert: ${'error' in page ? page.error : (page.reason ?? '?')}`,
        data: { ...page, for: 'no_data' },
      });
    }
  }

  /** Posts now; when Slack does not take it, keeps it and retries with backoff (the shift never waits on Slack). */
  async #notify(input: { channel: string; message: Message; chart?: Notice['chart'] }): Promise<void> {
    const notice: Notice = {
      id: randomUUID(),
      channel: input.channel,
      message: input.message,
      ...(input.chart ? { chart: input.chart } : {}),
      attempts: 0,
      firstAt: this.#deps.now().getTime(),
    };
    await this.#deps.store.set(notifyKey(notice.id), JSON.stringify(notice), {
      ttlMs: NOTIFY_GIVE_UP_MS * 2,
    });
    await this.deliver(notice.id);
  }

  /** One delivery attempt of a kept message (also the durable retry timer's handler). */
  async deliver(id: string): Promise<void> {
    const deps = this.#deps;
    const notice = await getJson<Notice>(deps.store, notifyKey(id));
    if (!notice) return;
    const save = (n: Notice) =>
      deps.store.set(notifyKey(id), JSON.stringify(n), { ttlMs: NOTIFY_GIVE_UP_MS * 2 });
    notice.attempts += 1;
    try {
      if (!notice.posted) {
        notice.posted = await deps.chat.post(notice.channel, notice.message);
        await save(notice);
      }
      if (notice.chart && !notice.chartDone) {
        const png = await this.#chart(notice.chart.service, notice.chart.endMs);
        if (png) {
          await deps.chat.upload(
            notice.channel,
            {
              filename: `${notice.chart.service}-breaker-${new Date(notice.chart.endMs).toISOString().replace(/[-:]/g, '').slice(0, 15)}.png`,
              title: `${notice.chart.service}: the breaker's conditions against their thresholds, last ${formatDuration(this.#opts.chartWindowMs)}`,
              content: png.png,
              comment: png.note,
            },
            { threadTs: notice.posted.ts },
          );
        }
        notice.chartDone = true;
      }
      await deps.store.del(notifyKey(id));
    } catch (err) {
      const now = deps.now().getTime();
      if (now - notice.firstAt > NOTIFY_GIVE_UP_MS) {
        deps.log.error({ err, notice: id, channel: notice.channel }, 'breaker message given up after 24 h');
        await deps.store.del(notifyKey(id));
        return;
      }
      const delay = Math.min(this.#opts.notifyRetryMs * 2 ** (notice.attempts - 1), 5 * 60_000);
      deps.log.warn(
        { err, notice: id, attempt: notice.attempts, delayMs: delay },
        'breaker message not delivered; will retry',
      );
      await save(notice);
      await deps.scheduler.at(NOTIFY_QUEUE, id, now + delay);
    }
  }

  /** Every condition as % of its threshold over the chart window: from the source, else the kept evaluations. */
  async #chart(service: string, endMs: number): Promise<{ png: Buffer; note: string } | undefined> {
    const deps = this.#deps;
    const cfg = deps.config.services[service]?.breaker;
    const state = await getBreaker(deps, service);
    const settings = state?.settings ?? (cfg ? settingsOf(cfg) : undefined);
    if (!cfg || !settings) return undefined;
    const specs = settings.conditions ?? conditionsOf(cfg);
    const start = new Date(endMs - this.#opts.chartWindowMs);
    const end = new Date(Math.max(endMs, deps.now().getTime()));
    let series: Series[] = [];
    let note = `Each condition as % of its threshold (${specs.map(describeSpec).join(', ')}); the breaker trips above 100%.`;
    try {
      series = await this.#rangeSeries(service, cfg, settings, specs, start, end);
    } catch (err) {
      deps.log.warn({ err, service }, 'breaker chart: range query failed; using the kept evaluations');
    }
    if (!series.some((s) => s.points.length > 1)) {
      const history = ((await getJson<Evaluation[]>(deps.store, historyKey(service))) ?? []).filter(
        (e) => Date.parse(e.at) >= start.getTime(),
      );
      series = specs.map((spec) => ({
        name: spec.label,
        points: history.flatMap((e) => {
          const value =
            e.conditions?.find((c) => c.name === spec.name)?.value ??
            (spec.name === 'memory' ? e.memory?.value : spec.name === 'errors' ? e.errors?.value : undefined);
          return value !== undefined ? [{ t: Date.parse(e.at), v: ofThreshold(spec, value) }] : [];
        }),
      }));
      note += ' From the breaker’s own evaluations (the metrics source gave no range).';
    }
    if (!series.some((s) => s.points.length > 0)) return undefined;
    return {
      png: renderLineChart({
        title: `${service} breaker: % of threshold, last ${formatDuration(this.#opts.chartWindowMs)}`,
        series,
        yLabel: '% of threshold',
        yMin: 0,
        thresholds: [{ value: 100, label: 'trip' }],
        formatY: (v) => `${Math.round(v)}%`,
      }),
      note,
    };
  }

  async #rangeSeries(
    service: string,
    cfg: Breaker,
    settings: BreakerSettings,
    specs: ConditionSpec[],
    start: Date,
    end: Date,
  ): Promise<Series[]> {
    const out: Series[] = [];
    for (const spec of specs) {
      const query = forStack(spec.query, 'cloud', cfg, spec.minRps);
      let points: { t: number; v: number }[];
      if ('prometheus' in cfg.source) {
        const prometheus = this.#deps.adapters.prometheus;
        if (!prometheus) continue;
        const stepSeconds = Math.max(15, Math.round(settings.intervalMs / 1000));
        const range = await prometheus.queryRange(
          prometheusEndpoint(cfg, service),
          queryText(query, undefined),
          {
            start,
            end,
            stepSeconds,
          },
        );
        // The worst series at each instant, like the evaluation.
        const worst = new Map<number, number>();
        const pick = spec.op === 'above' ? Math.max : Math.min;
        for (const s of range)
          for (const p of s.points)
            if (Number.isFinite(p.v)) worst.set(p.t, pick(worst.get(p.t) ?? p.v, p.v));
        points = [...worst.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, v }));
      } else {
        const cloudwatch = this.#deps.adapters.cloudwatch;
        if (!cloudwatch) continue;
        const cw = cfg.source.cloudwatch;
        const series = await cloudwatch.getMetricData(
          cw.region,
          cloudWatchQueries(query, undefined, cw.period / 1000),
          { start, end },
        );
        points = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.v));
      }
      out.push({ name: spec.label, points: points.map((p) => ({ t: p.t, v: ofThreshold(spec, p.v) })) });
    }
    return out;
  }
}

/** A value as % of its threshold, so that above 100 % is always the bad side (also for `below` conditions). */
function ofThreshold(spec: Pick<ConditionSpec, 'op' | 'threshold'>, value: number): number {
  return spec.op === 'above' ? (100 * value) / spec.threshold : (100 * spec.threshold) / value;
}

function tripValues(trip: TripRecord, settings: BreakerSettings | undefined): string {
  if (trip.reason === 'no_data') return `no usable metrics for ${settings?.errorLimit ?? '?'} evaluations`;
  if (trip.conditions) return describeBreaches(trip.conditions) || 'breach';
  const parts: string[] = [];
  if (trip.values.memory !== undefined)
    parts.push(
      `memory ${percent(trip.values.memory)}${settings ? ` (limit ${percent(settings.thresholds.memory)})` : ''}`,
    );
  if (trip.values.errors !== undefined)
    parts.push(
      `5xx ${percent(trip.values.errors)}${settings ? ` (limit ${percent(settings.thresholds.errors)})` : ''}`,
    );
  return parts.join(', ') || 'breach';
}

function tripSummary(service: string, trip: TripRecord, settings: BreakerSettings): string {
  return trip.reason === 'breach'
    ? `${service}'s breaker TRIPPED after ${trip.breaches} breaches in a row: ${tripValues(trip, settings)}. Shifting to legacy 100% with no human; latched until re-armed.`
    : `${service}'s breaker TRIPPED on missing data (onNoData: rollback): ${tripValues(trip, settings)}. Shifting to legacy 100%; latched until re-armed.`;
}

export { cloudWatchQueries } from './source.ts';

const evaluators = new WeakMap<Deps, BreakerEvaluator>();

/** The evaluator registered for these deps (tests and drills drive its tick directly). */
export function breakerEvaluatorOf(deps: Deps): BreakerEvaluator | undefined {
  return evaluators.get(deps);
}

/** Registers the arm approval, the message retry timer and the evaluator; returns the evaluator. */
export function registerBreaker(deps: Deps, options: Partial<BreakerOptions> = {}): BreakerEvaluator {
  const opts = { ...DEFAULT_BREAKER_OPTIONS, ...options };
  const evaluator = new BreakerEvaluator(deps, opts);
  evaluators.set(deps, evaluator);
  deps.approvals.register(armHandler(deps));
  deps.scheduler.handle(NOTIFY_QUEUE, (id) => evaluator.deliver(id));
  deps.scheduler.every('breaker', opts.tickMs, () => evaluator.tick());
  return evaluator;
}
