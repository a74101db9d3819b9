// Step D canary, the controls: pause, resume and abort (by a person), halt and pause by the breaker.
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { UsageError } from '../../src/errors.ts';
import { CANARY_ABORTED, CANARY_PAUSED, CANARY_RESUMED, CANARY_ROLLED_BACK } from '../../src/events.ts';
import { updateJson } from '../../src/store/store.ts';
import type { Actor } from '../../src/timeline.ts';
import { getBreaker } from '../breaker/index.ts';
import type { ShiftOutcome } from '../contain/index.ts';
import { shiftWithRetry } from '../shift/index.ts';
import {
  type CanaryState,
  MAX_ABORT_ATTEMPTS,
  STEP_QUEUE,
  addLog,
  canaryActor,
  canaryKey,
  getCanary,
  isActive,
  refreshCard,
  saveCanary,
} from './state.ts';
import { applyStep } from './steps.ts';

/** The breaker tripped: the canary stops for good (the breaker's own shift is the rollback). Idempotent. */
export async function haltCanaryForTrip(
  deps: Deps,
  service: string,
  tripId: string,
): Promise<string | undefined> {
  const at = deps.now().toISOString();
  let halted: CanaryState | null = null;
  await updateJson<CanaryState>(deps.store, canaryKey(service), (c) => {
    halted = null;
    if (!isActive(c)) return undefined;
    halted = c;
    return {
      ...c,
      status: 'rolled_back',
      endedAt: at,
      log: addLog(c, at, `Breaker tripped (${tripId}): rolled back to legacy 100%, canary stopped`),
    };
  });
  const stopped = halted as CanaryState | null;
  if (!stopped) return undefined;
  await deps.scheduler.cancel(STEP_QUEUE, `${service}|${stopped.id}|${stopped.index}`);
  const share =
    stopped.status === 'ramping'
      ? `cloud ${stopped.cloudPercent}% → ${stopped.steps[stopped.index] ?? '?'}% being written`
      : `cloud ${stopped.cloudPercent}%`;
  const note = `canary ${stopped.id} stopped at step ${stopped.index + 1} of ${stopped.steps.length} (${share})`;
  await deps.incidents.record(stopped.incident, {
    step: 'D',
    kind: CANARY_ROLLED_BACK,
    actor: canaryActor(service),
    summary: `Canary of ${service} rolled back: the breaker tripped at step ${stopped.index + 1} (${share}); traffic goes to legacy 100% and the canary is stopped. A new canary needs a new approval.`,
    data: { canary: stopped.id, index: stopped.index, cloudPercent: stopped.cloudPercent, trip: tripId },
  });
  refreshCard(deps, service);
  return note;
}

/** The breaker was disarmed: a running canary pauses (nothing would guard the next step). */
export async function pauseCanaryForDisarm(
  deps: Deps,
  service: string,
  actor: Actor,
): Promise<string | undefined> {
  const canary = await getCanary(deps, service);
  if (!canary || (canary.status !== 'baking' && canary.status !== 'ramping')) return undefined;
  await pauseCanary(deps, service, actor, 'the breaker was disarmed');
  return `the canary is paused at cloud ${canary.cloudPercent}% (no breaker guards it)`;
}

/** /canary pause: holds the current step; the rest of its bake is kept for resume. */
export async function pauseCanary(
  deps: Deps,
  service: string,
  actor: Actor,
  why?: string,
  usage?: string,
): Promise<string> {
  const at = deps.now().toISOString();
  const now = deps.now().getTime();
  let before: CanaryState | null = null;
  const paused = await saveCanary(deps, service, (c) => {
    before = c;
    if (c.status !== 'baking' && c.status !== 'ramping') return undefined;
    const remainingMs = c.status === 'baking' ? Math.max(0, Date.parse(c.bakeEndsAt ?? '') - now) : c.bakeMs;
    return {
      ...c,
      status: 'paused',
      remainingMs,
      bakeEndsAt: undefined,
      log: addLog(c, at, `Paused by ${actor.name}${why ? ` (${why})` : ''}`),
    };
  });
  const was = before as CanaryState | null;
  if (!was || !paused || paused.status !== 'paused' || was.status === 'paused') {
    throw new UsageError(
      was
        ? `The canary of ${service} is ${was.status}; only a running canary can be paused.`
        : `There is no canary of ${service}. Start one with /canary start.`,
      usage,
    );
  }
  await deps.scheduler.cancel(STEP_QUEUE, `${service}|${paused.id}|${paused.index}`);
  await deps.incidents.record(paused.incident, {
    step: 'D',
    kind: CANARY_PAUSED,
    actor,
    summary: `${actor.name} paused the canary of ${service} at step ${paused.index + 1} (cloud ${paused.cloudPercent}%)${why ? `: ${why}` : ''}; ${formatDuration(paused.remainingMs ?? 0)} of bake left`,
    data: { canary: paused.id, index: paused.index, remainingMs: paused.remainingMs ?? 0 },
  });
  refreshCard(deps, service);
  return `Canary of ${service} paused at step ${paused.index + 1} of ${paused.steps.length} (cloud ${paused.cloudPercent}%). Traffic stays there; /canary resume continues (${formatDuration(paused.remainingMs ?? 0)} of bake left), /canary abort goes back to legacy 100%.`;
}

/** /canary resume: the rest of the bake, or the step that a pause interrupted before it was written. */
export async function resumeCanary(
  deps: Deps,
  service: string,
  actor: Actor,
  usage?: string,
): Promise<string> {
  const canary = await getCanary(deps, service);
  if (!canary || canary.status !== 'paused') {
    throw new UsageError(
      canary
        ? `The canary of ${service} is ${canary.status}; only a paused canary can be resumed.${canary.status === 'rolled_back' || canary.status === 'aborted' || canary.status === 'failed' || canary.status === 'completed' ? ' Start a new one with /canary start (needs approval).' : ''}`
        : `There is no canary of ${service}. Start one with /canary start.`,
      usage,
    );
  }
  const breaker = await getBreaker(deps, service);
  if (breaker?.status !== 'armed' || breaker.armId !== canary.armId) {
    throw new UsageError(
      `The breaker that guarded this canary is ${breaker?.status === 'armed' ? 're-armed under another approval' : (breaker?.status ?? 'gone')}, so the canary cannot continue. /canary abort it, then /canary start a new one (needs approval).`,
      usage,
    );
  }
  const at = deps.now().toISOString();
  const unwritten = canary.cloudPercent < (canary.steps[canary.index] ?? 0);
  const bakeEndsAt = new Date(deps.now().getTime() + (canary.remainingMs ?? canary.bakeMs)).toISOString();
  const resumed = await saveCanary(deps, service, (c) =>
    c.id === canary.id && c.status === 'paused'
      ? unwritten
        ? {
            ...c,
            status: 'ramping',
            attempt: c.attempt + 1,
            remainingMs: undefined,
            log: addLog(c, at, `Resumed by ${actor.name}`),
          }
        : {
            ...c,
            status: 'baking',
            bakeEndsAt,
            remainingMs: undefined,
            log: addLog(c, at, `Resumed by ${actor.name}`),
          }
      : undefined,
  );
  if (!resumed || resumed.status === 'paused')
    throw new UsageError('The canary changed meanwhile; run /canary resume again.', usage);
  await deps.incidents.record(canary.incident, {
    step: 'D',
    kind: CANARY_RESUMED,
    actor,
    summary: `${actor.name} resumed the canary of ${service} at step ${canary.index + 1}${unwritten ? ` (writing cloud ${canary.steps[canary.index]}%)` : `, baking until ${bakeEndsAt.slice(11, 19)}Z`}`,
    data: { canary: canary.id, index: canary.index, remainingMs: canary.remainingMs ?? canary.bakeMs },
  });
  refreshCard(deps, service);
  if (unwritten) {
    await applyStep(deps, service, canary.id, canary.index);
    const now = await getCanary(deps, service);
    return `Canary of ${service} resumed: step ${canary.index + 1} (cloud ${canary.steps[canary.index]}%) ${now?.status === 'baking' ? 'written; baking' : (now?.status ?? '?')}.`;
  }
  await deps.scheduler.at(STEP_QUEUE, `${service}|${canary.id}|${canary.index}`, Date.parse(bakeEndsAt));
  return `Canary of ${service} resumed at step ${canary.index + 1} (cloud ${canary.cloudPercent}%); the bake ends at ${bakeEndsAt.slice(11, 19)}Z.`;
}

/** /canary abort: stops the canary and shifts back to legacy 100% (lowering the cloud share needs no approval). */
export async function abortCanary(
  deps: Deps,
  service: string,
  actor: Actor,
  usage?: string,
): Promise<string> {
  const at = deps.now().toISOString();
  let before: CanaryState | null = null;
  const aborted = await saveCanary(deps, service, (c) => {
    before = c;
    return isActive(c)
      ? { ...c, status: 'aborted', endedAt: at, log: addLog(c, at, `Aborted by ${actor.name}`) }
      : undefined;
  });
  const was = before as CanaryState | null;
  if (!was || !aborted || aborted.status !== 'aborted' || !isActive(was)) {
    throw new UsageError(
      was
        ? `The canary of ${service} is already ${was.status}; nothing to abort.`
        : `There is no canary of ${service}.`,
      usage,
    );
  }
  await deps.scheduler.cancel(STEP_QUEUE, `${service}|${aborted.id}|${aborted.index}`);
  const outcome: ShiftOutcome | undefined = await shiftWithRetry(deps, {
    service,
    incidentId: aborted.incident,
    legacyPercent: 100,
    actor,
    opIdOf: (attempt) => `${aborted.id}-abort${attempt > 1 ? `-r${attempt}` : ''}`,
    attempts: MAX_ABORT_ATTEMPTS,
    reason: `canary aborted by ${actor.name}`,
    direction: 'toLegacy',
  });
  await deps.incidents.record(aborted.incident, {
    step: 'D',
    kind: CANARY_ABORTED,
    actor,
    summary: `${actor.name} aborted the canary of ${service} at step ${aborted.index + 1} (cloud ${aborted.cloudPercent}%): ${outcome?.ok ? 'back to legacy 100%' : `shift back NOT done: ${outcome?.summary ?? '?'}`}`,
    data: { canary: aborted.id, by: actor, op: `${aborted.id}-abort`, ok: outcome?.ok ?? false },
  });
  await saveCanary(deps, service, (c) =>
    c.id === aborted.id
      ? {
          ...c,
          ...(outcome?.ok ? { cloudPercent: 0 } : {}),
          log: addLog(
            c,
            deps.now().toISOString(),
            outcome?.ok ? 'Back to legacy 100%' : `Shift back failed: ${outcome?.summary ?? '?'}`,
          ),
        }
      : undefined,
  );
  refreshCard(deps, service);
  return outcome?.ok
    ? `Canary of ${service} aborted: traffic is back to legacy 100%. ${outcome.summary}`
    : `Canary of ${service} aborted, but the shift back to legacy did NOT happen: ${outcome?.summary ?? '?'} Run /contain to move traffic by hand.`;
}
