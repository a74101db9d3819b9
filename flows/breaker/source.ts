// Where the breaker's numbers come from: the Prometheus endpoint, CloudWatch queries, and a window of values.
import type { MetricQuery } from '../../src/adapters/cloudwatch.ts';
import type { PrometheusEndpoint } from '../../src/adapters/prometheus.ts';
import { resolveSecret, type Breaker, type BreakerQuery } from '../../src/config.ts';
import type { BreakerCaps } from './caps.ts';
import { queryText } from './rules.ts';

export function prometheusEndpoint(cfg: Breaker, service: string): PrometheusEndpoint {
  if (!('prometheus' in cfg.source)) throw new Error('not a Prometheus source');
  return {
    url: cfg.source.prometheus,
    ...(cfg.source.token
      ? { token: resolveSecret(cfg.source.token, `services.${service}.breaker.source.token`) }
      : {}),
  };
}

/** GetMetricData queries for one breaker query: its expression (returned) over its named metrics (not returned). */
export function cloudWatchQueries(
  query: BreakerQuery,
  minRps: number | undefined,
  periodSeconds: number,
): MetricQuery[] {
  const expression = queryText(query, minRps);
  const inputs: MetricQuery[] =
    typeof query === 'string'
      ? []
      : Object.entries(query.metrics).map(([id, m]) => ({
          id,
          metric: {
            namespace: m.namespace,
            metricName: m.metricName,
            dimensions: m.dimensions,
            stat: m.stat,
          },
          periodSeconds,
          returnData: false,
        }));
  return [...inputs, { id: 'result', expression, periodSeconds, returnData: true }];
}

/** The Prometheus client, and where and what to ask it for this service's (filled-in) breaker query. */
function prometheusFor(
  deps: Pick<BreakerCaps, 'adapters'>,
  cfg: Breaker,
  service: string,
  query: BreakerQuery,
) {
  const prometheus = deps.adapters.prometheus;
  if (!prometheus) throw new Error('no Prometheus client is set up');
  return { prometheus, endpoint: prometheusEndpoint(cfg, service), text: queryText(query, undefined) };
}

/**
 * Every value a (filled-in) query had over a window, all series together: a Prometheus range query at `stepSeconds`,
 * or CloudWatch datapoints at the source's period. Failures throw (ExternalServiceError from the adapters).
 * `warnings`: Prometheus answered with partial data (always empty for CloudWatch).
 */
export async function windowValues(
  deps: Pick<BreakerCaps, 'adapters'>,
  cfg: Breaker,
  service: string,
  query: BreakerQuery,
  window: { start: Date; end: Date; stepSeconds: number },
): Promise<{ values: number[]; warnings: string[] }> {
  if ('prometheus' in cfg.source) {
    const { prometheus, endpoint, text } = prometheusFor(deps, cfg, service, query);
    const { series, warnings } = await prometheus.queryRange(endpoint, text, window);
    return { values: series.flatMap((s) => s.points.map((p) => p.v)), warnings };
  }
  return { values: (await windowSeries(deps, cfg, query, window)).flat(), warnings: [] };
}

/**
 * The latest value of each series a (filled-in) query answers now: Prometheus instant query, CloudWatch lookback.
 * `warnings`: Prometheus answered with partial data (always empty for CloudWatch).
 */
export async function latestValues(
  deps: Pick<BreakerCaps, 'adapters' | 'now'>,
  cfg: Breaker,
  service: string,
  query: BreakerQuery,
): Promise<{ values: number[]; warnings: string[] }> {
  if ('prometheus' in cfg.source) {
    const { prometheus, endpoint, text } = prometheusFor(deps, cfg, service, query);
    const { samples, warnings } = await prometheus.query(endpoint, text);
    return { values: samples.map((s) => s.value), warnings };
  }
  const end = deps.now();
  const lookback = cfg.source.cloudwatch.lookback;
  const series = await windowSeries(deps, cfg, query, { start: new Date(end.getTime() - lookback), end });
  return { values: series.flatMap((s) => (s.length > 0 ? [s[s.length - 1] ?? NaN] : [])), warnings: [] };
}

async function windowSeries(
  deps: Pick<BreakerCaps, 'adapters'>,
  cfg: Breaker,
  query: BreakerQuery,
  window: { start: Date; end: Date },
): Promise<number[][]> {
  if (!('cloudwatch' in cfg.source)) throw new Error('not a CloudWatch source');
  const cloudwatch = deps.adapters.cloudwatch;
  if (!cloudwatch) throw new Error('no CloudWatch client is set up');
  const cw = cfg.source.cloudwatch;
  const series = await cloudwatch.getMetricData(
    cw.region,
    cloudWatchQueries(query, undefined, cw.period / 1000),
    window,
  );
  const failed = series.find((s) => s.status === 'Forbidden' || s.status === 'InternalError');
  if (failed) {
    throw new Error(
      `CloudWatch answered ${failed.status}${failed.messages[0] ? `: ${failed.messages[0]}` : ''}`,
    );
  }
  return series.map((s) => s.points.map((p) => p.v));
}
