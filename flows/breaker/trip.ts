// Step D breaker, a trip: under its lease, find or declare the incident, page, shift to legacy with retries, tell the channel.
import { breakerActor, percent, settingsOf, type BreakerSettings } from './rules.ts';
import { describeBreaches, tripFigures } from './conditions.ts';
import { tripMessage } from './blocks.ts';
import { UsageError } from '../../src/errors.ts';
import { BREAKER_PAGED, BREAKER_TRIPPED, type BreakerTripEventData } from '../../src/events.ts';
import { withLease } from '../../src/lease.ts';
import { getBreaker, updateBreaker, type BreakerState, type TripRecord } from './state.ts';
import { haltCanaryForTrip } from '../canary/index.ts';
import { shiftWithRetry } from '../shift/index.ts';
import type { BreakerPage } from '../pagerduty/index.ts';
import { homeChannel, notify } from './notify.ts';
import type { EvaluatorContext } from './options.ts';

const tripLeaseKey = (service: string) => `breaker:${service}:trip`;
const MAX_SHIFT_ATTEMPTS = 3;
export async function runTrip(ctx: EvaluatorContext, service: string): Promise<void> {
  const { store, instanceId, log } = ctx.deps;
  const outcome = await withLease(
    store,
    tripLeaseKey(service),
    {
      owner: instanceId,
      ttlMs: ctx.opts.leaseMs,
      renewMs: ctx.opts.renewMs,
      onLost: (reason) => log.error({ service, reason }, 'breaker trip lease lost; stopping this trip'),
    },
    async (lease) => {
      try {
        await executeTrip(ctx, service, lease.signal);
      } catch (err) {
        log.error({ err, service }, 'breaker trip did not finish; the next tick resumes it');
      }
    },
  );
  if (outcome.held && outcome.lost)
    log.warn({ service }, 'breaker trip ran past its lease; the holder resumes it');
}

export async function saveTrip(
  ctx: EvaluatorContext,
  service: string,
  patch: Partial<TripRecord>,
): Promise<TripRecord | undefined> {
  const saved = await updateBreaker(ctx.deps, service, (current) =>
    current?.trip ? { ...current, trip: { ...current.trip, ...patch } } : undefined,
  );
  return saved?.trip;
}

/**
 * The trip, resumable at every stage: stop the canary, find or declare the incident (paging first when none is
 * open), record it, shift to legacy 100% (exactly once per attempt id, retried on drift), then tell people.
 */
export async function executeTrip(
  ctx: EvaluatorContext,
  service: string,
  signal: AbortSignal,
): Promise<void> {
  const deps = ctx.deps;
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
    const found = await incidentForTrip(ctx, service, state, trip);
    pagePromise = found.page;
    trip = (await saveTrip(ctx, service, { incident: found.incidentId, declared: found.declared })) ?? trip;
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
    trip = (await saveTrip(ctx, service, { phase: 'shifting' })) ?? trip;
  }

  signal.throwIfAborted();
  const outcome = await shiftForTrip(ctx, service, incidentId, trip, signal);
  trip = (await saveTrip(ctx, service, { phase: 'done', outcome })) ?? trip;
  state = await getBreaker(deps, service);

  const channel = (await deps.incidents.get(incidentId))?.channel ?? homeChannel(deps, service, state);
  if (channel) {
    await notify(ctx, {
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
    await saveTrip(ctx, service, { page });
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
export async function incidentForTrip(
  ctx: EvaluatorContext,
  service: string,
  state: BreakerState,
  trip: TripRecord,
): Promise<{
  incidentId: string | undefined;
  declared: boolean;
  page?: Promise<BreakerPage | { paged: false; error: string }>;
}> {
  const deps = ctx.deps;
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
      timer = setTimeout(resolve, ctx.opts.pageWaitMs);
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
export async function shiftForTrip(
  ctx: EvaluatorContext,
  service: string,
  incidentId: string,
  trip: TripRecord,
  signal: AbortSignal,
): Promise<TripRecord['outcome']> {
  const last = await shiftWithRetry(ctx.deps, {
    service,
    incidentId,
    legacyPercent: 100,
    actor: breakerActor(service),
    opIdOf: (n) => (n <= 1 ? trip.id : `${trip.id}-r${n}`),
    attempts: MAX_SHIFT_ATTEMPTS,
    resumeAfter: trip.attempts,
    onAttempt: async (attempts) => {
      await saveTrip(ctx, service, { attempts });
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
