// Prometheus HTTP API: range queries (query_range) returning our own series type.
import { ExternalServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';

export interface RangeSeries {
  labels: Record<string, string>;
  points: { t: number; v: number }[];
}

export interface PrometheusEndpoint {
  url: string;
  /** Sent as a Bearer token when set. */
  token?: string;
}

export interface Prometheus {
  queryRange(
    endpoint: PrometheusEndpoint,
    query: string,
    range: { start: Date; end: Date; stepSeconds: number },
  ): Promise<RangeSeries[]>;
}

interface QueryRangeBody {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: { metric?: Record<string, string>; values?: [number, string][] }[] };
}

export class PrometheusClient implements Prometheus {
  #metrics: Metrics;
  #timeoutMs: number;

  constructor(metrics: Metrics, opts: { timeoutMs?: number } = {}) {
    this.#metrics = metrics;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async queryRange(
    endpoint: PrometheusEndpoint,
    query: string,
    range: { start: Date; end: Date; stepSeconds: number },
  ): Promise<RangeSeries[]> {
    return this.#metrics.timed('prometheus', 'queryRange', async () => {
      const url = new URL(`${endpoint.url.replace(/\/+$/, '')}/api/v1/query_range`);
      const form = new URLSearchParams({
        query,
        start: String(range.start.getTime() / 1000),
        end: String(range.end.getTime() / 1000),
        step: String(range.stepSeconds),
      });
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            ...(endpoint.token ? { authorization: `Bearer ${endpoint.token}` } : {}),
          },
          body: form.toString(),
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
      } catch (err) {
        throw new ExternalServiceError(
          'prometheus',
          `query_range did not answer: ${(err as Error).message}`,
          {
            retryable: true,
            cause: err,
          },
        );
      }
      let body: QueryRangeBody;
      try {
        body = (await res.json()) as QueryRangeBody;
      } catch {
        throw new ExternalServiceError('prometheus', `query_range answered HTTP ${res.status} without JSON`, {
          status: res.status,
          retryable: res.status >= 500,
        });
      }
      if (!res.ok || body.status !== 'success') {
        throw new ExternalServiceError(
          'prometheus',
          `query_range failed (HTTP ${res.status}${body.errorType ? `, ${body.errorType}` : ''}): ${body.error ?? 'no error text'}`,
          { status: res.status, retryable: res.status === 429 || res.status >= 500 },
        );
      }
      return (body.data?.result ?? []).map((series) => ({
        labels: series.metric ?? {},
        points: (series.values ?? []).map(([t, v]) => ({ t: t * 1000, v: Number(v) })),
      }));
    });
  }
}
