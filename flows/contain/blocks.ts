// The traffic-shift part of the approval card: weights before -> after per layer, TTL, DNS and client states.
import type { ActionState } from '../../src/actions.ts';
import type { Message } from '../../src/chat/chat.ts';
import type { ChangeView } from '../../src/chat/blocks/approval.ts';
import { context, section, utc } from '../../src/chat/blocks/kit.ts';
import { LAYER_NAME, type TrafficLayer } from '../../src/adapters/traffic.ts';

type Layer = TrafficLayer;

interface ViewWeights {
  legacy: number;
  cloud: number;
}

/** What the view reads of a layer's plan (flows/contain/contain.ts LayerPlan has these fields). */
export interface LayerView {
  layer: Layer;
  resource: string;
  from: ViewWeights;
  to: ViewWeights;
  fromSplit: ViewWeights;
  toSplit: ViewWeights;
  ttl?: number;
  maxTtl?: number;
  convergence: { seconds: number; basis: string };
  health: { status: string; detail: string };
  warnings: string[];
}

interface MilestoneView {
  layer: Layer;
  phase: string;
  at: string;
  changeId?: string;
  convergeAt?: string;
}

const NAME = LAYER_NAME;

/** What the card calls the shifted thing, per layer. */
const RESOURCE_LABEL: Record<Layer, string> = {
  arc: 'Routing controls',
  route53: 'Record',
  alb: 'Load balancer',
  gateway: 'HTTPRoute',
  istio: 'VirtualService',
};

function weightsLine(w: ViewWeights, split: ViewWeights, layer?: Layer): string {
  if (layer === 'arc') {
    const onOff = (n: number) => (n > 0 ? 'On' : 'Off');
    return `legacy ${onOff(w.legacy)} / cloud ${onOff(w.cloud)} (${split.legacy}% / ${split.cloud}%)`;
  }
  return `legacy ${w.legacy} / cloud ${w.cloud} (${split.legacy}% / ${split.cloud}%)`;
}

function milestonesOf(progress: { data?: Record<string, unknown> }[]): MilestoneView[] {
  const out: MilestoneView[] = [];
  for (const p of progress) {
    const m = p.data?.traffic as MilestoneView | undefined;
    if (m && typeof m === 'object' && typeof m.phase === 'string') out.push(m);
  }
  return out;
}

function hhmmss(iso: string): string {
  return `${utc(iso).slice(11)}`;
}

/** "DNS" / "ALB" state of one layer, from the milestones recorded so far. */
function layerState(plan: LayerView, milestones: MilestoneView[], state: ActionState): string {
  const mine = milestones.filter((m) => m.layer === plan.layer);
  const last = (phase: string) => mine.filter((m) => m.phase === phase).pop();
  const inSync = last('in_sync');
  if (inSync) {
    return plan.layer === 'route53'
      ? `:white_check_mark: in sync ${hhmmss(inSync.at)}${inSync.changeId ? ` (${inSync.changeId})` : ''}`
      : `:white_check_mark: applied ${hhmmss(inSync.at)}`;
  }
  const slow = last('sync_slow');
  if (slow) return `:warning: still PENDING (${slow.changeId ?? '?'}), polling`;
  const submitted = last('submitted');
  if (submitted)
    return `:hourglass_flowing_sand: submitted ${hhmmss(submitted.at)}, PENDING (${submitted.changeId ?? '?'})`;
  if (state === 'requested') return 'waiting for approval';
  if (state === 'approved' || state === 'executing') return 'writing…';
  return 'not changed';
}

function clientsState(plan: LayerView, milestones: MilestoneView[]): string {
  const mine = milestones.filter((m) => m.layer === plan.layer);
  const converged = mine.filter((m) => m.phase === 'converged').pop();
  if (converged) return `:white_check_mark: converged ${hhmmss(converged.at)}`;
  const inSync = mine.filter((m) => m.phase === 'in_sync').pop();
  if (inSync?.convergeAt)
    return `:hourglass_flowing_sand: by ${hhmmss(inSync.convergeAt)} (${plan.convergence.seconds} s)`;
  return plan.convergence.seconds > 0
    ? `${plan.convergence.seconds} s after in sync`
    : 'at once (each new request)';
}

/** The card's change part for a traffic shift, in every state of the approval. */
export function shiftView(
  change: { layers: LayerView[] },
  state: ActionState,
  progress: { data?: Record<string, unknown> }[],
): ChangeView {
  const milestones = milestonesOf(progress);
  const fields: [string, string][] = [];
  const warnings: string[] = [];
  const lines: string[] = [];
  for (const plan of change.layers) {
    const name = NAME[plan.layer];
    fields.push([RESOURCE_LABEL[plan.layer], plan.resource]);
    fields.push([
      plan.layer === 'arc' ? `${name} states` : `${name} weights`,
      `${weightsLine(plan.from, plan.fromSplit, plan.layer)}\n→ *${weightsLine(plan.to, plan.toSplit, plan.layer)}*`,
    ]);
    if (plan.layer === 'route53') {
      fields.push([
        'TTL',
        plan.ttl !== undefined
          ? `${plan.ttl} s (max ${plan.maxTtl ?? 60} s)`
          : `alias: the target's TTL (~${plan.convergence.seconds} s)`,
      ]);
      fields.push(['DNS', layerState(plan, milestones, state)]);
    } else {
      fields.push([name, layerState(plan, milestones, state)]);
    }
    fields.push([`Clients (${name})`, clientsState(plan, milestones)]);
    lines.push(`Legacy health (${name}): ${plan.health.status} — ${plan.health.detail}`);
    warnings.push(...plan.warnings);
  }
  if (change.layers.length > 1) {
    lines.unshift(
      `Order: ${change.layers.map((l) => NAME[l.layer]).join(' first, then ')}; each write is compare-and-swap against the weights shown.`,
    );
  }
  return { fields: fields.slice(0, 10), lines, warnings };
}

/** Posted in the card's thread when Route 53 has not reported INSYNC after 120 s. */
export function slowSyncMessage(text: string, changeId: string): Message {
  return {
    text,
    blocks: [
      section(`:warning: ${text}`),
      context(`Check it yourself: \`aws route53 get-change --id ${changeId}\``),
    ],
  };
}
