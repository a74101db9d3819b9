// A local Prometheus-compatible HTTP API (/api/v1/query, /api/v1/query_range) with values you set, for drills and
// benchmarks. Run it: `node src/drill/prometheus.ts`, then change what it answers with
// `curl -X POST 'http://127.0.0.1:9091/drill?memory=0.97'` (names: memory, errors, traffic, latency; "NaN" and
// "empty" work). Tests can answer per query instead (`answer`, `range`), e.g. legacy and cloud differently.
import { listenOn, type DrillBind } from './bind.ts';
import { createServer, type Server } from 'node:http';

export interface DrillValues {
  /** Answer of queries mentioning "memory". */
  memory: string;
  /** Answer of queries mentioning `5..` (the 5xx ratio). */
  errors: string;
  /** Answer of the traffic guard (queries with ">= bool"); 1 means enough traffic. */
  traffic: string;
  /** Answer of latency queries (`histogram_quantile`, `duration`), in seconds. */
  latency: string;
}

/** A range query: start/end in epoch seconds, step in seconds. */
export interface RangeAsk {
  query: string;
  start: number;
  end: number;
  step: number;
}

export interface PrometheusServer {
  url: string;
  server: Server;
  values: DrillValues;
  /** Instant queries answered so far. */
  queries: number;
  /** Range queries asked so far. */
  ranges: RangeAsk[];
  stop(): Promise<void>;
}

/** Which drill value a query asks for. */
export function drillKey(query: string): keyof DrillValues {
  if (/histogram_quantile|duration/.test(query)) return 'latency';
  if (/>=\s*bool/.test(query) || /traffic|requests_per_second/i.test(query)) return 'traffic';
  if (/5\.\.|5xx|error/i.test(query)) return 'errors';
  return 'memory';
}

function vector(value: string): unknown {
  if (value === 'empty') return { status: 'success', data: { resultType: 'vector', result: [] } };
  return {
    status: 'success',
    data: {
      resultType: 'vector',
      result: [{ metric: { pod: 'payments-cloud-drill-0' }, value: [Date.now() / 1000, value] }],
    },
  };
}

/** One series over [start, end] at `step`, its values taken in turn from `values` ("empty" for no series). */
function matrix(ask: RangeAsk, values: readonly (number | string)[] | 'empty'): unknown {
  if (values === 'empty' || values.length === 0) {
    return { status: 'success', data: { resultType: 'matrix', result: [] } };
  }
  const points: [number, string][] = [];
  for (let t = ask.start, i = 0; t <= ask.end; t += ask.step, i++) {
    points.push([t, String(values[i % values.length])]);
  }
  return {
    status: 'success',
    data: { resultType: 'matrix', result: [{ metric: { service: 'payments' }, values: points }] },
  };
}

export async function startPrometheusServer(
  opts: {
    port?: number;
    values?: Partial<DrillValues>;
    /** Instant answer for a query (a sample value, "NaN", "empty"); undefined falls back to the drill values. */
    answer?: (query: string) => string | undefined;
    /** Range answer for a query: the values of one series, in turn; undefined answers no series. */
    range?: (ask: RangeAsk) => readonly (number | string)[] | 'empty' | undefined;
    /**
     * Warnings for a range answer, as Prometheus sends them when part of the data could not be read (a remote store
     * or a shard did not answer): the answer stays "success" with the data it has.
     */
    rangeWarnings?: (ask: RangeAsk) => string[] | undefined;
    /** Where it listens and the name others reach it by (default 127.0.0.1). */
    bind?: DrillBind;
  } = {},
): Promise<PrometheusServer> {
  const state: PrometheusServer = {
    url: '',
    server: createServer(),
    values: { memory: '0.42', errors: '0.001', traffic: '1', latency: '0.2', ...opts.values },
    queries: 0,
    ranges: [],
    stop: async () => {}, // replaced once it listens (below)
  };
  state.server.on('request', (req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += String(chunk)));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (url.pathname === '/drill' && req.method === 'POST') {
        for (const key of ['memory', 'errors', 'traffic', 'latency'] as const) {
          const v = url.searchParams.get(key);
          if (v !== null) state.values[key] = v;
        }
        return send(200, state.values);
      }
      const params = new URLSearchParams(req.method === 'POST' ? body : url.search);
      const query = params.get('query') ?? '';
      if (url.pathname === '/api/v1/query') {
        state.queries += 1;
        return send(200, vector(opts.answer?.(query) ?? state.values[drillKey(query)]));
      }
      if (url.pathname === '/api/v1/query_range') {
        const ask = {
          query,
          start: Number(params.get('start')),
          end: Number(params.get('end')),
          step: Number(params.get('step')),
        };
        if (!(ask.step > 0) || !(ask.end >= ask.start)) {
          return send(400, { status: 'error', errorType: 'bad_data', error: 'invalid start, end or step' });
        }
        state.ranges.push(ask);
        const warnings = opts.rangeWarnings?.(ask);
        const answer = matrix(ask, opts.range?.(ask) ?? 'empty') as Record<string, unknown>;
        return send(200, warnings ? { ...answer, warnings } : answer);
      }
      send(404, { status: 'error', errorType: 'not_found', error: `no ${url.pathname} here` });
    });
  });
  const listening = await listenOn(
    state.server,
    opts.bind,
    opts.port !== undefined ? { port: opts.port } : {},
  );
  state.url = listening.url;
  state.stop = listening.stop;
  return state;
}

if (import.meta.main) {
  const port = Number(process.env.PROM_PORT ?? 9091);
  const prom = await startPrometheusServer({ port });
  process.stdout.write(
    `Local Prometheus API on ${prom.url} answering memory=${prom.values.memory} errors=${prom.values.errors} traffic=${prom.values.traffic} latency=${prom.values.latency}.\n` +
      `Make it breach: curl -X POST '${prom.url}/drill?memory=0.97'   (or errors=0.05, latency=1.5, memory=NaN, memory=empty)\n`,
  );
}
