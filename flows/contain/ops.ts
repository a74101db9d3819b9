// Step C, the persisted op: what the store keeps of a shift so restarts and timers can finish its story.
import { LAYER_ORDER, type ShiftReceipt, type TrafficLayer } from '../../src/adapters/traffic.ts';
import type { ContainCaps } from './caps.ts';
import type { TrafficEventData } from '../../src/events.ts';
import type { MessageRef } from '../../src/incident.ts';
import { getJson, updateJson } from '../../src/store/store.ts';
import type { Actor } from '../../src/timeline.ts';
import type { LayerPlan, ShiftChange } from './plan.ts';

export const OP_TTL_MS = 30 * 24 * 3_600_000;
export interface Milestone {
  layer: TrafficLayer;
  phase: 'submitted' | 'in_sync' | 'sync_slow' | 'converged';
  text: string;
  at: string;
  changeId?: string;
  /** in_sync: when clients will have converged. */
  convergeAt?: string;
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
export interface ShiftOp {
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

export const opKey = (id: string) => `traffic:op:${id}`;

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
export async function readShiftOp(deps: ContainCaps, opId: string): Promise<ShiftOpView | null> {
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
export function eventData(
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

export async function saveOp(
  deps: ContainCaps,
  id: string,
  change: (op: ShiftOp) => ShiftOp,
): Promise<ShiftOp | null> {
  return updateJson<ShiftOp>(deps.store, opKey(id), (current) => (current ? change(current) : undefined));
}

export async function announce(
  deps: ContainCaps,
  op: ShiftOp,
  m: Milestone,
  onMilestone?: (m: Milestone) => Promise<void>,
) {
  if (op.actionId) await deps.approvals.annotate(op.actionId, m.text, { traffic: m });
  if (onMilestone) await onMilestone(m);
}
