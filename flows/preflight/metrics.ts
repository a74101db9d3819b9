// /preflight: every breaker condition's query answers with data, for the cloud stack and (with {stack}) for legacy.
import type { Deps } from '../../src/deps.ts';
import { conditionsOf, forStack, hasStack, latestValues, warned } from '../breaker/index.ts';
import type { PreflightCheck } from './preflight.ts';

type Answer = { ok: true } | { ok: false; why: string };

async function answers(
  deps: Deps,
  service: string,
  run: () => Promise<{ values: number[]; warnings: string[] }>,
): Promise<Answer> {
  try {
    const { values, warnings } = await run();
    if (values.length === 0) return { ok: false, why: 'no data (empty result)' };
    if (!values.some((v) => Number.isFinite(v))) return { ok: false, why: 'only NaN/Inf' };
    // Partial data: the breaker would call every ok value of it inconclusive, so it cannot be counted on.
    if (warnings.length > 0) return { ok: false, why: warned(warnings) };
    return { ok: true };
  } catch (err) {
    deps.log.warn({ err, service }, 'preflight: a breaker query failed');
    return { ok: false, why: `query failed: ${(err as Error).message.slice(0, 200)}` };
  }
}

/** Undefined when the service has no breaker (the breaker check already fails for that). */
export async function metricsCheck(deps: Deps, service: string): Promise<PreflightCheck | undefined> {
  const cfg = deps.config.services[service]?.breaker;
  if (!cfg) return undefined;
  const title = "Every breaker condition's query returns data for both stacks";
  const specs = conditionsOf(cfg);
  const problems: string[] = [];
  const cloudOnly: string[] = [];
  await Promise.all(
    specs.map(async (spec) => {
      const stacks = hasStack(spec.query) ? (['cloud', 'legacy'] as const) : (['cloud'] as const);
      if (stacks.length === 1) cloudOnly.push(spec.label);
      for (const stack of stacks) {
        const query = forStack(spec.query, stack, cfg, spec.minRps);
        const answer = await answers(deps, service, () => latestValues(deps, cfg, service, query));
        if (!answer.ok) problems.push(`${spec.label} (${stack}): ${answer.why}`);
      }
    }),
  );
  if (problems.length > 0) {
    return {
      id: 'metrics',
      title,
      status: 'fail',
      detail: problems.sort().join('; '),
      fix: `Fix the queries under services.${service}.breaker (try them in the Prometheus or CloudWatch console); a condition without data can never trip the breaker or judge a canary step.`,
    };
  }
  return {
    id: 'metrics',
    title,
    status: 'pass',
    // A query without {stack} (memory and errors as first written) watches cloud only, so only cloud is asked.
    detail: `${specs.length} condition(s) answer: ${specs.map((s) => s.label).join(', ')}${cloudOnly.length > 0 ? `; ${cloudOnly.join(', ')} for cloud only (no {stack} in the query, so legacy cannot be asked)` : ' (cloud and legacy)'}`,
  };
}
