// Step C, after the write: INSYNC, convergence and unknown-outcome follow-ups (durable timers) and their wording.
import {
  describeLayerWeights,
  LAYER_NAME,
  type TrafficLayer,
  type TrafficState,
} from '../../src/adapters/traffic.ts';
import { slowSyncMessage } from './blocks.ts';
import type { ContainCaps } from './caps.ts';
import {
  TRAFFIC_CONVERGED,
  TRAFFIC_IN_SYNC,
  TRAFFIC_NOT_SHIFTED,
  TRAFFIC_SUBMITTED,
  TRAFFIC_SYNC_SLOW,
} from '../../src/events.ts';
import { getJson } from '../../src/store/store.ts';
import { SYSTEM } from '../../src/timeline.ts';
import { type Milestone, type ShiftOp, announce, eventData, opKey, saveOp } from './ops.ts';
import { portOf, seconds } from './plan.ts';

export const CONVERGE_QUEUE = 'traffic-converge';
export const SYNC_QUEUE = 'traffic-sync';
/** Re-reads a layer whose write had an unknown outcome, until reality can be read (durable timer). */
export const OBSERVE_QUEUE = 'traffic-observe';
export const OBSERVE_AFTER_MS = 30_000;
const OBSERVE_GIVE_UP_MS = 60 * 60_000;
/** Route 53 is usually INSYNC within 60 s; after this long the thread hears about it. */
export const SLOW_SYNC_MS = 120_000;
export const SYNC_FOLLOW_UP_MS = 5000;
const SYNC_GIVE_UP_MS = 60 * 60_000;
/** Records INSYNC, then converged now (no caching) or by a durable timer TTL seconds later. */
export async function markInSync(
  deps: ContainCaps,
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
      : `${LAYER_NAME[layer]} ${layer === 'arc' ? 'states' : 'weights'} applied: ${describeLayerWeights(layer, plan.to)}`;
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
export async function converge(
  deps: ContainCaps,
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

export async function alertSlow(
  deps: ContainCaps,
  opId: string,
  layer: TrafficLayer,
  elapsedMs: number,
): Promise<void> {
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
/** Durable follow-up for a change still PENDING (after a restart or a very slow propagation). */
export async function followSync(deps: ContainCaps, member: string): Promise<void> {
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
export async function observeLater(deps: ContainCaps, member: string): Promise<void> {
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
