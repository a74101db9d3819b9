// Prometheus HTTP API: instant queries (query) and range queries (query_range) returning our own types.
import { ExternalServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';

export interface RangeSeries {
  labels: Record<string, string>;
  points: { t: number; v: number }[];
}

/** One element of an instant vector (or the scalar): `value` is NaN for "NaN", ±Infinity for "+Inf"/"-Inf". */
export interface InstantSample {
  labels: Record<string, string>;
  value: number;
}

/**
 * An instant query's answer. `warnings` are Prometheus's own ("status":"success" with "warnings": [...]): errors that
 * did not stop the query, such as a remote store or a Thanos/Mimir shard that did not answer, so `samples` may be
 * only part of the data. Empty when there were none.
 */
export interface InstantResult {
  samples: InstantSample[];
  warnings: string[];
}

/** A range query's answer: its series and, as for an instant query, Prometheus's warnings of partial data. */
export interface RangeResult {
  series: RangeSeries[];
  warnings: string[];
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
  ): Promise<RangeResult>;
  /** Evaluates `query` now (the server's now). No samples is "no data", not zero; warnings mean partial data. */
  query(endpoint: PrometheusEndpoint, query: string): Promise<InstantResult>;
}

interface ApiBody {
  status?: string;
  error?: string;
  errorType?: string;
  warnings?: unknown;
  data?: {
    resultType?: string;
    result?: unknown;
  };
}

interface VectorElement {
  metric?: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** Prometheus sends sample values as strings: "0.93", "NaN", "+Inf", "-Inf". */
export function sampleValue(text: unknown): number {
  if (typeof text !== 'string') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const n = Number(text);
  return text.trim() === '' ? NaN : n;
}

export class PrometheusClient implements Prometheus {
  #metrics: Metrics;
  #timeoutMs: number;

  constructor(metrics: Metrics, opts: { timeoutMs?: number } = {}) {
    this.#metrics = metrics;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async #post(
    endpoint: PrometheusEndpoint,
    path: string,
    form: URLSearchParams,
  ): Promise<{ data: ApiBody['data']; warnings: string[] }> {
    const url = new URL(`${endpoint.url.replace(/\/+$/, '')}/api/v1/${path}`);
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
      throw new ExternalServiceError('prometheus', `${path} did not answer: ${(err as Error).message}`, {
        retryable: true,
        cause: err,
      });
    }
    let body: ApiBody;
    try {
      body = (await res.json()) as ApiBody;
    } catch {
      throw new ExternalServiceError('prometheus', `${path} answered HTTP ${res.status} without JSON`, {
        status: res.status,
        retryable: res.status >= 500,
      });
    }
    if (!res.ok || body.status !== 'success') {
      throw new ExternalServiceError(
        'prometheus',
        `${path} failed (HTTP ${res.status}${body.errorType ? `, ${body.errorType}` : ''}): ${body.error ?? 'no error text'}`,
        { status: res.status, retryable: res.status === 429 || res.status >= 500 },
      );
    }
    // Only the warnings: "infos" are info-level annotations that "may or may not be false positives".
    const warnings = Array.isArray(body.warnings)
      ? body.warnings.filter((w): w is string => typeof w === 'string' && w !== '')
      : [];
    return { data: body.data, warnings };
  }

  async queryRange(
    endpoint: PrometheusEndpoint,
    query: string,
    range: { start: Date; end: Date; stepSeconds: number },
  ): Promise<RangeResult> {
    return this.#metrics.timed('prometheus', 'queryRange', async () => {
      const { data, warnings } = await this.#post(
        endpoint,
        'query_range',
        new URLSearchParams({
          query,
          start: String(range.start.getTime() / 1000),
          end: String(range.end.getTime() / 1000),
          step: String(range.stepSeconds),
        }),
      );
      const result = Array.isArray(data?.result) ? (data.result as VectorElement[]) : [];
      const series = result.map((s) => ({
        labels: s.metric ?? {},
        points: (s.values ?? []).map(([t, v]) => ({ t: t * 1000, v: sampleValue(v) })),
      }));
      return { series, warnings };
    });
  }

  async query(endpoint: PrometheusEndpoint, query: string): Promise<InstantResult> {
    return this.#metrics.timed('prometheus', 'query', async () => {
      const { data, warnings } = await this.#post(endpoint, 'query', new URLSearchParams({ query }));
      const type = data?.resultType;
      if (type === 'scalar') {
        const pair = data?.result as [number, string] | undefined;
        return { samples: [{ labels: {}, value: sampleValue(pair?.[1]) }], warnings };
      }
      if (type !== 'vector') {
        throw new ExternalServiceError(
          'prometheus',
          `query returned a ${type ?? 'missing'} result; the breaker needs an instant vector or a scalar (drop range selectors like [5m] outside functions)`,
        );
      }
      const result = Array.isArray(data?.result) ? (data.result as VectorElement[]) : [];
      return {
        samples: result.map((e) => ({ labels: e.metric ?? {}, value: sampleValue(e.value?.[1]) })),
        warnings,
      };
    });
  }
}
