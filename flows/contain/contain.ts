// Step C: shift a service's weighted traffic to a legacy share: planned, health-checked, compare-and-swap, followed live.
import {
  describeDrift,
  describeWeights,
  LAYER_NAME,
  LAYER_ORDER,
  splitOf,
  TrafficDriftError,
  TrafficRejectedError,
  weightsForPercent,
  weightsOf,
  type HealthReport,
  type ServiceTraffic,
  type ShiftReceipt,
  type Split,
  type SyncResult,
  type TrafficLayer,
  type TrafficPort,
  type TrafficState,
  type Weights,
} from '../../src/adapters/traffic.ts';
import type { Action, ActionResult } from '../../src/actions.ts';
import { shiftView, slowSyncMessage } from './blocks.ts';
import { crashPoint } from '../../src/crash.ts';
import { legacyLowered } from './direction.ts';
import type { Deps } from '../../src/deps.ts';
import { ApprovalError, ExternalServiceError, UsageError } from '../../src/errors.ts';
import {
  TRAFFIC_CONVERGED,
  TRAFFIC_IN_SYNC,
  TRAFFIC_NOT_SHIFTED,
  TRAFFIC_SUBMITTED,
  TRAFFIC_SYNC_SLOW,
  type NotShiftedReason,
  type TrafficEventData,
  type TrafficNotShiftedData,
} from '../../src/events.ts';
import type { Incident, MessageRef } from '../../src/incident.ts';
import { withLease, type Lease } from '../../src/lease.ts';
import { UnknownOutcomeError } from '../../src/outcome.ts';
import { getJson, updateJson } from '../../src/store/store.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import type { ActionHandler } from '../approval/approval.ts';

export const TRAFFIC_SHIFT = 'traffic.shift';

const CONVERGE_QUEUE = 'traffic-converge';
const SYNC_QUEUE = 'traffic-sync';
/** Re-reads a layer whose write had an unknown outcome, until reality can be read (durable timer). */
const OBSERVE_QUEUE = 'traffic-observe';
const OBSERVE_AFTER_MS = 30_000;
const OBSERVE_GIVE_UP_MS = 60 * 60_000;
/** Route 53 is usually INSYNC within 60 s; after this long the thread hears about it. */
export const SLOW_SYNC_MS = 120_000;
const SYNC_FOLLOW_UP_MS = 5000;
const SYNC_GIVE_UP_MS = 60 * 60_000;
const LOCK_TTL_MS = 60_000;
const LOCK_WAIT_MS = 30_000;
const OP_TTL_MS = 30 * 24 * 3_600_000;

/** What one layer will do, as shown on the card and bound into the approval hash. */
export interface LayerPlan {
  layer: TrafficLayer;
  resource: string;
  from: Weights;
  to: Weights;
  fromSplit: Split;
  toSplit: Split;
  ttl?: number;
  maxTtl?: number;
  convergence: { seconds: number; basis: string };
  /** Legacy health when the shift was planned. */
  health: HealthReport;
  warnings: string[];
}

/** The change of a `traffic.shift` action (and of any automated shift). */
export interface ShiftChange {
  service: string;
  legacyPercent: number;
  /** In execution order: Route 53 first, then the ALB. */
  layers: LayerPlan[];
}

/** What the shift is based on: each layer's state as read. Execution refuses when a fingerprint moved. */
export interface ShiftBasis {
  layers: TrafficState[];
}

export interface ShiftPlan {
  basis: ShiftBasis;
  change: ShiftChange;
  /** Layers already at the asked share: left alone. */
  unchanged: TrafficState[];
}

export interface Milestone {
  layer: TrafficLayer;
  phase: 'submitted' | 'in_sync' | 'sync_slow' | 'converged';
  text: string;
  at: string;
  changeId?: string;
  /** in_sync: when clients will have converged. */
  convergeAt?: string;
}

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
}

interface LayerRecord {
  plan: LayerPlan;
  receipt?: ShiftReceipt;
  inSyncAt?: string;
  convergeAt?: string;
  convergedAt?: string;
  slowAlerted?: boolean;
}

/** What the store keeps of a shift, so restarts and timers can finish its story. */
interface ShiftOp {
  id: string;
  service: string;
  incident: string;
  actionId?: string;
  card?: MessageRef;
  actor: Actor;
  legacyPercent: number;
  startedAt: string;
  state: 'executing' | 'succeeded' | 'failed';
  layers: Partial<Record<TrafficLayer, LayerRecord>>;
}

const opKey = (id: string) => `traffic:op:${id}`;

/** Where a shift got to, for callers that recover their own shifts after a restart (breaker, canary). */
export interface ShiftOpView {
  id: string;
  state: 'executing' | 'succeeded' | 'failed';
  incident: string;
  change: ShiftChange;
  /** Layers whose write was accepted. */
  written: TrafficLayer[];
}

/** The stored record of shift `opId`, or null when it never started executing (nothing was written). */
export async function readShiftOp(deps: Deps, opId: string): Promise<ShiftOpView | null> {
  const op = await getJson<ShiftOp>(deps.store, opKey(opId));
  if (!op) return null;
  const layers = LAYER_ORDER.map((l) => op.layers[l]).filter((l): l is LayerRecord => l !== undefined);
  return {
    id: op.id,
    state: op.state,
    incident: op.incident,
    change: { service: op.service, legacyPercent: op.legacyPercent, layers: layers.map((l) => l.plan) },
    written: layers.filter((l) => l.receipt).map((l) => l.plan.layer),
  };
}

/** The configured layers of a service, or a usage error naming the config to add. */
export function trafficOf(deps: Deps, service: string, usage?: string): ServiceTraffic {
  const traffic = deps.adapters.traffic?.[service];
  if (!traffic || LAYER_ORDER.every((l) => traffic[l] === undefined)) {
    throw new UsageError(
      `${service} has no traffic configured, so there is nothing to shift. Add services.${service}.traffic.route53 (or .alb) to cloud-safety.yml; docs/contain.md has an example.`,
      usage,
    );
  }
  return traffic;
}

function portOf(deps: Deps, service: string, layer: TrafficLayer): TrafficPort {
  const port = trafficOf(deps, service)[layer];
  if (!port) throw new Error(`${service} has no ${layer} traffic adapter`);
  return port;
}

/** Reads every asked layer (all configured ones by default), DNS first. */
export async function readTraffic(
  deps: Deps,
  service: string,
  layers?: readonly TrafficLayer[],
): Promise<TrafficState[]> {
  const traffic = trafficOf(deps, service);
  const wanted = LAYER_ORDER.filter((l) => traffic[l] && (!layers || layers.includes(l)));
  const states: TrafficState[] = [];
  for (const layer of wanted) {
    const port = traffic[layer];
    if (port) states.push(await port.read());
  }
  return states;
}

function seconds(n: number): string {
  if (n < 120) return `${n} s`;
  if (n < 7200) return `${Math.round(n / 60)} min`;
  return `${Math.round(n / 360) / 10} h`;
}

/**
 * Plans a shift to `legacyPercent` for each state (pure). `toLegacy` refuses any layer whose legacy share would
 * drop (what /contain and the breaker may do); `any` allows both directions (canary).
 */
export function planShift(
  deps: Pick<Deps, 'config'>,
  service: string,
  states: TrafficState[],
  legacyPercent: number,
  opts: { direction: 'toLegacy' | 'any'; health?: Partial<Record<TrafficLayer, HealthReport>> },
): ShiftPlan {
  const route53Config = deps.config.services[service]?.traffic?.route53;
  const to = weightsForPercent(legacyPercent);
  const layers: LayerPlan[] = [];
  const basis: TrafficState[] = [];
  const unchanged: TrafficState[] = [];
  const albToo = states.some((s) => s.layer === 'alb');
  const albConfigured = deps.config.services[service]?.traffic?.alb !== undefined;
  const albHint = albToo
    ? ' The ALB layer below is shifted too and takes effect at once.'
    : albConfigured
      ? ' traffic.alb is configured: /contain layer=alb moves traffic at the load balancer at once, whatever resolvers cache.'
      : ' Configure traffic.alb (a weighted forward on the load balancer) to move traffic at once, whatever resolvers cache.';
  for (const state of states) {
    const from = weightsOf(state);
    const fromSplit = splitOf(from, state.others);
    const toSplit = splitOf(to, state.others);
    if (fromSplit.legacy === toSplit.legacy && fromSplit.cloud === toSplit.cloud) {
      unchanged.push(state);
      continue;
    }
    if (opts.direction === 'toLegacy' && toSplit.legacy < fromSplit.legacy) {
      throw new UsageError(
        `${LAYER_NAME[state.layer]} already sends ${fromSplit.legacy}% to legacy; legacy=${legacyPercent} would move traffic back to the cloud stack. /contain only moves traffic toward legacy; use /canary to ramp the cloud share up.`,
      );
    }
    const maxTtl = state.layer === 'route53' ? (route53Config?.maxTtl ?? 60) : undefined;
    const warnings: string[] = [];
    if (maxTtl !== undefined && state.convergence.seconds > maxTtl) {
      warnings.push(
        `TTL ${state.ttl !== undefined ? `${state.ttl} s` : `~${state.convergence.seconds} s (alias)`} is above maxTtl ${maxTtl} s: resolvers may keep sending clients to the cloud stack for up to ${seconds(state.convergence.seconds)} after Route 53 is in sync.${albHint}`,
      );
    }
    if (state.layer === 'route53' && state.healthChecks) {
      warnings.push(
        'Health checks are attached to these records, so weight 0 is not "off": if every record with a weight above 0 turns unhealthy, Route 53 answers with the weight-0 records (the cloud stack) again.',
      );
    }
    const weighted = state.others.filter((o) => o.weight > 0);
    if (weighted.length > 0) {
      warnings.push(
        `${weighted.map((o) => `${o.target} (weight ${o.weight})`).join(', ')} also carry weight in this group and are not managed here: legacy gets ${toSplit.legacy}%, not ${legacyPercent}%.`,
      );
    }
    const health = opts.health?.[state.layer] ?? { status: 'unchecked', detail: 'not checked' };
    if (health.status === 'unknown') warnings.push(`Legacy health unknown: ${health.detail}.`);
    layers.push({
      layer: state.layer,
      resource: state.resource,
      from,
      to,
      fromSplit,
      toSplit,
      ...(state.ttl !== undefined ? { ttl: state.ttl } : {}),
      ...(maxTtl !== undefined ? { maxTtl } : {}),
      convergence: state.convergence,
      health,
      warnings,
    });
    basis.push(state);
  }
  return { basis: { layers: basis }, change: { service, legacyPercent, layers }, unchanged };
}

/** Legacy health of each state; the first unhealthy one is returned as `blocked`. */
export async function checkLegacyHealth(
  deps: Deps,
  service: string,
  states: TrafficState[],
): Promise<{
  health: Partial<Record<TrafficLayer, HealthReport>>;
  blocked?: { layer: TrafficLayer; detail: string };
}> {
  const health: Partial<Record<TrafficLayer, HealthReport>> = {};
  for (const state of states) {
    const report = await portOf(deps, service, state.layer).checkLegacyHealth(state);
    health[state.layer] = report;
    if (report.status === 'unhealthy')
      return { health, blocked: { layer: state.layer, detail: report.detail } };
  }
  return { health };
}

async function recordNotShifted(
  deps: Deps,
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
  let states: TrafficState[];
  try {
    states = await readTraffic(deps, req.service, req.layers);
  } catch (err) {
    const detail = (err as Error).message;
    await recordNotShifted(
      deps,
      req.incident.id,
      req.requester,
      `Could not read ${req.service}'s traffic: ${detail}`,
      {
        reason: 'error',
        detail,
      },
    );
    throw err;
  }
  let plan: ShiftPlan;
  try {
    plan = planShift(deps, req.service, states, req.legacyPercent, { direction: 'toLegacy' });
  } catch (err) {
    const detail = (err as Error).message;
    await recordNotShifted(
      deps,
      req.incident.id,
      req.requester,
      `Shift of ${req.service} refused: ${detail}`,
      {
        reason: 'would_raise_cloud',
        detail,
      },
    );
    throw err;
  }
  if (plan.change.layers.length === 0) {
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
  const { health, blocked } = await checkLegacyHealth(deps, req.service, plan.basis.layers);
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
  plan = planShift(deps, req.service, plan.basis.layers, req.legacyPercent, {
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

/** Runs `fn` holding the traffic lease for `key` (one writer per zone or listener); waits up to 30 s for it. */
async function withLock<T>(
  deps: Deps,
  key: string,
  owner: string,
  fn: (lease: Lease) => Promise<T>,
): Promise<T> {
  const outcome = await withLease(
    deps.store,
    `lock:traffic:${key}`,
    {
      owner,
      ttlMs: LOCK_TTL_MS,
      waitMs: LOCK_WAIT_MS,
      onLost: (reason) => deps.log.error({ key, reason }, 'lost the traffic lock'),
    },
    fn,
  );
  if (!outcome.held) {
    throw new ExternalServiceError(
      'cloud-safety',
      `another traffic change to ${key} has been in progress for over ${LOCK_WAIT_MS / 1000} s; nothing was written. Wait for it, then run the command again.`,
    );
  }
  return outcome.value;
}

function eventData(
  op: ShiftOp,
  plan: LayerPlan,
  extra: Partial<TrafficEventData> = {},
): Record<string, unknown> {
  const data: TrafficEventData = {
    ...(op.actionId ? { action: op.actionId } : {}),
    op: op.id,
    layer: plan.layer,
    before: plan.fromSplit,
    after: plan.toSplit,
    weights: { before: plan.from, after: plan.to },
    resource: plan.resource,
    ...(plan.ttl !== undefined ? { ttl: plan.ttl } : {}),
    ...(plan.maxTtl !== undefined ? { maxTtl: plan.maxTtl } : {}),
    ...extra,
  };
  return { ...data };
}

async function saveOp(deps: Deps, id: string, change: (op: ShiftOp) => ShiftOp): Promise<ShiftOp | null> {
  return updateJson<ShiftOp>(deps.store, opKey(id), (current) => (current ? change(current) : undefined));
}

async function announce(
  deps: Deps,
  op: ShiftOp,
  m: Milestone,
  onMilestone?: (m: Milestone) => Promise<void>,
) {
  if (op.actionId) await deps.approvals.annotate(op.actionId, m.text, { traffic: m });
  if (onMilestone) await onMilestone(m);
}

/** Records INSYNC, then converged now (no caching) or by a durable timer TTL seconds later. */
async function markInSync(
  deps: Deps,
  opId: string,
  layer: TrafficLayer,
  sync: { at: string; elapsedMs?: number; recovered?: boolean },
  onMilestone?: (m: Milestone) => Promise<void>,
): Promise<string | undefined> {
  const op = await getJson<ShiftOp>(deps.store, opKey(opId));
  const entry = op?.layers[layer];
  if (!op || !entry || entry.inSyncAt) return entry?.convergeAt;
  const { plan, receipt } = entry;
  const convergeAt = new Date(Date.parse(sync.at) + plan.convergence.seconds * 1000).toISOString();
  const after = `${Math.round((sync.elapsedMs ?? 0) / 1000)} s`;
  const text =
    layer === 'route53'
      ? `DNS in sync: Route 53 change ${receipt?.changeId ?? '(id unknown)'} is INSYNC${sync.elapsedMs !== undefined ? ` after ${after}` : ''}`
      : `ALB weights applied: legacy ${plan.to.legacy} / cloud ${plan.to.cloud}`;
  await deps.incidents.record(op.incident, {
    step: 'C',
    kind: TRAFFIC_IN_SYNC,
    actor: SYSTEM,
    summary: `${text}${sync.recovered ? ' (seen after a restart)' : ''}`,
    data: eventData(op, plan, {
      ...(receipt?.changeId ? { changeId: receipt.changeId } : {}),
      ...(sync.elapsedMs !== undefined ? { elapsedMs: sync.elapsedMs } : {}),
      convergeSeconds: plan.convergence.seconds,
      convergeBasis: plan.convergence.basis,
      ...(sync.recovered ? { recovered: true } : {}),
    }),
  });
  const saved = await saveOp(deps, opId, (o) => ({
    ...o,
    layers: { ...o.layers, [layer]: { ...entry, inSyncAt: sync.at, convergeAt } },
  }));
  await announce(
    deps,
    saved ?? op,
    {
      layer,
      phase: 'in_sync',
      text,
      at: sync.at,
      convergeAt,
      ...(receipt?.changeId ? { changeId: receipt.changeId } : {}),
    },
    onMilestone,
  );
  if (plan.convergence.seconds === 0) await converge(deps, opId, layer, onMilestone);
  else await deps.scheduler.at(CONVERGE_QUEUE, `${opId}|${layer}`, Date.parse(convergeAt));
  return convergeAt;
}

/** Clients converged: the TTL (or stickiness) since INSYNC has passed. Runs from the durable timer. */
async function converge(
  deps: Deps,
  opId: string,
  layer: TrafficLayer,
  onMilestone?: (m: Milestone) => Promise<void>,
): Promise<void> {
  const op = await getJson<ShiftOp>(deps.store, opKey(opId));
  const entry = op?.layers[layer];
  if (!op || !entry || entry.convergedAt || !entry.inSyncAt) return;
  const at = deps.now().toISOString();
  const { plan } = entry;
  const text =
    plan.convergence.seconds > 0
      ? `Clients converged on ${LAYER_NAME[layer]}: ${seconds(plan.convergence.seconds)} since in sync (${plan.convergence.basis})`
      : `Clients converged on ${LAYER_NAME[layer]}: ${plan.convergence.basis}`;
  await deps.incidents.record(op.incident, {
    step: 'C',
    kind: TRAFFIC_CONVERGED,
    actor: SYSTEM,
    summary: text,
    data: eventData(op, plan, {
      convergeSeconds: plan.convergence.seconds,
      convergeBasis: plan.convergence.basis,
      ...(entry.receipt?.changeId ? { changeId: entry.receipt.changeId } : {}),
    }),
  });
  const saved = await saveOp(deps, opId, (o) => ({
    ...o,
    layers: { ...o.layers, [layer]: { ...entry, convergedAt: at } },
  }));
  await announce(deps, saved ?? op, { layer, phase: 'converged', text, at }, onMilestone);
}

async function alertSlow(deps: Deps, opId: string, layer: TrafficLayer, elapsedMs: number): Promise<void> {
  let first = false;
  const op = await saveOp(deps, opId, (o) => {
    const entry = o.layers[layer];
    first = Boolean(entry && !entry.slowAlerted);
    return entry && !entry.slowAlerted
      ? { ...o, layers: { ...o.layers, [layer]: { ...entry, slowAlerted: true } } }
      : o;
  });
  const entry = op?.layers[layer];
  if (!first || !op || !entry) return;
  const changeId = entry.receipt?.changeId ?? '?';
  const text = `Route 53 change ${changeId} is still PENDING after ${Math.round(elapsedMs / 1000)} s (usually INSYNC within 60 s). The weights are written; the bot keeps polling.`;
  await deps.incidents.record(op.incident, {
    step: 'C',
    kind: TRAFFIC_SYNC_SLOW,
    actor: SYSTEM,
    summary: text,
    data: eventData(op, entry.plan, { changeId, elapsedMs }),
  });
  await announce(deps, op, { layer, phase: 'sync_slow', text, at: deps.now().toISOString(), changeId });
  if (op.card) {
    try {
      await deps.chat.post(op.card.channel, slowSyncMessage(text, changeId), { threadTs: op.card.ts });
    } catch (err) {
      deps.log.warn({ err, op: opId }, 'could not post the slow-sync alert');
    }
  }
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
export async function executeShift(deps: Deps, input: ExecuteShiftInput): Promise<ShiftOutcome> {
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
        const current = await port.read();
        if (current.fingerprint !== expected.fingerprint) {
          const what = describeDrift(expected, current).join('; ');
          throw new TrafficDriftError(
            plan.layer,
            `${LAYER_NAME[plan.layer]} changed since the request was made (${what})`,
          );
        }
        const health = await port.checkLegacyHealth(current);
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
        return port.shift(expected, plan.to, { comment: input.comment });
      });
      crashPoint('contain.written');
      if (!receipt) break;
      receipts.push(receipt);
      const saved = await saveOp(deps, op.id, (o) => ({
        ...o,
        layers: { ...o.layers, [plan.layer]: { plan, receipt } },
      }));
      const move = `legacy ${plan.from.legacy} / cloud ${plan.from.cloud} -> legacy ${plan.to.legacy} / cloud ${plan.to.cloud}`;
      const text = receipt.observed
        ? `${LAYER_NAME[plan.layer]} shifted (${move}), seen by reading back: ${receipt.observed}`
        : plan.layer === 'route53'
          ? `Route 53 accepted change ${receipt.changeId ?? '?'} (${receipt.status}): ${move}${receipt.attempts > 1 ? ` after ${receipt.attempts} tries` : ''}`
          : `ALB forward updated: ${move}`;
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
          : `ALB: ${describeWeights(plan.from)} -> ${describeWeights(plan.to)}, effective now${plan.convergence.seconds > 0 ? `; sticky clients follow by ${convergeAt?.slice(11, 19) ?? '?'}Z` : ''}.`,
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

/** Durable follow-up for a change still PENDING (after a restart or a very slow propagation). */
async function followSync(deps: Deps, member: string): Promise<void> {
  const [opId = '', layerText = ''] = member.split('|');
  const layer = layerText as TrafficLayer;
  const op = await getJson<ShiftOp>(deps.store, opKey(opId));
  const entry = op?.layers[layer];
  if (!op || !entry?.receipt || entry.inSyncAt) return;
  const port = portOf(deps, op.service, layer);
  const elapsedMs = deps.now().getTime() - Date.parse(entry.receipt.submittedAt);
  let status: 'PENDING' | 'INSYNC';
  try {
    status = await port.syncStatus(entry.receipt);
  } catch (err) {
    deps.log.warn({ err, op: opId, layer }, 'could not poll the change; will retry');
    status = 'PENDING';
  }
  if (status === 'INSYNC') {
    await markInSync(deps, opId, layer, { at: deps.now().toISOString(), elapsedMs });
    return;
  }
  if (elapsedMs >= SLOW_SYNC_MS) await alertSlow(deps, opId, layer, elapsedMs);
  if (elapsedMs < SYNC_GIVE_UP_MS)
    await deps.scheduler.at(SYNC_QUEUE, member, deps.now().getTime() + SYNC_FOLLOW_UP_MS);
}

/**
 * Durable follow-up of a write whose outcome was unknown: reads the layer again and says on the timeline (and the
 * card) what is there, until the read succeeds or an hour has passed. Never writes.
 */
async function observeLater(deps: Deps, member: string): Promise<void> {
  const [opId = '', layerText = '', sinceText = '0'] = member.split('|');
  const layer = layerText as TrafficLayer;
  const op = await getJson<ShiftOp>(deps.store, opKey(opId));
  const entry = op?.layers[layer];
  if (!op || !entry) return;
  const { plan } = entry;
  let current: TrafficState;
  try {
    current = await portOf(deps, op.service, layer).read();
  } catch (err) {
    deps.log.warn({ err, op: opId, layer }, 'still cannot read the layer after an unknown outcome');
    if (deps.now().getTime() - Number(sinceText) < OBSERVE_GIVE_UP_MS)
      await deps.scheduler.at(OBSERVE_QUEUE, member, deps.now().getTime() + OBSERVE_AFTER_MS);
    return;
  }
  const now = `legacy ${current.legacy.weight} / cloud ${current.cloud.weight}`;
  const applied = current.legacy.weight === plan.to.legacy && current.cloud.weight === plan.to.cloud;
  const untouched = current.legacy.weight === plan.from.legacy && current.cloud.weight === plan.from.cloud;
  const text = applied
    ? `${LAYER_NAME[layer]} read again after the unknown outcome: it shows ${now}, so the change WAS applied (its propagation could not be followed).`
    : untouched
      ? `${LAYER_NAME[layer]} read again after the unknown outcome: it still shows ${now}, so the change was NOT applied. Run /contain again if it is still needed.`
      : `${LAYER_NAME[layer]} read again after the unknown outcome: it shows ${now}, neither the old nor the requested weights; someone else changed it. Check before acting.`;
  await deps.incidents.record(op.incident, {
    step: 'C',
    kind: applied ? TRAFFIC_SUBMITTED : TRAFFIC_NOT_SHIFTED,
    actor: SYSTEM,
    summary: text,
    data: {
      ...eventData(op, plan),
      observed: text,
      ...(applied ? {} : { reason: untouched ? 'error' : 'drift', detail: text }),
    },
  });
  if (op.actionId) await deps.approvals.annotate(op.actionId, text);
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
