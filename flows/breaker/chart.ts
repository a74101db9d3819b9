// Step D breaker, the chart posted with a trip: every condition as % of its threshold over the chart window.
import { queryText, settingsOf, type BreakerSettings, type Evaluation } from './rules.ts';
import { cloudWatchQueries, prometheusEndpoint } from './source.ts';
import { conditionsOf, describeSpec, forStack, type ConditionSpec } from './conditions.ts';
import { renderLineChart, type Series } from '../../src/chart/png.ts';
import type { Breaker } from '../../src/config.ts';
import { formatDuration } from '../../src/duration.ts';
import { getJson } from '../../src/store/store.ts';
import { getBreaker } from './state.ts';
import type { EvaluatorContext } from './options.ts';

export const historyKey = (service: string) => `breaker:${service}:history`;
/** Every condition as % of its threshold over the chart window: from the source, else the kept evaluations. */
export async function breakerChart(
  ctx: EvaluatorContext,
  service: string,
  endMs: number,
): Promise<{ png: Buffer; note: string } | undefined> {
  const deps = ctx.deps;
  const cfg = deps.config.services[service]?.breaker;
  const state = await getBreaker(deps, service);
  const settings = state?.settings ?? (cfg ? settingsOf(cfg) : undefined);
  if (!cfg || !settings) return undefined;
  const specs = settings.conditions ?? conditionsOf(cfg);
  const start = new Date(endMs - ctx.opts.chartWindowMs);
  const end = new Date(Math.max(endMs, deps.now().getTime()));
  let series: Series[] = [];
  let note = `Each condition as % of its threshold (${specs.map(describeSpec).join(', ')}); the breaker trips above 100%.`;
  try {
    series = await rangeSeries(ctx, service, cfg, settings, specs, start, end);
  } catch (err) {
    deps.log.warn({ err, service }, 'breaker chart: range query failed; using the kept evaluations');
  }
  if (!series.some((s) => s.points.length > 1)) {
    const history = ((await getJson<Evaluation[]>(deps.store, historyKey(service))) ?? []).filter(
      (e) => Date.parse(e.at) >= start.getTime(),
    );
    series = specs.map((spec) => ({
      name: spec.label,
      points: history.flatMap((e) => {
        const value =
          e.conditions?.find((c) => c.name === spec.name)?.value ??
          (spec.name === 'memory' ? e.memory?.value : spec.name === 'errors' ? e.errors?.value : undefined);
        return value !== undefined ? [{ t: Date.parse(e.at), v: ofThreshold(spec, value) }] : [];
      }),
    }));
    note += ' From the breaker’s own evaluations (the metrics source gave no range).';
  }
  if (!series.some((s) => s.points.length > 0)) return undefined;
  return {
    png: renderLineChart({
      title: `${service} breaker: % of threshold, last ${formatDuration(ctx.opts.chartWindowMs)}`,
      series,
      yLabel: '% of threshold',
      yMin: 0,
      thresholds: [{ value: 100, label: 'trip' }],
      formatY: (v) => `${Math.round(v)}%`,
    }),
    note,
  };
}

export async function rangeSeries(
  ctx: EvaluatorContext,
  service: string,
  cfg: Breaker,
  settings: BreakerSettings,
  specs: ConditionSpec[],
  start: Date,
  end: Date,
): Promise<Series[]> {
  const out: Series[] = [];
  for (const spec of specs) {
    const query = forStack(spec.query, 'cloud', cfg, spec.minRps);
    let points: { t: number; v: number }[];
    if ('prometheus' in cfg.source) {
      const prometheus = ctx.deps.adapters.prometheus;
      if (!prometheus) continue;
      const stepSeconds = Math.max(15, Math.round(settings.intervalMs / 1000));
      const { series: range } = await prometheus.queryRange(
        prometheusEndpoint(cfg, service),
        queryText(query, undefined),
        {
          start,
          end,
          stepSeconds,
        },
      );
      // The worst series at each instant, like the evaluation.
      const worst = new Map<number, number>();
      const pick = spec.op === 'above' ? Math.max : Math.min;
      for (const s of range)
        for (const p of s.points) if (Number.isFinite(p.v)) worst.set(p.t, pick(worst.get(p.t) ?? p.v, p.v));
      points = [...worst.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ t, v }));
    } else {
      const cloudwatch = ctx.deps.adapters.cloudwatch;
      if (!cloudwatch) continue;
      const cw = cfg.source.cloudwatch;
      const series = await cloudwatch.getMetricData(
        cw.region,
        cloudWatchQueries(query, undefined, cw.period / 1000),
        { start, end },
      );
      points = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.v));
    }
    out.push({ name: spec.label, points: points.map((p) => ({ t: p.t, v: ofThreshold(spec, p.v) })) });
  }
  return out;
}
/** A value as % of its threshold, so that above 100 % is always the bad side (also for `below` conditions). */
function ofThreshold(spec: Pick<ConditionSpec, 'op' | 'threshold'>, value: number): number {
  return spec.op === 'above' ? (100 * value) / spec.threshold : (100 * spec.threshold) / value;
}
