// The breaker's named conditions (pure): memory, errors and any configured one, judged against their thresholds.
import type { Breaker, BreakerQuery, Comparison } from '../../src/config.ts';
import type { Outcome, Reading, Traffic } from './rules.ts';

/** One condition as the breaker evaluates it; memory and errors of older configs become two of these. */
export interface ConditionSpec {
  /** The config name: memory, errors, latency… */
  name: string;
  /** How people call it: 5xx for errors, the name otherwise. */
  label: string;
  query: BreakerQuery;
  op: 'above' | 'below';
  threshold: number;
  unit: 'ratio' | 'seconds' | 'number';
  /** Traffic guard query: above 0 is enough traffic, 0 skips the condition. */
  guard?: BreakerQuery;
  /** Put into the query's `{minRps}`. */
  minRps?: number;
  /** Compare cloud with legacy on canary steps. */
  compare?: Comparison;
}

export interface ConditionJudgement {
  name: string;
  label: string;
  op: 'above' | 'below';
  unit: ConditionSpec['unit'];
  outcome: Outcome;
  value?: number;
  threshold: number;
  /** Too little traffic: not judged (counts as ok). */
  skipped?: boolean;
  traffic?: Traffic;
  note?: string;
}

/** Every condition of a breaker, memory and errors first (as older configs and messages have them). */
export function conditionsOf(cfg: Breaker): ConditionSpec[] {
  const out: ConditionSpec[] = [];
  const minRps = typeof cfg.minRps === 'number' ? cfg.minRps : undefined;
  const guard = typeof cfg.minRps === 'number' ? undefined : cfg.minRps;
  if (cfg.memory !== undefined) {
    out.push({
      name: 'memory',
      label: 'memory',
      query: cfg.memory,
      op: 'above',
      threshold: cfg.thresholds.memory,
      unit: 'ratio',
      ...(minRps !== undefined ? { minRps } : {}),
    });
  }
  if (cfg.errors !== undefined) {
    out.push({
      name: 'errors',
      label: '5xx',
      query: cfg.errors,
      op: 'above',
      threshold: cfg.thresholds.errors,
      unit: 'ratio',
      ...(guard !== undefined ? { guard } : {}),
      ...(minRps !== undefined ? { minRps } : {}),
    });
  }
  for (const [name, c] of Object.entries(cfg.conditions)) {
    const compare = c.compare === true ? cfg.compare : c.compare === false ? undefined : c.compare;
    out.push({
      name,
      label: name,
      query: c.query,
      op: c.above !== undefined ? 'above' : 'below',
      threshold: c.above ?? c.below ?? NaN,
      unit: c.unit,
      ...(c.minTraffic !== undefined ? { guard: c.minTraffic } : {}),
      ...(compare ? { compare } : {}),
    });
  }
  return out;
}

/** Whether the query names its stack (`{stack}`, also in a CloudWatch metric's dimension), so it runs for legacy too. */
export function hasStack(query: BreakerQuery): boolean {
  if (typeof query === 'string') return query.includes('{stack}');
  return (
    query.expression.includes('{stack}') ||
    Object.values(query.metrics).some((m) => Object.values(m.dimensions).some((v) => v.includes('{stack}')))
  );
}

/** The query with `{stack}` and `{minRps}` filled in, as an expression of the same shape. */
export function forStack(
  query: BreakerQuery,
  stack: 'cloud' | 'legacy',
  cfg: Pick<Breaker, 'stacks'>,
  minRps?: number,
): BreakerQuery {
  const fill = (text: string) => {
    const filled = text.replaceAll('{stack}', cfg.stacks[stack]);
    return minRps === undefined ? filled : filled.replaceAll('{minRps}', String(minRps));
  };
  if (typeof query === 'string') return fill(query);
  // CloudWatch stacks usually differ by a dimension (a target group, a service name), so those are filled too.
  const metrics = Object.fromEntries(
    Object.entries(query.metrics).map(([id, m]) => [
      id,
      { ...m, dimensions: Object.fromEntries(Object.entries(m.dimensions).map(([k, v]) => [k, fill(v)])) },
    ]),
  );
  return { ...query, expression: fill(query.expression), metrics };
}

/** "partial data: Prometheus warned "…"": why a value read with warnings proves nothing healthy. */
export function warned(warnings: readonly string[]): string {
  const first = warnings[0] ?? '';
  const shown = first.length > 200 ? `${first.slice(0, 199)}…` : first;
  return `partial data: Prometheus warned "${shown}"${warnings.length > 1 ? ` (+${warnings.length - 1} more)` : ''}`;
}

function unreadable(r: Reading): string {
  switch (r.kind) {
    case 'empty':
      return r.warnings?.length ? `no data (empty result, ${warned(r.warnings)})` : 'no data (empty result)';
    case 'nan':
      return `NaN/Inf in all ${r.series} series`;
    case 'error':
      return `query failed: ${r.message}`;
    default:
      if (r.warnings?.length) return warned(r.warnings);
      return `${r.series - 1} of ${r.series} series NaN`;
  }
}

/** The reading of a set of samples for a condition: its worst finite value (highest for above, lowest for below). */
export function worstOf(values: number[], op: ConditionSpec['op']): Reading {
  if (values.length === 0) return { kind: 'empty' };
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { kind: 'nan', series: values.length };
  return {
    kind: 'value',
    value: op === 'above' ? Math.max(...finite) : Math.min(...finite),
    series: values.length,
    partial: finite.length < values.length,
  };
}

/**
 * One condition: a real value on the bad side of the threshold breaches; unreadable is inconclusive, never a pass.
 * With a guard: 0 (too little traffic) skips the condition; an unreadable guard makes an ok value inconclusive.
 */
export function judgeCondition(spec: ConditionSpec, reading: Reading, guard?: Reading): ConditionJudgement {
  const base = {
    name: spec.name,
    label: spec.label,
    op: spec.op,
    unit: spec.unit,
    threshold: spec.threshold,
  };
  let traffic: Traffic | undefined;
  const guardName = spec.name === 'errors' ? 'minRps' : 'minTraffic';
  if (guard) {
    const doubtful = guard.kind !== 'value' || guard.partial || (guard.warnings?.length ?? 0) > 0;
    traffic = doubtful ? 'unknown' : guard.value > 0 ? 'enough' : 'low';
    if (traffic === 'low') {
      return {
        ...base,
        outcome: 'ok',
        skipped: true,
        traffic,
        note: `too little traffic to judge (${guardName} guard)`,
      };
    }
  }
  const withTraffic = traffic ? { traffic } : {};
  if (reading.kind !== 'value') {
    return { ...base, ...withTraffic, outcome: 'inconclusive', note: unreadable(reading) };
  }
  const bad = spec.op === 'above' ? reading.value > spec.threshold : reading.value < spec.threshold;
  // Partial data can only hide worse values, so a breach in it is real; a pass in it is not a pass.
  const warnings = reading.warnings ?? [];
  if (bad) {
    return {
      ...base,
      ...withTraffic,
      outcome: 'breach',
      value: reading.value,
      ...(warnings.length > 0 ? { note: warned(warnings) } : {}),
    };
  }
  if (reading.partial || warnings.length > 0) {
    return {
      ...base,
      ...withTraffic,
      outcome: 'inconclusive',
      value: reading.value,
      note: unreadable(reading),
    };
  }
  if (traffic === 'unknown') {
    return {
      ...base,
      traffic,
      outcome: 'inconclusive',
      value: reading.value,
      note: `traffic guard (${guardName}) unreadable`,
    };
  }
  return { ...base, ...withTraffic, outcome: 'ok', value: reading.value };
}

/** Any breach breaches; otherwise anything inconclusive makes the whole evaluation inconclusive. */
export function combine(judgements: readonly ConditionJudgement[]): Outcome {
  const outcomes = judgements.map((j) => j.outcome);
  return outcomes.includes('breach') ? 'breach' : outcomes.includes('inconclusive') ? 'inconclusive' : 'ok';
}

/** A value in its unit: 93.1% for a ratio, 412 ms or 1.25 s for seconds, 3 significant digits otherwise. */
export function formatValue(value: number | undefined, unit: ConditionSpec['unit']): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (unit === 'ratio') {
    const p = value * 100;
    return `${p >= 10 ? p.toFixed(1) : p >= 1 ? p.toFixed(2) : p.toFixed(3)}%`;
  }
  if (unit === 'seconds')
    return Math.abs(value) < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
  return String(Number(value.toPrecision(3)));
}

/** "latency 1.20 s > 500 ms": the value against the threshold, or why there is none. */
export function describeJudgement(j: ConditionJudgement): string {
  if (j.skipped) return `${j.label} skipped (${j.note ?? 'low traffic'})`;
  if (j.value === undefined) return `${j.label} ? (${j.note ?? 'no value'})`;
  const bad = j.outcome === 'breach';
  const op = j.op === 'above' ? (bad ? '>' : '≤') : bad ? '<' : '≥';
  return `${j.label} ${formatValue(j.value, j.unit)} ${op} ${formatValue(j.threshold, j.unit)}${j.note ? ` (${j.note})` : ''}`;
}

/** "latency > 500 ms": what trips a condition. */
export function describeSpec(
  spec: Pick<ConditionSpec, 'name' | 'label' | 'op' | 'threshold' | 'unit'>,
): string {
  // Memory is a share of the pods' limit, which the bare percentage does not say.
  return `${spec.label} ${spec.op === 'above' ? '>' : '<'} ${formatValue(spec.threshold, spec.unit)}${spec.name === 'memory' ? ' of limit' : ''}`;
}

/** What a trip event records: values (breached first) and thresholds by condition name, and which breached. */
export function tripFigures(judgements: readonly ConditionJudgement[]): {
  values: Record<string, number>;
  thresholds: Record<string, number>;
  breached: string[];
} {
  const ordered = [...judgements].sort(
    (x, y) => Number(y.outcome === 'breach') - Number(x.outcome === 'breach'),
  );
  return {
    values: Object.fromEntries(ordered.flatMap((j) => (j.value !== undefined ? [[j.name, j.value]] : []))),
    thresholds: Object.fromEntries(ordered.map((j) => [j.name, j.threshold])),
    breached: ordered.filter((j) => j.outcome === 'breach').map((j) => j.name),
  };
}

/** The breached conditions of an evaluation, with value and threshold: "latency 1.20 s (limit 500 ms)". */
export function describeBreaches(judgements: readonly ConditionJudgement[]): string {
  return judgements
    .filter((j) => j.outcome === 'breach')
    .map((j) => `${j.label} ${formatValue(j.value, j.unit)} (limit ${formatValue(j.threshold, j.unit)})`)
    .join(', ');
}
