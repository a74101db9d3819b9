// A local CloudWatch endpoint for GetMetricData over AWS JSON 1.0 (the protocol the installed SDK speaks, with the
// Query-compatible error header): MetricStat queries sampled from a live source, metric math over them, throttling.
import { type DrillBind, listenOn } from './bind.ts';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { evaluate, MathError, parseExpression, type Series } from './cloudwatch-math.ts';

/** GetMetricData's default quota: 50 transactions per second per account and Region. */
export const REAL_GET_METRIC_DATA_TPS = 50;
const TARGET = 'GraniteServiceVersion20100801.GetMetricData';
const ID = /^[a-z][a-zA-Z0-9_]*$/;

export interface MetricRef {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  stat: string;
  periodSeconds: number;
}

export interface CloudWatchServerOptions {
  /** Where it listens and the name in its URL (other replicas reach a drill's simulators by it). */
  bind?: DrillBind;
  /** The metric's value for the period now running, or undefined when no such metric is published. */
  sample: (metric: MetricRef) => number | undefined;
  now?: () => number;
  /** Requests per second (token bucket, burst the same); default the real quota; false never throttles. */
  rateLimit?: number | false;
  port?: number;
}

export interface CloudWatchServer {
  url: string;
  port: number;
  server: Server;
  requests: { target: string; body: Record<string, unknown> }[];
  refused: Record<string, number>;
  /** Answers the next n requests with Throttling. */
  throttleNext(n: number): void;
  stop(): Promise<void>;
}

interface Query {
  Id?: unknown;
  Expression?: unknown;
  Period?: unknown;
  ReturnData?: unknown;
  Label?: unknown;
  MetricStat?: {
    Metric?: {
      Namespace?: unknown;
      MetricName?: unknown;
      Dimensions?: { Name?: unknown; Value?: unknown }[];
    };
    Period?: unknown;
    Stat?: unknown;
  };
}

class Refusal extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function invalid(message: string): Refusal {
  return new Refusal('InvalidParameterValue', message);
}

function metricOf(q: Query, index: number): MetricRef {
  const stat = q.MetricStat;
  const metric = stat?.Metric;
  const period = Number(stat?.Period);
  const where = `MetricDataQueries.member.${index + 1}.MetricStat`;
  if (typeof metric?.Namespace !== 'string' || typeof metric.MetricName !== 'string')
    throw invalid(`The parameter ${where}.Metric must have a Namespace and a MetricName.`);
  if (!(Number.isInteger(period) && period > 0 && (period % 60 === 0 || [1, 5, 10, 30].includes(period))))
    throw invalid(`The parameter ${where}.Period must be 1, 5, 10, 30 or a multiple of 60.`);
  if (typeof stat?.Stat !== 'string') throw invalid(`The parameter ${where}.Stat is required.`);
  const dimensions: Record<string, string> = {};
  for (const d of metric.Dimensions ?? []) dimensions[String(d.Name)] = String(d.Value);
  return {
    namespace: metric.Namespace,
    metricName: metric.MetricName,
    dimensions,
    stat: stat.Stat,
    periodSeconds: period,
  };
}

export async function startCloudWatchServer(opts: CloudWatchServerOptions): Promise<CloudWatchServer> {
  const now = opts.now ?? Date.now;
  const rate = opts.rateLimit === false ? undefined : (opts.rateLimit ?? REAL_GET_METRIC_DATA_TPS);
  let tokens = rate ?? 0;
  let refilledAt = now();
  let throttle = 0;
  const requests: CloudWatchServer['requests'] = [];
  const refused: Record<string, number> = {};
  /** Samples kept per metric and period start (epoch s): what each period ended up showing. */
  const history = new Map<string, Series>();

  function admit(): boolean {
    if (throttle > 0) {
      throttle -= 1;
      return false;
    }
    if (!rate) return true;
    const t = now();
    tokens = Math.min(rate, tokens + ((t - refilledAt) * rate) / 1000);
    refilledAt = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  /** The metric's datapoints in [start, end): each period it was sampled in, the current one sampled now. */
  function series(metric: MetricRef, start: number, end: number): Series {
    const key = JSON.stringify(metric);
    const kept = history.get(key) ?? new Map<number, number>();
    history.set(key, kept);
    const nowS = now() / 1000;
    const current = Math.floor(nowS / metric.periodSeconds) * metric.periodSeconds;
    const value = opts.sample(metric);
    if (value !== undefined && Number.isFinite(value)) kept.set(current, value);
    return new Map([...kept].filter(([t]) => t >= start && t < end).sort((a, b) => a[0] - b[0]));
  }

  function getMetricData(body: Record<string, unknown>): Record<string, unknown> {
    const queries = body.MetricDataQueries;
    if (!Array.isArray(queries) || queries.length === 0 || queries.length > 500)
      throw invalid('The parameter MetricDataQueries must hold between 1 and 500 queries.');
    const start = Number(body.StartTime);
    const end = Number(body.EndTime);
    if (!Number.isFinite(start) || !Number.isFinite(end) || start >= end)
      throw invalid('The parameter StartTime must be less than the parameter EndTime.');
    const computed = new Map<string, Series>();
    const results: Record<string, unknown>[] = [];
    (queries as Query[]).forEach((q, index) => {
      const id = q.Id;
      if (typeof id !== 'string' || !ID.test(id))
        throw invalid(
          `The value ${String(id)} for parameter MetricDataQueries.member.${index + 1}.Id is invalid: it must start with a lower-case letter and hold only letters, digits and _.`,
        );
      if ((q.Expression === undefined) === (q.MetricStat === undefined))
        throw invalid(`Exactly one of Expression and MetricStat must be given for ${id}.`);
      let points: Series;
      if (q.MetricStat) {
        points = series(metricOf(q, index), start, end);
      } else {
        const period = Number(q.Period ?? 60);
        const times: number[] = [];
        for (let t = Math.ceil(start / period) * period; t < Math.min(end, now() / 1000); t += period)
          times.push(t);
        try {
          points = evaluate(parseExpression(String(q.Expression)), computed, times);
        } catch (err) {
          if (err instanceof MathError)
            throw new Refusal('ValidationError', `Error in expression '${id}': ${err.message}`);
          throw err;
        }
      }
      computed.set(id, points);
      if (q.ReturnData === false) return;
      const ordered = [...points].sort((a, b) =>
        body.ScanBy === 'TimestampAscending' ? a[0] - b[0] : b[0] - a[0],
      );
      results.push({
        Id: id,
        Label: typeof q.Label === 'string' ? q.Label : id,
        Timestamps: ordered.map(([t]) => t),
        Values: ordered.map(([, v]) => v),
        StatusCode: 'Complete',
      });
    });
    return { MetricDataResults: results, Messages: [] };
  }

  function send(res: ServerResponse, status: number, body: unknown, queryError?: string): void {
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': randomUUID(),
      ...(queryError ? { 'x-amzn-query-error': queryError } : {}),
    });
    res.end(JSON.stringify(body));
  }

  function refuse(res: ServerResponse, err: Refusal): void {
    refused[err.code] = (refused[err.code] ?? 0) + 1;
    const type =
      err.code === 'Throttling'
        ? 'ThrottlingException'
        : err.code === 'InvalidParameterValue'
          ? 'InvalidParameterValueException'
          : err.code;
    send(
      res,
      err.status,
      { __type: `com.amazonaws.cloudwatch#${type}`, message: err.message },
      `${err.code};${err.status >= 500 ? 'Receiver' : 'Sender'}`,
    );
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const target = String(req.headers['x-amz-target'] ?? '');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text || '{}') as Record<string, unknown>;
    } catch {
      return refuse(
        res,
        new Refusal('SerializationException', 'Start of structure or map found where not expected'),
      );
    }
    requests.push({ target, body });
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 '))
      return refuse(
        res,
        new Refusal('MissingAuthenticationToken', 'Request is missing Authentication Token', 403),
      );
    if (target !== TARGET)
      return refuse(
        res,
        new Refusal(
          'UnknownOperationException',
          `Operation ${target} is not simulated in the drill; only GetMetricData is.`,
        ),
      );
    if (!admit()) return refuse(res, new Refusal('Throttling', 'Rate exceeded'));
    try {
      send(res, 200, getMetricData(body));
    } catch (err) {
      if (err instanceof Refusal) return refuse(res, err);
      throw err;
    }
  }

  const server = createServer((req, res) => {
    serve(req, res).catch((err: unknown) =>
      refuse(res, new Refusal('InternalServiceError', (err as Error).message, 500)),
    );
  });
  const listening = await listenOn(server, opts.bind, opts.port !== undefined ? { port: opts.port } : {});
  return {
    url: listening.url,
    port: listening.port,
    server,
    requests,
    refused,
    throttleNext: (n) => {
      throttle = n;
    },
    stop: listening.stop,
  };
}
