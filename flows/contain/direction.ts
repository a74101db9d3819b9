// /contain only ever moves traffic toward legacy: checked on the stored change before anything is written.
import { splitOf, type TrafficState } from '../../src/adapters/traffic.ts';
import type { LayerPlan } from './contain.ts';

/**
 * The first layer whose planned weights would give legacy a smaller share than the weights the request was based
 * on, or null. Read from `basis` (what was seen) rather than the plan's own `from`, so a rewritten plan cannot
 * claim a lower starting point.
 */
export function legacyLowered(
  basis: { layers: TrafficState[] },
  change: { layers: LayerPlan[] },
): { layer: string; from: number; to: number } | null {
  for (const plan of change.layers) {
    const seen = basis.layers.find((s) => s.layer === plan.layer);
    if (!seen) return { layer: plan.layer, from: NaN, to: NaN };
    const from = splitOf({ legacy: seen.legacy.weight, cloud: seen.cloud.weight }, seen.others).legacy;
    const to = splitOf(plan.to, seen.others).legacy;
    if (to < from) return { layer: plan.layer, from, to };
  }
  return null;
}
