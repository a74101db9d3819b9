// CloudWatch GetMetricData behind a small port: metric math / Metrics Insights queries in, our series out.
import {
  GetMetricDataCommand,
  type CloudWatchClient,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { ExternalServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { awsError, isThrottle, isTransient, unexpectedAwsError } from './aws-retry.ts';

export interface MetricStatQuery {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  stat: string;
}

/** One entry of GetMetricData's MetricDataQueries, in our words. */
export interface MetricQuery {
  /** Lower-case first letter: m1, memory, errors. */
  id: string;
  expression?: string;
  metric?: MetricStatQuery;
  /** Seconds per datapoint. */
  periodSeconds: number;
  /** False for the inputs of an expression. */
  returnData: boolean;
}

export interface MetricSeries {
  id: string;
  label?: string;
  /** Complete, PartialData, InternalError or Forbidden. */
  status: string;
  /** Oldest first, epoch ms. */
  points: { t: number; v: number }[];
  messages: string[];
}

export interface CloudWatchMetrics {
  getMetricData(
    region: string | undefined,
    queries: MetricQuery[],
    range: { start: Date; end: Date },
  ): Promise<MetricSeries[]>;
}

const MAX_PAGES = 5;

export class SdkCloudWatchMetrics implements CloudWatchMetrics {
  #clientFor: (region: string | undefined) => CloudWatchClient;
  #metrics: Metrics;

  /** `clientFor` builds (and caches) a client per region; only main.ts knows how. */
  constructor(opts: { clientFor: (region: string | undefined) => CloudWatchClient; metrics: Metrics }) {
    this.#clientFor = opts.clientFor;
    this.#metrics = opts.metrics;
  }

  async getMetricData(
    region: string | undefined,
    queries: MetricQuery[],
    range: { start: Date; end: Date },
  ): Promise<MetricSeries[]> {
    const client = this.#clientFor(region);
    const input: MetricDataQuery[] = queries.map((q) => ({
      Id: q.id,
      ReturnData: q.returnData,
      ...(q.expression ? { Expression: q.expression, Period: q.periodSeconds } : {}),
      ...(q.metric
        ? {
            MetricStat: {
              Metric: {
                Namespace: q.metric.namespace,
                MetricName: q.metric.metricName,
                Dimensions: Object.entries(q.metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
              },
              Period: q.periodSeconds,
              Stat: q.metric.stat,
            },
          }
        : {}),
    }));
    const byId = new Map<string, MetricSeries>();
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let out;
      try {
        out = await this.#metrics.timed('cloudwatch', 'GetMetricData', () =>
          client.send(
            new GetMetricDataCommand({
              MetricDataQueries: input,
              StartTime: range.start,
              EndTime: range.end,
              ScanBy: 'TimestampAscending',
              ...(nextToken ? { NextToken: nextToken } : {}),
            }),
          ),
        );
      } catch (err) {
        const info = awsError(err);
        if (isThrottle(err) || isTransient(err)) {
          throw new ExternalServiceError(
            'CloudWatch',
            `GetMetricData failed (${info.code}${info.status ? `, HTTP ${info.status}` : ''}: ${info.message})`,
            { status: info.status, retryable: true, cause: err },
          );
        }
        throw unexpectedAwsError('CloudWatch', 'GetMetricData', err);
      }
      for (const result of out.MetricDataResults ?? []) {
        const id = result.Id ?? '';
        // A SEARCH or a grouped Metrics Insights query answers several series under one id, told apart by label.
        const key = `${id}\u0000${result.Label ?? ''}`;
        const series = byId.get(key) ?? {
          id,
          ...(result.Label ? { label: result.Label } : {}),
          status: result.StatusCode ?? 'Complete',
          points: [],
          messages: [],
        };
        const times = result.Timestamps ?? [];
        const values = result.Values ?? [];
        times.forEach((t, i) => {
          const v = values[i];
          if (v !== undefined) series.points.push({ t: t.getTime(), v });
        });
        series.status = result.StatusCode ?? series.status;
        series.messages.push(...(result.Messages ?? []).map((m) => `${m.Code ?? ''}: ${m.Value ?? ''}`));
        byId.set(key, series);
      }
      nextToken = out.NextToken;
      if (!nextToken) break;
    }
    for (const series of byId.values()) series.points.sort((a, b) => a.t - b.t);
    return [...byId.values()];
  }
}
