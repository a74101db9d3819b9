// Step C, execution: a planned shift written exactly once per op, layer by layer, with compare-and-swap.
import {
  describeDrift,
  describeLayerWeights,
  describeWeights,
  LAYER_NAME,
  TrafficDriftError,
  TrafficRejectedError,
  type ShiftReceipt,
  type SyncResult,
  type TrafficLayer,
} from '../../src/adapters/traffic.ts';
import { crashPoint } from '../../src/crash.ts';
import type { ContainCaps } from './caps.ts';
import { ExternalServiceError } from '../../src/errors.ts';
import {
  TRAFFIC_NOT_SHIFTED,
  TRAFFIC_SUBMITTED,
  type NotShiftedReason,
  type TrafficNotShiftedData,
} from '../../src/events.ts';
import type { MessageRef } from '../../src/incident.ts';
import { UnknownOutcomeError } from '../../src/outcome.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import {
  OBSERVE_AFTER_MS,
  OBSERVE_QUEUE,
  SLOW_SYNC_MS,
  SYNC_FOLLOW_UP_MS,
  SYNC_QUEUE,
  alertSlow,
  markInSync,
} from './insync.ts';
import { withLock } from './lock.ts';
import { type Milestone, OP_TTL_MS, type ShiftOp, announce, eventData, opKey, saveOp } from './ops.ts';
import { type ShiftBasis, type ShiftChange, portOf } from './plan.ts';

export interface ShiftOutcome {
  ok: boolean;
  summary: string;
  receipts: ShiftReceipt[];
  /** Why nothing (more) was written, when that happened. */
  stopped?: { layer: TrafficLayer; reason: NotShiftedReason; detail: string };
  data: Record<string, unknown>;
}

export interface ExecuteShiftInput {
  /** Unique per shift: the action id for /contain, the caller's idempotency key for automation. */
  opId: string;
  incidentId: string;
  /** Who performs the write, for the timeline: SYSTEM after approval, `{ type: 'breaker', … }` for a trip. */
  actor: Actor;
  basis: ShiftBasis;
  change: ShiftChange;
  /** Route 53's ChangeBatch comment (at most 256 characters are sent). */
  comment: string;
  /** The approval action whose card shows the milestones. */
  actionId?: string;
  /** Where "still not in sync after 120 s" is posted (in the thread of this message). */
  card?: MessageRef;
  /** Called with every milestone as it happens, in this process. */
  onMilestone?: (m: Milestone) => Promise<void>;
  /**
   * Asked under the layer's lock right before each write: a reason stops the shift there (`cancelled`). A canary
   * step uses it so nothing raises the cloud share after the breaker tripped or the canary was paused.
   */
  guard?: () => Promise<string | undefined>;
  /** The caller's lease: once it is lost nothing more is written. */
  signal?: AbortSignal;
  /** The break-glass reason of an approval executed without a second approver (ARC may then override rules). */
  breakGlass?: string;
}
export async function recordNotShifted(
  deps: ContainCaps,
  incidentId: string,
  actor: Actor,
  summary: string,
  data: TrafficNotShiftedData,
): Promise<void> {
  await deps.incidents.record(incidentId, {
    step: 'C',
    kind: TRAFFIC_NOT_SHIFTED,
    actor,
    summary,
    data: { ...data },
  });
}
function stopDetail(err: unknown): { reason: NotShiftedReason; detail: string } {
  if (err instanceof UnknownOutcomeError) return { reason: 'unknown', detail: err.message };
  if (err instanceof TrafficDriftError) return { reason: 'drift', detail: err.message };
  if (err instanceof TrafficRejectedError)
    return {
      reason: 'rejected',
      detail: `${LAYER_NAME[err.layer]} rejected the change (${err.providerCode}): ${err.message}`,
    };
  return { reason: 'error', detail: (err as Error).message };
}

/**
 * Executes a planned shift exactly once per `opId`: for each layer (DNS first) it takes the per-zone/listener lock,
 * re-reads, refuses if anything moved since `basis` or legacy turned unhealthy, writes with compare-and-swap,
 * records `traffic.submitted`; then waits for INSYNC (`traffic.in_sync`, alerting after 120 s) and schedules
 * `traffic.converged`. Never throws for provider trouble: the outcome says what happened.
 */
export async function executeShift(deps: ContainCaps, input: ExecuteShiftInput): Promise<ShiftOutcome> {
  const { change, basis } = input;
  const op: ShiftOp = {
    id: input.opId,
    service: change.service,
    incident: input.incidentId,
    ...(input.actionId ? { actionId: input.actionId } : {}),
    ...(input.card ? { card: input.card } : {}),
    actor: input.actor,
    legacyPercent: change.legacyPercent,
    startedAt: deps.now().toISOString(),
    state: 'executing',
    layers: Object.fromEntries(change.layers.map((plan) => [plan.layer, { plan }])),
  };
  if (!(await deps.store.set(opKey(op.id), JSON.stringify(op), { ifAbsent: true, ttlMs: OP_TTL_MS }))) {
    return {
      ok: false,
      summary: `Shift ${op.id} was already executed; nothing was sent again.`,
      receipts: [],
      data: { op: op.id, duplicate: true },
    };
  }
  const receipts: ShiftReceipt[] = [];
  let stopped: ShiftOutcome['stopped'];
  for (const plan of change.layers) {
    const port = portOf(deps, change.service, plan.layer);
    const expected = basis.layers.find((s) => s.layer === plan.layer);
    if (!expected) throw new Error(`basis has no ${plan.layer} state`);
    try {
      const receipt = await withLock(deps, port.lockKey, `${deps.instanceId}:${op.id}`, async (lock) => {
        // Legacy's health is asked for beside the read, of the state the request saw: it is only used when the
        // read finds that same state (same fingerprint), so it is the answer the read's state would have got.
        const healthOfExpected = port.checkLegacyHealth(expected);
        healthOfExpected.catch(() => undefined); // awaited below only when nothing moved
        const current = await port.read();
        if (current.fingerprint !== expected.fingerprint) {
          const what = describeDrift(expected, current).join('; ');
          throw new TrafficDriftError(
            plan.layer,
            `${LAYER_NAME[plan.layer]} changed since the request was made (${what})`,
          );
        }
        const health = await healthOfExpected;
        if (health.status === 'unhealthy') {
          stopped = { layer: plan.layer, reason: 'legacy_unhealthy', detail: health.detail };
          return null;
        }
        const refusal = input.guard ? await input.guard() : undefined;
        if (refusal) {
          stopped = { layer: plan.layer, reason: 'cancelled', detail: refusal };
          return null;
        }
        // Last moment to notice a lost lease (this lock's, or the approval's): nothing is written after it.
        input.signal?.throwIfAborted();
        lock.check();
        crashPoint('contain.before-write');
        return port.shift(expected, plan.to, {
          comment: input.comment,
          ...(input.breakGlass !== undefined ? { breakGlass: input.breakGlass } : {}),
        });
      });
      crashPoint('contain.written');
      if (!receipt) break;
      receipts.push(receipt);
      const saved = await saveOp(deps, op.id, (o) => ({
        ...o,
        layers: { ...o.layers, [plan.layer]: { plan, receipt } },
      }));
      const move = `${describeLayerWeights(plan.layer, plan.from)} -> ${describeLayerWeights(plan.layer, plan.to)}`;
      const text = receipt.observed
        ? `${LAYER_NAME[plan.layer]} shifted (${move}), seen by reading back: ${receipt.observed}`
        : plan.layer === 'route53'
          ? `Route 53 accepted change ${receipt.changeId ?? '?'} (${receipt.status}): ${move}${receipt.attempts > 1 ? ` after ${receipt.attempts} tries` : ''}`
          : `${LAYER_NAME[plan.layer]} updated: ${move}${receipt.endpoint && receipt.endpoint.failed.length > 0 ? ` (through ${receipt.endpoint.used} after ${receipt.endpoint.failed.join('; ')})` : ''}${receipt.overrode ? `; BREAK-GLASS overrode safety rules ${receipt.overrode.join(', ')}` : ''}`;
      await deps.incidents.record(op.incident, {
        step: 'C',
        kind: TRAFFIC_SUBMITTED,
        actor: input.actor,
        summary: text,
        data: {
          ...eventData(op, plan, { ...(receipt.changeId ? { changeId: receipt.changeId } : {}) }),
          ...(receipt.observed ? { observed: receipt.observed } : {}),
        },
      });
      await announce(
        deps,
        saved ?? op,
        {
          layer: plan.layer,
          phase: 'submitted',
          text,
          at: receipt.submittedAt,
          ...(receipt.changeId ? { changeId: receipt.changeId } : {}),
        },
        input.onMilestone,
      );
      crashPoint('contain.submitted');
    } catch (err) {
      let detail = stopDetail(err);
      if (err instanceof TrafficDriftError && err.providerMessage) {
        // Route 53 refused the DELETE: say what is there now, so people see what moved.
        try {
          const now = await port.read();
          detail = {
            reason: 'drift',
            detail: `${err.message}. Now: ${describeDrift(expected, now).join('; ') || 'no visible difference'}`,
          };
        } catch (readErr) {
          deps.log.warn({ err: readErr, op: op.id }, 'could not re-read after a rejected change');
        }
      }
      if (!(
        err instanceof TrafficDriftError ||
        err instanceof TrafficRejectedError ||
        err instanceof ExternalServiceError
      )) {
        deps.log.error({ err, op: op.id, layer: plan.layer }, 'traffic shift failed');
      }
      stopped = { layer: plan.layer, ...detail };
      break;
    }
  }
  if (stopped?.reason === 'unknown') {
    await deps.scheduler.at(
      OBSERVE_QUEUE,
      `${op.id}|${stopped.layer}|${deps.now().getTime()}`,
      deps.now().getTime() + OBSERVE_AFTER_MS,
    );
  }
  if (stopped) {
    await recordNotShifted(
      deps,
      op.incident,
      SYSTEM,
      stopped.reason === 'unknown'
        ? `${LAYER_NAME[stopped.layer]}: outcome of the shift UNKNOWN: ${stopped.detail}`
        : `${LAYER_NAME[stopped.layer]} not shifted: ${stopped.detail}`,
      {
        op: op.id,
        ...(op.actionId ? { action: op.actionId } : {}),
        layer: stopped.layer,
        reason: stopped.reason,
        detail: stopped.detail,
      },
    );
  }

  const lines: string[] = [];
  for (const receipt of receipts) {
    const port = portOf(deps, change.service, receipt.layer);
    const plan = change.layers.find((l) => l.layer === receipt.layer);
    if (!plan) continue;
    if (receipt.layer === 'route53' && !receipt.changeId) {
      // Written (the records say so) but the change id was lost: there is nothing to poll, and INSYNC is not assumed.
      lines.push(
        `Route 53: ${describeWeights(plan.from)} -> ${describeWeights(plan.to)} written (${receipt.observed ?? 'no change id returned'}). Propagation cannot be followed; Route 53 is usually in sync within 60 s.`,
      );
      continue;
    }
    let result: SyncResult;
    try {
      result = await port.waitInSync(receipt, {
        onProgress: async (p) => {
          if (p.status !== 'INSYNC' && p.elapsedMs >= SLOW_SYNC_MS)
            await alertSlow(deps, op.id, receipt.layer, p.elapsedMs);
        },
      });
    } catch (err) {
      // The write happened; only watching it failed. A durable timer keeps polling.
      deps.log.warn(
        { err, op: op.id, layer: receipt.layer },
        'could not poll the change; following up later',
      );
      await deps.scheduler.at(
        SYNC_QUEUE,
        `${op.id}|${receipt.layer}`,
        deps.now().getTime() + SYNC_FOLLOW_UP_MS,
      );
      lines.push(
        `${LAYER_NAME[receipt.layer]}: ${describeWeights(plan.from)} -> ${describeWeights(plan.to)} written (change ${receipt.changeId ?? '?'}), but polling it failed (${(err as Error).message}); the bot keeps following it and will post "DNS in sync" here.`,
      );
      continue;
    }
    if (result.status === 'INSYNC') {
      const convergeAt = await markInSync(
        deps,
        op.id,
        receipt.layer,
        { at: result.at, elapsedMs: result.elapsedMs },
        input.onMilestone,
      );
      lines.push(
        receipt.layer === 'route53'
          ? `Route 53: ${describeWeights(plan.from)} -> ${describeWeights(plan.to)}; change ${receipt.changeId ?? '?'} INSYNC after ${Math.round(result.elapsedMs / 1000)} s; clients converge by ${convergeAt?.slice(11, 19) ?? '?'}Z (${plan.convergence.basis}).`
          : `${LAYER_NAME[receipt.layer]}: ${describeLayerWeights(plan.layer, plan.from, true)} -> ${describeLayerWeights(plan.layer, plan.to, true)}, effective now${plan.convergence.seconds > 0 ? `; clients follow by ${convergeAt?.slice(11, 19) ?? '?'}Z (${plan.convergence.basis})` : ''}.`,
      );
    } else {
      await deps.scheduler.at(
        SYNC_QUEUE,
        `${op.id}|${receipt.layer}`,
        deps.now().getTime() + SYNC_FOLLOW_UP_MS,
      );
      lines.push(
        `Route 53 accepted change ${receipt.changeId ?? '?'} but it is still PENDING after ${Math.round(result.elapsedMs / 1000)} s; the bot keeps polling and will post "DNS in sync" here.`,
      );
    }
  }
  // Succeeded means every write landed; propagation still pending is followed and reported on its own.
  const ok = !stopped;
  if (stopped) {
    lines.unshift(
      stopped.reason === 'unknown'
        ? `${LAYER_NAME[stopped.layer]}: the outcome of the write is UNKNOWN: ${stopped.detail}${receipts.length > 0 ? ' The layers above were shifted.' : ''}`
        : receipts.length === 0
          ? `Nothing was written: ${stopped.detail}. Run /contain again to see the current weights.`
          : `${LAYER_NAME[stopped.layer]} was NOT shifted: ${stopped.detail}. The layers above were shifted.`,
    );
  }
  await saveOp(deps, op.id, (o) => ({ ...o, state: ok ? 'succeeded' : 'failed' }));
  return {
    ok,
    summary: lines.join(' '),
    receipts,
    ...(stopped ? { stopped } : {}),
    data: {
      op: op.id,
      receipts: receipts.map((r) => ({
        layer: r.layer,
        changeId: r.changeId,
        before: r.before,
        after: r.after,
        status: r.status,
      })),
      ...(stopped ? { stopped } : {}),
    },
  };
}
