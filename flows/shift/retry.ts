// The one shift-with-retry path of automation (breaker trip, canary step and abort): resume after a restart by
// re-reading, never by re-sending; retry what a fresh read can fix; name the layer that really failed.
import { LAYER_ORDER, type TrafficLayer } from '../../src/adapters/traffic.ts';
import type { Deps } from '../../src/deps.ts';
import { ExternalServiceError } from '../../src/errors.ts';
import { TRAFFIC_NOT_SHIFTED, type NotShiftedReason } from '../../src/events.ts';
import {
  readShiftOp,
  recheckShift,
  shiftTraffic,
  trafficOf,
  type ShiftOutcome,
  type ShiftTrafficRequest,
} from '../contain/index.ts';

/**
 * Stops a fresh read and a new try can get past: the records moved, the provider failed, or the outcome of a write
 * is unknown. Every try re-reads and writes with compare-and-swap, so a try after a write that did land finds the
 * weights already there (or refuses), and never writes twice.
 */
const RETRYABLE: readonly NotShiftedReason[] = ['drift', 'error', 'unknown'];

export interface RetriedShiftRequest extends Omit<ShiftTrafficRequest, 'opId'> {
  /** The op id of try `n` (from 1): each try is exactly-once under its own id. */
  opIdOf: (attempt: number) => string;
  /** Tries in all (default 3). */
  attempts?: number;
  /** Tries made before a restart: the last one is rechecked (GetChange and the records), never re-sent blindly. */
  resumeAfter?: number;
  /** Called before each try, e.g. to persist the try number so a restart resumes there. */
  onAttempt?: (attempt: number) => Promise<void>;
}

export interface RetriedShiftOutcome extends ShiftOutcome {
  /** The try the outcome comes from. */
  attempts: number;
}

/** The layer a read failure came from: the service's name on the error, else the first configured layer. */
function failedLayer(deps: Deps, req: RetriedShiftRequest, err: unknown): TrafficLayer {
  const configured = LAYER_ORDER.filter(
    (l) => trafficOf(deps, req.service)[l] !== undefined && (!req.layers || req.layers.includes(l)),
  );
  if (err instanceof ExternalServiceError) {
    const byService: Record<string, TrafficLayer[]> = {
      'Route 53': ['route53'],
      ELB: ['alb'],
      'Route 53 ARC': ['arc'],
      Kubernetes: ['gateway', 'istio'],
      kubernetes: ['gateway', 'istio'],
    };
    const named = (byService[err.service] ?? []).find((l) => configured.includes(l));
    if (named) return named;
  }
  return configured[0] ?? 'route53';
}

/** A try that could not even read the traffic: nothing was written; it goes on the timeline with its real layer. */
async function readFailure(
  deps: Deps,
  req: RetriedShiftRequest,
  opId: string,
  err: unknown,
): Promise<ShiftOutcome> {
  const detail = (err as Error).message;
  const layer = failedLayer(deps, req, err);
  deps.log.warn({ err, service: req.service, op: opId, layer }, 'shift could not read the traffic');
  await deps.incidents.record(req.incidentId, {
    step: 'C',
    kind: TRAFFIC_NOT_SHIFTED,
    actor: req.actor,
    summary: `Shift of ${req.service} not done: could not read the traffic: ${detail}`,
    data: { op: opId, layer, reason: 'error', detail },
  });
  return {
    ok: false,
    summary: detail,
    receipts: [],
    stopped: { layer, reason: 'error', detail },
    data: { op: opId },
  };
}

/**
 * Shifts with the same locks, compare-and-swap and events as an approved /contain, retrying drift, provider errors
 * and unknown outcomes with a fresh read each time, up to `attempts` tries.
 */
export async function shiftWithRetry(deps: Deps, req: RetriedShiftRequest): Promise<RetriedShiftOutcome> {
  const max = req.attempts ?? 3;
  let attempt = req.resumeAfter ?? 0;
  let last: ShiftOutcome | undefined;
  if (attempt > 0) {
    // Resuming after a restart: how far did the last try get?
    const op = await readShiftOp(deps, req.opIdOf(attempt));
    if (op?.state === 'succeeded') {
      return {
        ok: true,
        summary: 'shifted before a restart',
        receipts: [],
        data: { op: op.id },
        attempts: attempt,
      };
    }
    if (op?.state === 'executing') {
      const rechecked = await recheckShift(deps, op.id, op.change);
      last = {
        ok: rechecked.ok,
        summary: `After a restart: ${rechecked.summary}`,
        receipts: [],
        data: { op: op.id, rechecked: true },
      };
      if (rechecked.ok) return { ...last, attempts: attempt };
    } else if (!op) {
      attempt -= 1; // never started executing: run the same try (same id) again
    } else if (op.state === 'failed') {
      last = {
        ok: false,
        summary: `shift ${op.id} already ran and did not shift everything; it is not sent again`,
        receipts: [],
        data: { op: op.id, duplicate: true },
      };
    }
  }
  while (attempt < max) {
    // A lost lease aborts the work: whoever holds the lease now resumes from the stored try.
    req.signal?.throwIfAborted();
    attempt += 1;
    await req.onAttempt?.(attempt);
    const opId = req.opIdOf(attempt);
    try {
      last = await shiftTraffic(deps, { ...req, opId });
    } catch (err) {
      if (req.signal?.aborted) throw err;
      last = await readFailure(deps, req, opId, err);
    }
    if (last.ok || !last.stopped || !RETRYABLE.includes(last.stopped.reason)) break;
  }
  if (!last) {
    return { ok: false, summary: 'no shift attempt was made', receipts: [], data: {}, attempts: attempt };
  }
  return { ...last, attempts: attempt };
}
