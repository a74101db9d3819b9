// Step C: shift a service's weighted traffic to a legacy share: planned, health-checked, compare-and-swap, followed live.
import {
  describeWeights,
  LAYER_NAME,
  weightsOf,
  type TrafficLayer,
  type TrafficState,
} from '../../src/adapters/traffic.ts';
import type { Action, ActionResult } from '../../src/actions.ts';
import { shiftView } from './blocks.ts';
import { legacyLowered } from './direction.ts';
import type { Deps } from '../../src/deps.ts';
import { ApprovalError } from '../../src/errors.ts';
import type { Incident } from '../../src/incident.ts';
import { getJson } from '../../src/store/store.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import type { ActionHandler } from '../approval/index.ts';
import { type ShiftOutcome, executeShift, recordNotShifted } from './execute.ts';
import {
  CONVERGE_QUEUE,
  OBSERVE_QUEUE,
  SYNC_FOLLOW_UP_MS,
  SYNC_QUEUE,
  converge,
  followSync,
  markInSync,
  observeLater,
} from './insync.ts';
import { type Milestone, type ShiftOp, opKey, saveOp } from './ops.ts';
import {
  type ShiftBasis,
  type ShiftChange,
  type ShiftPlan,
  checkLegacyHealth,
  planShift,
  portOf,
  readTraffic,
} from './plan.ts';
export { executeShift } from './execute.ts';
export type { ExecuteShiftInput, ShiftOutcome } from './execute.ts';
export { SLOW_SYNC_MS } from './insync.ts';
export { readShiftOp } from './ops.ts';
export type { Milestone, ShiftOpView } from './ops.ts';
export { checkLegacyHealth, planShift, readTraffic, trafficOf } from './plan.ts';
export type { LayerPlan, ShiftBasis, ShiftChange, ShiftPlan } from './plan.ts';

export const TRAFFIC_SHIFT = 'traffic.shift';

export interface ContainRequest {
  incident: Incident;
  service: string;
  legacyPercent: number;
  layers?: readonly TrafficLayer[];
  requester: Actor;
  breakGlass?: string;
}

/**
 * /contain after parsing: reads the layers, plans a move toward legacy, checks legacy health, and posts the
 * approval card. Returns the action, or `null` with the states when every layer is already there.
 */
export async function requestContain(
  deps: Deps,
  req: ContainRequest,
): Promise<{ action: Action<ShiftChange> | null; states: TrafficState[] }> {
  // A read or a plan that fails is on the timeline as "not shifted" before the requester hears of it.
  const orRecord = async <T>(
    work: () => Promise<T> | T,
    summary: (detail: string) => string,
    reason: 'error' | 'would_raise_cloud',
  ): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      const detail = (err as Error).message;
      await recordNotShifted(deps, req.incident.id, req.requester, summary(detail), { reason, detail });
      throw err;
    }
  };
  const states = await orRecord(
    () => readTraffic(deps, req.service, req.layers),
    (detail) => `Could not read ${req.service}'s traffic: ${detail}`,
    'error',
  );
  const first = await orRecord(
    () => planShift(deps, req.service, states, req.legacyPercent, { direction: 'toLegacy' }),
    (detail) => `Shift of ${req.service} refused: ${detail}`,
    'would_raise_cloud',
  );
  if (first.change.layers.length === 0) {
    const text = states
      .map((s) => `${LAYER_NAME[s.layer]} ${describeWeights(weightsOf(s), s.others)}`)
      .join('; ');
    await recordNotShifted(
      deps,
      req.incident.id,
      req.requester,
      `${req.requester.name} asked to shift ${req.service} to legacy ${req.legacyPercent}%: already there (${text})`,
      { reason: 'already_there', detail: text },
    );
    return { action: null, states };
  }
  const { health, blocked } = await checkLegacyHealth(deps, req.service, first.basis.layers);
  if (blocked) {
    const message = `Legacy is not healthy on ${LAYER_NAME[blocked.layer]} (${blocked.detail}), so shifting traffic onto it could make things worse. Nothing was requested. Fix or verify the legacy stack, then run /contain again.`;
    await recordNotShifted(
      deps,
      req.incident.id,
      req.requester,
      `Shift of ${req.service} to legacy blocked: ${blocked.detail}`,
      {
        layer: blocked.layer,
        reason: 'legacy_unhealthy',
        detail: blocked.detail,
      },
    );
    throw new ApprovalError('traffic.legacy-unhealthy', message);
  }
  const plan = planShift(deps, req.service, first.basis.layers, req.legacyPercent, {
    direction: 'toLegacy',
    health,
  });
  const layersText = plan.change.layers.map((l) => LAYER_NAME[l.layer]).join(' then ');
  const action = await deps.approvals.request<ShiftChange>({
    kind: TRAFFIC_SHIFT,
    incident: req.incident,
    step: 'C',
    summary: `Shift ${req.service} to legacy ${req.legacyPercent}% (${layersText})`,
    basis: plan.basis,
    change: plan.change,
    requester: req.requester,
    ...(req.breakGlass !== undefined ? { breakGlass: req.breakGlass } : {}),
  });
  return { action, states };
}

export interface ShiftTrafficRequest {
  service: string;
  incidentId: string;
  legacyPercent: number;
  /** `{ type: 'breaker', id: 'breaker:payments', name: 'breaker' }` for a trip. */
  actor: Actor;
  /** Idempotency key: a second call with the same key sends nothing. */
  opId: string;
  /** Why (goes into the ChangeBatch comment and the timeline). */
  reason: string;
  layers?: readonly TrafficLayer[];
  /** `toLegacy` (default) refuses to lower the legacy share; canary steps pass `any`. */
  direction?: 'toLegacy' | 'any';
  onMilestone?: (m: Milestone) => Promise<void>;
  /** See ExecuteShiftInput.guard. */
  guard?: () => Promise<string | undefined>;
  /** See ExecuteShiftInput.signal. */
  signal?: AbortSignal;
}

/**
 * A shift without a human in the loop (breaker trip, canary step): reads, plans, checks legacy health and executes
 * with the same locks, compare-and-swap, exactly-once key and timeline events as an approved /contain.
 */
export async function shiftTraffic(deps: Deps, req: ShiftTrafficRequest): Promise<ShiftOutcome> {
  const states = await readTraffic(deps, req.service, req.layers);
  const direction = req.direction ?? 'toLegacy';
  let plan: ShiftPlan;
  try {
    plan = planShift(deps, req.service, states, req.legacyPercent, { direction });
  } catch (err) {
    const detail = (err as Error).message;
    await recordNotShifted(deps, req.incidentId, req.actor, `Shift of ${req.service} not done: ${detail}`, {
      op: req.opId,
      reason: 'would_raise_cloud',
      detail,
    });
    return {
      ok: false,
      summary: detail,
      receipts: [],
      stopped: { layer: states[0]?.layer ?? 'route53', reason: 'would_raise_cloud', detail },
      data: { op: req.opId },
    };
  }
  if (plan.change.layers.length === 0) {
    const detail = `already at legacy ${req.legacyPercent}%`;
    await recordNotShifted(deps, req.incidentId, req.actor, `${req.service} ${detail}; nothing to shift`, {
      op: req.opId,
      reason: 'already_there',
      detail,
    });
    return {
      ok: true,
      summary: `${req.service} is ${detail}; nothing was written.`,
      receipts: [],
      data: { op: req.opId, unchanged: true },
    };
  }
  const { health, blocked } = await checkLegacyHealth(deps, req.service, plan.basis.layers);
  if (blocked) {
    await recordNotShifted(
      deps,
      req.incidentId,
      req.actor,
      `Shift of ${req.service} blocked: ${blocked.detail}`,
      {
        op: req.opId,
        layer: blocked.layer,
        reason: 'legacy_unhealthy',
        detail: blocked.detail,
      },
    );
    return {
      ok: false,
      summary: `Legacy is not healthy on ${LAYER_NAME[blocked.layer]} (${blocked.detail}); nothing was written.`,
      receipts: [],
      stopped: { layer: blocked.layer, reason: 'legacy_unhealthy', detail: blocked.detail },
      data: { op: req.opId },
    };
  }
  plan = planShift(deps, req.service, plan.basis.layers, req.legacyPercent, { direction, health });
  return executeShift(deps, {
    opId: req.opId,
    incidentId: req.incidentId,
    actor: req.actor,
    basis: plan.basis,
    change: plan.change,
    comment: `cloud-safety ${req.incidentId} ${req.opId}: ${req.service} legacy ${req.legacyPercent}% by ${req.actor.name}: ${req.reason}`,
    ...(req.onMilestone ? { onMilestone: req.onMilestone } : {}),
    ...(req.guard ? { guard: req.guard } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
  });
}

/**
 * After a restart found a shift `executing`: re-reads each layer (GetChange by the stored change id, and the
 * records) and reports. Never writes. PENDING changes keep being followed by a durable timer.
 */
export async function recheckShift(deps: Deps, opId: string, change: ShiftChange): Promise<ActionResult> {
  const op = await getJson<ShiftOp>(deps.store, opKey(opId));
  const lines: string[] = [];
  let ok = true;
  for (const plan of change.layers) {
    const port = portOf(deps, change.service, plan.layer);
    const receipt = op?.layers[plan.layer]?.receipt;
    const report = await port.recheck(receipt ?? { before: plan.from, after: plan.to });
    const now = `legacy ${report.current.legacy.weight} / cloud ${report.current.cloud.weight}`;
    const name = LAYER_NAME[plan.layer];
    if (report.applied && receipt) {
      if (report.status === 'PENDING') {
        lines.push(
          `${name}: change ${receipt.changeId ?? '?'} was accepted and is still PENDING; the records show ${now} as requested. Polling continues.`,
        );
        await deps.scheduler.at(
          SYNC_QUEUE,
          `${opId}|${plan.layer}`,
          deps.now().getTime() + SYNC_FOLLOW_UP_MS,
        );
      } else {
        lines.push(
          `${name}: ${receipt.changeId ? `change ${receipt.changeId} is INSYNC and ` : ''}the records show ${now} as requested.`,
        );
        await markInSync(deps, opId, plan.layer, { at: deps.now().toISOString(), recovered: true });
      }
    } else if (report.applied) {
      lines.push(
        `${name}: the records show ${now} as requested, but the restart lost the change id, so propagation is not tracked.`,
      );
    } else if (report.untouched) {
      ok = false;
      lines.push(
        `${name}: the change was never applied; the records still show ${now}. Nothing was re-sent: run /contain again if it is still needed.`,
      );
    } else {
      ok = false;
      lines.push(
        `${name}: the records now show ${now}, neither the old nor the requested weights; someone else changed them. Check before acting.`,
      );
    }
  }
  if (op) await saveOp(deps, opId, (o) => ({ ...o, state: ok ? 'succeeded' : 'failed' }));
  return { ok, summary: lines.join(' '), data: { op: opId, rechecked: true } };
}

/** The `traffic.shift` approval handler: /contain's card, execution and restart recheck. */
export function trafficShiftHandler(deps: Deps): ActionHandler<ShiftChange> {
  return {
    kind: TRAFFIC_SHIFT,
    describe: (action) => shiftView(action.change, action.state, action.progress),
    async execute(action, ctx) {
      const lowered = legacyLowered(action.basis as ShiftBasis, action.change);
      if (lowered) {
        return {
          ok: false,
          summary: `Refused: this change would lower legacy on ${lowered.layer} from ${lowered.from}% to ${lowered.to}%, and /contain only moves traffic toward legacy. Nothing was written.`,
        };
      }
      const by = action.breakGlass
        ? `BREAK-GLASS by ${action.requester.name}: ${action.breakGlass.reason}`
        : `requested by ${action.requester.name}, approved by ${ctx.approvers.map((a) => a.name).join(', ') || '?'}`;
      const outcome = await executeShift(deps, {
        opId: action.id,
        actionId: action.id,
        incidentId: action.incident,
        actor: SYSTEM,
        basis: action.basis as ShiftBasis,
        change: action.change,
        comment: `cloud-safety ${action.incident} ${action.id}: ${action.change.service} legacy ${action.change.legacyPercent}% ${by}`,
        ...(action.card ? { card: action.card } : {}),
        ...(action.breakGlass ? { breakGlass: action.breakGlass.reason } : {}),
        signal: ctx.signal,
      });
      return { ok: outcome.ok, summary: outcome.summary, data: outcome.data };
    },
    recheck: (action) => recheckShift(deps, action.id, action.change),
  };
}

/** Registers the approval handler and the durable timers (converge, sync follow-up). Called by the composition root. */
export function registerContain(deps: Deps): void {
  deps.approvals.register(trafficShiftHandler(deps));
  deps.scheduler.handle(CONVERGE_QUEUE, (member) => {
    const [opId = '', layer = ''] = member.split('|');
    return converge(deps, opId, layer as TrafficLayer);
  });
  deps.scheduler.handle(SYNC_QUEUE, (member) => followSync(deps, member));
  deps.scheduler.handle(OBSERVE_QUEUE, (member) => observeLater(deps, member));
}
