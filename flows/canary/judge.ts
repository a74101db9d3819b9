// Step D: a canary step's judgement: each compared condition, legacy against cloud over the bake, Mann–Whitney U.
import type { Deps } from '../../src/deps.ts';
import { CANARY_JUDGED, type CanaryJudgedEventData } from '../../src/events.ts';
import { compareStacks, type Comparison, type Decision } from '../../src/stats.ts';
import { conditionsOf, forStack, formatValue, windowValues, type ConditionSpec } from '../breaker/index.ts';

export interface ConditionComparison extends Comparison {
  name: string;
  label: string;
  unit: ConditionSpec['unit'];
  /** Why there is no test result when a query failed. */
  error?: string;
}

export interface StepJudgement {
  decision: Decision;
  comparisons: ConditionComparison[];
  /** One line per compared condition, in plain words. */
  lines: string[];
}

/** Values per bake window: about 60, at least one a second. */
function stepSecondsOf(bakeMs: number): number {
  return Math.max(1, Math.round(bakeMs / 60_000));
}

export const DECISION_WORDS: Record<Decision, string> = {
  worse: 'cloud is worse',
  same: 'no difference',
  not_enough_data: 'not enough data',
};

/** "latency: cloud is worse — median cloud 720 ms vs legacy 210 ms (n 60/60), p = 0.0001". */
export function describeComparison(c: ConditionComparison): string {
  const figures = `median cloud ${formatValue(c.cloud.median, c.unit)} vs legacy ${formatValue(c.legacy.median, c.unit)} (${c.cloud.n}/${c.legacy.n} values)`;
  const p = c.p === undefined ? '' : `, p = ${c.p < 0.0001 ? c.p.toExponential(1) : c.p.toFixed(4)}`;
  return `${c.label}: ${DECISION_WORDS[c.decision]} — ${c.error ? c.error : `${figures}${p}`}`;
}

/** Any condition worse makes the step worse; otherwise any without enough data decides nothing. */
function overall(comparisons: readonly ConditionComparison[]): Decision {
  const d = comparisons.map((c) => c.decision);
  return d.includes('worse') ? 'worse' : d.includes('not_enough_data') ? 'not_enough_data' : 'same';
}

/**
 * Compares cloud with legacy for every condition with `compare` over the bake that just ended, and records the
 * result on the incident's timeline. Undefined when no condition compares (the breaker alone judges the step).
 */
export async function judgeBake(
  deps: Deps,
  canary: {
    id: string;
    service: string;
    incident: string;
    index: number;
    cloudPercent: number;
    bakeMs: number;
  },
): Promise<StepJudgement | undefined> {
  const cfg = deps.config.services[canary.service]?.breaker;
  if (!cfg) return undefined;
  const specs = conditionsOf(cfg).filter((c) => c.compare);
  if (specs.length === 0) return undefined;
  const end = deps.now();
  const window = {
    start: new Date(end.getTime() - canary.bakeMs),
    end,
    stepSeconds: stepSecondsOf(canary.bakeMs),
  };
  const comparisons = await Promise.all(
    specs.map(async (spec): Promise<ConditionComparison> => {
      const names = { name: spec.name, label: spec.label, unit: spec.unit };
      const settings = spec.compare ?? cfg.compare;
      try {
        const [legacy, cloud] = await Promise.all(
          (['legacy', 'cloud'] as const).map((stack) =>
            windowValues(deps, cfg, canary.service, forStack(spec.query, stack, cfg, spec.minRps), window),
          ),
        );
        const compared = compareStacks(
          legacy?.values ?? [],
          cloud?.values ?? [],
          spec.op === 'above' ? 'higher' : 'lower',
          settings,
        );
        // Partial data never clears a step: "no difference" on what came back is not enough data. "Worse" stands:
        // the missing series can only hide more, and it aborts back to legacy, the safe side.
        const warning = [...(legacy?.warnings ?? []), ...(cloud?.warnings ?? [])][0];
        if (warning === undefined || compared.decision === 'worse') return { ...names, ...compared };
        return {
          ...names,
          ...compared,
          decision: 'not_enough_data',
          error: `partial data: Prometheus warned "${warning.slice(0, 160)}"`,
        };
      } catch (err) {
        deps.log.warn(
          { err, service: canary.service, condition: spec.name },
          'canary comparison query failed',
        );
        return {
          ...names,
          decision: 'not_enough_data',
          legacy: { n: 0, median: NaN },
          cloud: { n: 0, median: NaN },
          error: `query failed: ${(err as Error).message.slice(0, 200)}`,
        };
      }
    }),
  );
  const decision = overall(comparisons);
  const lines = comparisons.map(describeComparison);
  const data: CanaryJudgedEventData = {
    canary: canary.id,
    index: canary.index,
    cloudPercent: canary.cloudPercent,
    decision,
    comparisons: comparisons.map((c) => ({
      condition: c.name,
      decision: c.decision,
      legacy: { n: c.legacy.n, ...(Number.isFinite(c.legacy.median) ? { median: c.legacy.median } : {}) },
      cloud: { n: c.cloud.n, ...(Number.isFinite(c.cloud.median) ? { median: c.cloud.median } : {}) },
      ...(c.p !== undefined ? { p: c.p } : {}),
      ...(c.error ? { error: c.error } : {}),
    })),
  };
  await deps.incidents.record(canary.incident, {
    step: 'D',
    kind: CANARY_JUDGED,
    actor: { type: 'system', id: `canary:${canary.service}`, name: `${canary.service} canary` },
    summary: `Canary of ${canary.service}, step ${canary.index + 1} (cloud ${canary.cloudPercent}%) against legacy: ${DECISION_WORDS[decision]}. ${lines.join('; ')}`,
    data: { ...data },
  });
  return { decision, comparisons, lines };
}
