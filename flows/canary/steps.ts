// Step D canary, the steps: each write of a higher cloud share and the guard asked right before it.
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { CANARY_FAILED, CANARY_STEP } from '../../src/events.ts';
import { withLease } from '../../src/lease.ts';
import { getBreaker } from '../breaker/index.ts';
import { shiftWithRetry } from '../shift/index.ts';
import {
  STEP_LEASE_MS,
  STEP_QUEUE,
  addLog,
  canaryActor,
  getCanary,
  refreshCard,
  moveCanary,
  saveCanary,
  stepLeaseKey,
  stepOpId,
} from './state.ts';

/** Writes step `index` (the canary must be `ramping` there); on success the bake timer starts. */
export async function applyStep(deps: Deps, service: string, canaryId: string, index: number): Promise<void> {
  // One writer per step, even within one replica (the recovery pass and a bake timer may both get here).
  await withLease(
    deps.store,
    stepLeaseKey(service),
    {
      owner: deps.instanceId,
      ttlMs: STEP_LEASE_MS,
      onLost: (reason) => deps.log.error({ service, canary: canaryId, reason }, 'canary step lease lost'),
    },
    (lease) => applyStepHeld(deps, service, canaryId, index, lease.signal),
  );
}

async function applyStepHeld(
  deps: Deps,
  service: string,
  canaryId: string,
  index: number,
  signal: AbortSignal,
): Promise<void> {
  const state = await getCanary(deps, service);
  if (!state || state.id !== canaryId || state.status !== 'ramping' || state.index !== index) return;
  const cloud = state.steps[index] ?? 0;
  const opId = stepOpId(state);
  // One try per step (raising the cloud share is not retried blindly); a try interrupted by a restart mid-write
  // is re-read, never re-sent.
  const outcome = await shiftWithRetry(deps, {
    service,
    incidentId: state.incident,
    legacyPercent: 100 - cloud,
    actor: canaryActor(service),
    opIdOf: () => opId,
    attempts: 1,
    resumeAfter: 1,
    reason: `canary step ${index + 1}/${state.steps.length}: cloud ${cloud}%`,
    direction: 'any',
    guard: () => stepGuard(deps, service, canaryId, index),
    signal,
  });
  const at = deps.now().toISOString();
  if (outcome.stopped?.reason === 'cancelled') return; // paused, aborted or rolled back meanwhile: they record it
  if (!outcome.ok) {
    await moveCanary(deps, service, {
      at,
      when: (c) => c.id === canaryId && c.status === 'ramping',
      to: { status: 'failed', endedAt: at },
      log: `Step ${index + 1} (cloud ${cloud}%) NOT written: ${outcome.summary}`,
      event: {
        kind: CANARY_FAILED,
        summary: `Canary of ${service} stopped: step ${index + 1} (cloud ${cloud}%) could not be written: ${outcome.summary}. Traffic stays at cloud ${state.cloudPercent}%.`,
        data: { canary: canaryId, index, detail: outcome.summary },
      },
    });
    return;
  }
  const bakeEndsAt = new Date(deps.now().getTime() + state.bakeMs).toISOString();
  const next = await saveCanary(deps, service, (c) => {
    if (c.id !== canaryId || c.index !== index) return undefined;
    const written = {
      ...c,
      cloudPercent: cloud,
      log: addLog(c, at, `Step ${index + 1}: cloud ${cloud}% written`),
    };
    if (c.status === 'ramping') return { ...written, status: 'baking', bakeEndsAt };
    if (c.status === 'paused') return { ...written, remainingMs: c.bakeMs };
    return written;
  });
  await deps.incidents.record(state.incident, {
    step: 'D',
    kind: CANARY_STEP,
    actor: canaryActor(service),
    summary: `Canary of ${service}: step ${index + 1} of ${state.steps.length}, cloud ${cloud}%${next?.status === 'baking' ? `, baking ${formatDuration(state.bakeMs)} until ${bakeEndsAt.slice(11, 19)}Z` : ` (${next?.status ?? '?'})`}`,
    data: { canary: canaryId, index, cloudPercent: cloud, op: opId },
  });
  if (next?.status === 'baking') {
    await deps.scheduler.at(STEP_QUEUE, `${service}|${canaryId}|${index}`, Date.parse(bakeEndsAt));
  }
  refreshCard(deps, service);
}

/** Asked under the zone lock right before a step's write: the last word on whether the cloud share may rise. */
async function stepGuard(
  deps: Deps,
  service: string,
  canaryId: string,
  index: number,
): Promise<string | undefined> {
  const canary = await getCanary(deps, service);
  if (!canary || canary.id !== canaryId || canary.status !== 'ramping' || canary.index !== index) {
    return `the canary is ${canary?.status ?? 'gone'} now; the cloud share was not raised`;
  }
  const breaker = await getBreaker(deps, service);
  if (breaker?.status !== 'armed' || breaker.armId !== canary.armId) {
    return `the breaker is ${breaker?.status ?? 'gone'} now; the cloud share was not raised`;
  }
  return undefined;
}

/** After a restart: a step left `ramping` with nobody writing it is finished (rechecked, never re-sent blindly). */
export async function recoverSteps(deps: Deps): Promise<void> {
  for (const service of Object.keys(deps.config.services)) {
    const canary = await getCanary(deps, service);
    // applyStep takes the step lease itself: a step that a live replica is writing is left alone.
    if (canary?.status === 'ramping') await applyStep(deps, service, canary.id, canary.index);
  }
}
