// Step C, planning: the configured layers of a service, what a shift to a legacy share would do, and legacy health.
import {
  LAYER_NAME,
  LAYER_ORDER,
  splitOf,
  switchWeights,
  weightsForPercent,
  weightsOf,
  type HealthReport,
  type ServiceTraffic,
  type Split,
  type TrafficLayer,
  type TrafficPort,
  type TrafficState,
  type Weights,
} from '../../src/adapters/traffic.ts';
import type { ContainCaps } from './caps.ts';
import { UsageError } from '../../src/errors.ts';

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
/** The configured layers of a service, or a usage error naming the config to add. */
export function trafficOf(deps: ContainCaps, service: string, usage?: string): ServiceTraffic {
  const traffic = deps.adapters.traffic?.[service];
  if (!traffic || LAYER_ORDER.every((l) => traffic[l] === undefined)) {
    throw new UsageError(
      `${service} has no traffic configured, so there is nothing to shift. Add services.${service}.traffic.route53 (or .alb, .arc, .gateway, .istio) to cloud-safety.yml; docs/contain.md has an example.`,
      usage,
    );
  }
  return traffic;
}

export function portOf(deps: ContainCaps, service: string, layer: TrafficLayer): TrafficPort {
  const port = trafficOf(deps, service)[layer];
  if (!port) throw new Error(`${service} has no ${layer} traffic adapter`);
  return port;
}

/** Reads every asked layer (all configured ones by default), DNS first. */
export async function readTraffic(
  deps: ContainCaps,
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

export function seconds(n: number): string {
  if (n < 120) return `${n} s`;
  if (n < 7200) return `${Math.round(n / 60)} min`;
  return `${Math.round(n / 360) / 10} h`;
}

/**
 * Plans a shift to `legacyPercent` for each state (pure). `toLegacy` refuses any layer whose legacy share would
 * drop (what /contain and the breaker may do); `any` allows both directions (canary).
 */
export function planShift(
  deps: Pick<ContainCaps, 'config'>,
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
    const layerTo = state.maxWeight === 1 ? switchWeights(legacyPercent) : to;
    if (!layerTo) {
      throw new UsageError(
        `${LAYER_NAME[state.layer]} routing controls are On or Off: they can send legacy all of the traffic or none of it, not ${legacyPercent}%. Use legacy=100, or name a weighted layer (layer=route53, alb, gateway or istio).`,
      );
    }
    const toSplit = splitOf(layerTo, state.others);
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
      to: layerTo,
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
  deps: ContainCaps,
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
