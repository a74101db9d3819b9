// Step D: canary phases. An approved schedule raises the cloud share step by step while the breaker watches each bake.
import { LAYER_NAME } from '../../src/adapters/traffic.ts';
import type { Action, ActionResult } from '../../src/actions.ts';
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { UsageError } from '../../src/errors.ts';
import { CANARY_STARTED } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { updateJson } from '../../src/store/store.ts';
import type { Actor } from '../../src/timeline.ts';
import type { ActionHandler } from '../approval/index.ts';
import { breakerConfig, canaryView, getBreaker } from '../breaker/index.ts';
import { readTraffic } from '../contain/index.ts';
import { runPreflight, type PreflightReport } from '../preflight/index.ts';
import { bakeDone } from './bake.ts';
import {
  type CanaryBasis,
  type CanaryChange,
  type CanaryState,
  STEP_QUEUE,
  canaryKey,
  cloudShareOf,
  getCanary,
  isActive,
  publishCard,
  scheduleProblem,
} from './state.ts';
import { applyStep, recoverSteps } from './steps.ts';
export {
  abortCanary,
  haltCanaryForTrip,
  pauseCanary,
  pauseCanaryForDisarm,
  resumeCanary,
} from './controls.ts';
export { cloudShareOf, getCanary, scheduleProblem } from './state.ts';
export type { CanaryBasis, CanaryChange, CanaryState, CanaryStatus } from './state.ts';

export const CANARY_START = 'canary.start';

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
  // A switch layer (ARC routing controls) is On or Off: it cannot carry a 5% step.
  const switches = states.filter((s) => s.maxWeight === 1);
  if (switches.length > 0 && req.steps.some((p) => p !== 100)) {
    throw new UsageError(
      `${switches.map((s) => LAYER_NAME[s.layer]).join(', ')} can only send the cloud stack all of the traffic or none of it, so a canary cannot ramp through steps=${req.steps.join(',')}. Ramp on a weighted layer (route53, alb, gateway, istio) of a service without routing controls, or use steps=100 to fail back in one move.`,
      req.usage,
    );
  }
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

export function registerCanary(deps: Deps): void {
  deps.approvals.register(canaryHandler(deps));
  deps.scheduler.handle(STEP_QUEUE, (member) => bakeDone(deps, member));
  deps.scheduler.every('canary-recovery', 10_000, () => recoverSteps(deps));
}
