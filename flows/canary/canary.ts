// Step D: canary phases. An approved schedule raises the cloud share step by step while the breaker watches each bake.
import { LAYER_NAME, splitOf, weightsOf, type TrafficState } from '../../src/adapters/traffic.ts';
import type { Action, ActionResult } from '../../src/actions.ts';
import { canaryCard, canaryView, type CanaryChangeView } from '../breaker/blocks.ts';
import type { MessageRef } from '../../src/chat/chat.ts';
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { UsageError } from '../../src/errors.ts';
import {
  CANARY_ABORTED,
  CANARY_COMPLETED,
  CANARY_FAILED,
  CANARY_PAUSED,
  CANARY_RESUMED,
  CANARY_ROLLED_BACK,
  CANARY_STARTED,
  CANARY_STEP,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { withLease } from '../../src/lease.ts';
import { getJson, updateJson } from '../../src/store/store.ts';
import type { Actor } from '../../src/timeline.ts';
import type { ActionHandler } from '../approval/approval.ts';
import { breakerConfig, getBreaker } from '../breaker/state.ts';
import { readTraffic, type ShiftOutcome } from '../contain/contain.ts';
import { shiftWithRetry } from '../shift/retry.ts';
import { runPreflight, type PreflightReport } from '../preflight/preflight.ts';
import { judgeBake } from './judge.ts';

export const CANARY_START = 'canary.start';
const STEP_QUEUE = 'canary-step';
const canaryKey = (service: string) => `canary:${service}`;
const stepLeaseKey = (service: string) => `canary:${service}:step`;
const STEP_LEASE_MS = 15_000;
const MAX_ABORT_ATTEMPTS = 3;

export type CanaryStatus =
  'ramping' | 'baking' | 'paused' | 'completed' | 'rolled_back' | 'aborted' | 'failed';
const ACTIVE: readonly CanaryStatus[] = ['ramping', 'baking', 'paused'];

export interface CanaryState {
  /** The approval (action id) that started it. */
  id: string;
  service: string;
  incident: string;
  channel: string;
  steps: number[];
  bakeMs: number;
  /** The breaker arming this canary relies on: if it is no longer armed, the canary cannot go on. */
  armId: string;
  /** The step applied or being applied (0-based). */
  index: number;
  status: CanaryStatus;
  /** Tries of the current step (a paused-before-write step is re-run under a new op id). */
  attempt: number;
  /** The cloud share actually written so far. */
  cloudPercent: number;
  from: { legacy: number; cloud: number };
  bakeEndsAt?: string;
  /** Bake left when paused. */
  remainingMs?: number;
  startedAt: string;
  endedAt?: string;
  requester: Actor;
  approvers: Actor[];
  card?: MessageRef;
  log: { at: string; text: string }[];
}

export interface CanaryChange extends CanaryChangeView {
  service: string;
  steps: number[];
  bakeMs: number;
}

export interface CanaryBasis {
  armId: string;
  layers: { layer: string; fingerprint: string }[];
}

function canaryActor(service: string): Actor {
  return { type: 'system', id: `canary:${service}`, name: `${service} canary` };
}

export async function getCanary(deps: Pick<Deps, 'store'>, service: string): Promise<CanaryState | null> {
  return getJson<CanaryState>(deps.store, canaryKey(service));
}

async function saveCanary(
  deps: Deps,
  service: string,
  change: (c: CanaryState) => CanaryState | undefined,
): Promise<CanaryState | null> {
  return updateJson<CanaryState>(deps.store, canaryKey(service), (current) =>
    current ? change(current) : undefined,
  );
}

function isActive(c: CanaryState | null): c is CanaryState {
  return c !== null && ACTIVE.includes(c.status);
}

/** The cloud share a person reads off the traffic: the highest of the layers (what the breaker guards). */
export function cloudShareOf(states: TrafficState[]): { legacy: number; cloud: number } {
  let worst = { legacy: 100, cloud: 0 };
  for (const s of states) {
    const split = splitOf(weightsOf(s), s.others);
    if (split.cloud >= worst.cloud) worst = split;
  }
  return worst;
}

/** Why a schedule cannot run (null when it can): steps above the current share, a bake the breaker can judge. */
export function scheduleProblem(
  steps: number[],
  bakeMs: number,
  intervalMs: number,
  currentCloud: number,
): string | null {
  const first = steps[0];
  if (first === undefined) return 'steps= needs at least one step, like steps=1,5,25,50.';
  if (first <= currentCloud) {
    const higher = steps.filter((s) => s > currentCloud);
    return `Cloud already gets ${currentCloud}%, so the first step (${first}%) would not raise it. Start above ${currentCloud}%${higher.length > 0 ? `, e.g. steps=${higher.join(',')}` : ''}.`;
  }
  if (bakeMs < 3 * intervalMs) {
    return `bake=${formatDuration(bakeMs)} is shorter than three breaker intervals (${formatDuration(3 * intervalMs)}): the breaker needs that long to judge a step. Use bake=${formatDuration(3 * intervalMs)} or more.`;
  }
  if (bakeMs > 24 * 3_600_000) return `bake=${formatDuration(bakeMs)} is over 24h; use at most bake=24h.`;
  return null;
}

export interface CanaryRequest {
  incident: Incident;
  service: string;
  steps: number[];
  bakeMs: number;
  requester: Actor;
  usage?: string;
}

/**
 * /canary start after parsing: runs preflight (any fail refuses), checks the schedule against the breaker and the
 * current share, and posts the approval card. Returns the report too, for the reply.
 */
export async function requestCanary(
  deps: Deps,
  req: CanaryRequest,
): Promise<{ action?: Action<CanaryChange>; report: PreflightReport; refused?: string }> {
  breakerConfig(deps, req.service, req.usage);
  const existing = await getCanary(deps, req.service);
  if (isActive(existing)) {
    throw new UsageError(
      `A canary of ${req.service} is already ${existing.status} (step ${existing.index + 1} of ${existing.steps.length}, cloud ${existing.cloudPercent}%). /canary pause, resume or abort it first.`,
      req.usage,
    );
  }
  const report = await runPreflight(deps, {
    service: req.service,
    requester: req.requester,
    incident: req.incident,
    purpose: 'canary',
  });
  if (report.verdict === 'not_ready') {
    return {
      report,
      refused: `Canary not started: preflight found ${report.checks.filter((c) => c.status === 'fail').length} failing check(s). Fix them (below) and run /canary start again.`,
    };
  }
  const breaker = await getBreaker(deps, req.service);
  if (breaker?.status !== 'armed' || !breaker.armId || !breaker.settings) {
    return {
      report,
      refused: `Canary not started: ${req.service}'s breaker is not armed. Run /breaker arm first.`,
    };
  }
  const states = report.states ?? (await readTraffic(deps, req.service));
  const from = cloudShareOf(states);
  const problem = scheduleProblem(req.steps, req.bakeMs, breaker.settings.intervalMs, from.cloud);
  if (problem) throw new UsageError(problem, req.usage);
  const change: CanaryChange = {
    service: req.service,
    steps: req.steps,
    bakeMs: req.bakeMs,
    from,
    layers: states.map((s) => LAYER_NAME[s.layer]),
    breaker: `armed by ${breaker.armedBy?.name ?? '?'} (${breaker.armId}); trips after ${breaker.settings.failureLimit} × ${formatDuration(breaker.settings.intervalMs)}`,
  };
  const basis: CanaryBasis = {
    armId: breaker.armId,
    layers: states.map((s) => ({ layer: s.layer, fingerprint: s.fingerprint })),
  };
  const action = await deps.approvals.request<CanaryChange>({
    kind: CANARY_START,
    incident: req.incident,
    step: 'D',
    summary: `Canary ${req.service} to cloud ${req.steps.join('% → ')}% (bake ${formatDuration(req.bakeMs)} each)`,
    basis,
    change,
    requester: req.requester,
  });
  return { action, report };
}

function canaryHandler(deps: Deps): ActionHandler<CanaryChange> {
  return {
    kind: CANARY_START,
    describe: (action) => canaryView(action.change),
    stepOnSuccess: 'in_progress',
    async execute(action, ctx): Promise<ActionResult> {
      const { service, steps, bakeMs } = action.change;
      const basis = action.basis as CanaryBasis;
      const breaker = await getBreaker(deps, service);
      if (breaker?.status !== 'armed' || breaker.armId !== basis.armId) {
        return {
          ok: false,
          summary: `${service}'s breaker is no longer armed as when this was requested (now ${breaker?.status ?? 'never armed'}); nothing was shifted. Arm it, then run /canary start again.`,
        };
      }
      const states = await readTraffic(deps, service);
      const moved = states.filter(
        (s) => basis.layers.find((b) => b.layer === s.layer)?.fingerprint !== s.fingerprint,
      );
      if (moved.length > 0) {
        return {
          ok: false,
          summary: `${moved.map((s) => LAYER_NAME[s.layer]).join(' and ')} changed since the request; nothing was shifted. Run /canary start again to see the current weights.`,
        };
      }
      const incident = await deps.incidents.get(action.incident);
      const at = deps.now().toISOString();
      const state: CanaryState = {
        id: action.id,
        service,
        incident: action.incident,
        channel: incident?.channel ?? '',
        steps,
        bakeMs,
        armId: basis.armId,
        index: 0,
        status: 'ramping',
        attempt: 1,
        cloudPercent: action.change.from.cloud,
        from: action.change.from,
        startedAt: at,
        requester: action.requester,
        approvers: ctx.approvers,
        log: [
          {
            at,
            text: `Started by ${action.requester.name}, approved by ${ctx.approvers.map((a) => a.name).join(', ') || '?'}`,
          },
        ],
      };
      let clash: CanaryState | null = null;
      await updateJson<CanaryState>(deps.store, canaryKey(service), (current) => {
        clash = isActive(current) ? current : null;
        return clash ? undefined : state;
      });
      if (clash)
        return { ok: false, summary: `Another canary of ${service} started meanwhile; nothing was shifted.` };
      await deps.incidents.record(action.incident, {
        step: 'D',
        kind: CANARY_STARTED,
        actor: action.requester,
        summary: `Canary of ${service} started: cloud ${steps.join('% → ')}%, ${formatDuration(bakeMs)} per step while the breaker evaluates`,
        data: { canary: action.id, action: action.id, steps, bakeMs, from: action.change.from },
      });
      await publishCard(deps, service);
      await applyStep(deps, service, action.id, 0);
      const now = await getCanary(deps, service);
      return now && now.status !== 'failed'
        ? {
            ok: true,
            summary: `Canary running: step 1 of ${steps.length} (cloud ${steps[0]}%) ${now.status === 'baking' ? `bakes until ${now.bakeEndsAt?.slice(11, 19)}Z` : now.status}. The progress card follows it.`,
          }
        : { ok: false, summary: `The first step could not be written: ${now?.log.at(-1)?.text ?? '?'}` };
    },
    async recheck(action) {
      const state = await getCanary(deps, action.change.service);
      return state?.id === action.id
        ? {
            ok: state.status !== 'failed',
            summary: `the canary is ${state.status} at step ${state.index + 1}.`,
          }
        : { ok: false, summary: 'the canary never started; nothing was shifted by it.' };
    },
  };
}

function addLog(c: CanaryState, at: string, text: string): CanaryState['log'] {
  return [...c.log, { at, text }].slice(-20);
}

/** Posts the progress card once, then edits it in place (throttled); a card Slack never took is posted later. */
async function publishCard(deps: Deps, service: string): Promise<void> {
  const state = await getCanary(deps, service);
  if (!state || !state.channel) return;
  const message = canaryCard(state, deps.now());
  try {
    if (state.card) {
      await deps.chat.update(state.card, message);
    } else {
      const card = await deps.chat.post(state.channel, message);
      await saveCanary(deps, service, (c) => (c.id === state.id ? { ...c, card } : undefined));
    }
  } catch (err) {
    deps.log.warn({ err, service, canary: state.id }, 'could not post or edit the canary card');
  }
}

function refreshCard(deps: Deps, service: string): void {
  deps.throttle.schedule(`canary-card:${service}`, () => publishCard(deps, service));
}

const stepOpId = (c: Pick<CanaryState, 'id' | 'index' | 'attempt'>) =>
  `${c.id}-step${c.index + 1}${c.attempt > 1 ? `-t${c.attempt}` : ''}`;

/** Writes step `index` (the canary must be `ramping` there); on success the bake timer starts. */
async function applyStep(deps: Deps, service: string, canaryId: string, index: number): Promise<void> {
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
    const failed = await saveCanary(deps, service, (c) =>
      c.id === canaryId && c.status === 'ramping'
        ? {
            ...c,
            status: 'failed',
            endedAt: at,
            log: addLog(c, at, `Step ${index + 1} (cloud ${cloud}%) NOT written: ${outcome.summary}`),
          }
        : undefined,
    );
    if (failed?.status === 'failed') {
      await deps.incidents.record(state.incident, {
        step: 'D',
        kind: CANARY_FAILED,
        actor: canaryActor(service),
        summary: `Canary of ${service} stopped: step ${index + 1} (cloud ${cloud}%) could not be written: ${outcome.summary}. Traffic stays at cloud ${state.cloudPercent}%.`,
        data: { canary: canaryId, index, detail: outcome.summary },
      });
      refreshCard(deps, service);
    }
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

/** A bake ended (durable timer): the next step, or done. */
async function bakeDone(deps: Deps, member: string): Promise<void> {
  const [name = '', canaryId = '', indexText = ''] = member.split('|');
  const index = Number(indexText);
  const state = await getCanary(deps, name);
  if (!state || state.id !== canaryId || state.status !== 'baking' || state.index !== index) return;
  const now = deps.now().getTime();
  const ends = Date.parse(state.bakeEndsAt ?? '');
  if (now < ends) {
    await deps.scheduler.at(STEP_QUEUE, member, ends);
    return;
  }
  const breaker = await getBreaker(deps, name);
  const at = deps.now().toISOString();
  if (breaker?.status !== 'armed' || breaker.armId !== state.armId) {
    // Normally the trip or the disarm already stopped or paused it; this is the safety net.
    const paused = await saveCanary(deps, name, (c) =>
      c.id === canaryId && c.status === 'baking'
        ? {
            ...c,
            status: 'paused',
            remainingMs: 0,
            bakeEndsAt: undefined,
            log: addLog(c, at, `Paused: the breaker is ${breaker?.status ?? 'gone'}`),
          }
        : undefined,
    );
    if (paused?.status === 'paused') {
      await deps.incidents.record(state.incident, {
        step: 'D',
        kind: CANARY_PAUSED,
        actor: canaryActor(name),
        summary: `Canary of ${name} paused at cloud ${state.cloudPercent}%: the breaker is ${breaker?.status ?? 'not armed'}, so no step may raise the cloud share`,
        data: { canary: canaryId, index, remainingMs: 0 },
      });
      refreshCard(deps, name);
    }
    return;
  }
  if (await stepJudgedBad(deps, name, state)) return;
  if (index + 1 >= state.steps.length) {
    const done = await saveCanary(deps, name, (c) =>
      c.id === canaryId && c.status === 'baking' && c.index === index
        ? {
            ...c,
            status: 'completed',
            endedAt: at,
            log: addLog(c, at, `Completed at cloud ${c.cloudPercent}%`),
          }
        : undefined,
    );
    if (done?.status === 'completed') {
      await deps.incidents.record(state.incident, {
        step: 'D',
        kind: CANARY_COMPLETED,
        actor: canaryActor(name),
        summary: `Canary of ${name} completed: cloud ${state.cloudPercent}% held ${formatDuration(state.bakeMs)} with no breach. The breaker stays armed.`,
        data: { canary: canaryId, cloudPercent: state.cloudPercent },
        stepState: 'done',
      });
      refreshCard(deps, name);
    }
    return;
  }
  const moved = await saveCanary(deps, name, (c) =>
    c.id === canaryId && c.status === 'baking' && c.index === index
      ? { ...c, status: 'ramping', index: index + 1, attempt: 1, bakeEndsAt: undefined }
      : undefined,
  );
  if (moved?.status === 'ramping') {
    refreshCard(deps, name);
    await applyStep(deps, name, canaryId, index + 1);
  }
}

/**
 * Cloud against legacy over the bake that just ended (conditions with `compare`): "cloud is worse" aborts the canary
 * back to legacy 100%, "not enough data" pauses it where it is (never moves traffic). True when the step must not go on.
 */
async function stepJudgedBad(deps: Deps, service: string, state: CanaryState): Promise<boolean> {
  const judged = await judgeBake(deps, { ...state, service });
  if (!judged) return false;
  const at = deps.now().toISOString();
  await saveCanary(deps, service, (c) =>
    c.id === state.id
      ? { ...c, log: judged.lines.reduce((log, line) => [...log, { at, text: line }], c.log).slice(-20) }
      : undefined,
  );
  refreshCard(deps, service);
  try {
    if (judged.decision === 'worse') await abortCanary(deps, service, canaryActor(service));
    else if (judged.decision === 'not_enough_data')
      await pauseCanary(deps, service, canaryActor(service), 'not enough data to compare cloud with legacy');
  } catch (err) {
    // Someone paused or aborted it meanwhile: their word stands.
    if (!(err instanceof UsageError)) throw err;
  }
  return judged.decision !== 'same';
}

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

/** After a restart: a step left `ramping` with nobody writing it is finished (rechecked, never re-sent blindly). */
async function recoverSteps(deps: Deps): Promise<void> {
  for (const service of Object.keys(deps.config.services)) {
    const canary = await getCanary(deps, service);
    // applyStep takes the step lease itself: a step that a live replica is writing is left alone.
    if (canary?.status === 'ramping') await applyStep(deps, service, canary.id, canary.index);
  }
}

export function registerCanary(deps: Deps): void {
  deps.approvals.register(canaryHandler(deps));
  deps.scheduler.handle(STEP_QUEUE, (member) => bakeDone(deps, member));
  deps.scheduler.every('canary-recovery', 10_000, () => recoverSteps(deps));
}
