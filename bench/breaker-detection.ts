// Time from a breach becoming visible at a Prometheus-compatible endpoint to the breaker's ChangeBatch reaching a
// local Route 53 endpoint, against the configured interval x failureLimit (real Redis, real timers, 1 s interval).
import { getBreaker } from '../flows/breaker/evaluator.ts';
import { approveValue } from '../src/approval-binding.ts';
import { APPROVE_ACTION } from '../src/chat/blocks/approval.ts';
import { parseConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { buildBot } from '../src/main.ts';
import { createMetrics } from '../src/metrics.ts';
import { createRedactor } from '../src/redact.ts';
import { RedisStore } from '../src/store/redis.ts';
import { RecordingChat } from '../test/support/recording-chat.ts';
import { startPrometheusServer } from '../src/drill/prometheus.ts';
import { startRedis } from '../test/support/redis.ts';
import {
  BENCH_ACCESS,
  benchTraffic,
  clock,
  DRILL_ZONE,
  drillRecords,
  PAYMENTS_TRAFFIC,
  startBenchRoute53,
  until,
} from './fixtures.ts';
import { machine, round, summarize, writeResult, type BenchResult } from './lib.ts';

const CHANNEL = 'C0BENCH';
const INTERVAL_MS = 1000;
const FAILURE_LIMIT = 3;
const MEMORY = 'max(bench_memory_working_set_ratio)';
const ERRORS = 'sum(rate(bench_requests{code=~"5.."}[1m])) / sum(rate(bench_requests[1m]))';
/** Two named conditions beside memory and errors: p99 latency (the one that breaches here) and a traffic floor. */
const LATENCY =
  'histogram_quantile(0.99, sum by (le) (rate(bench_request_duration_seconds_bucket{stack="{stack}"}[1m])))';
const THROUGHPUT = 'sum(rate(bench_requests{stack="{stack}"}[1m]))';
const CONDITIONS = 4;

export async function run(opts: { iterations?: number } = {}): Promise<BenchResult> {
  const iterations = opts.iterations ?? Number(process.env.BENCH_ITERATIONS ?? 5);
  // memory 42 %, 5xx 0.1 %, p99 200 ms, throughput 1 (above its 0.5 floor): healthy until latency goes to 1.2 s.
  const prometheus = await startPrometheusServer({
    values: { memory: '0.42', errors: '0.001', latency: '0.2' },
    answer: (query) => (query.includes('bench_requests{stack=') ? '1' : undefined),
  });
  const redis = await startRedis();
  const r53 = await startBenchRoute53();
  const redactor = createRedactor([]);
  const log = createLogger(redactor, { level: 'silent' });
  const metrics = createMetrics({ defaults: false });
  const config = parseConfig(
    {
      access: BENCH_ACCESS,
      services: {
        payments: {
          traffic: PAYMENTS_TRAFFIC,
          breaker: {
            source: { prometheus: prometheus.url },
            memory: MEMORY,
            errors: ERRORS,
            conditions: {
              latency: { query: LATENCY, above: 0.5, unit: 'seconds' },
              throughput: { query: THROUGHPUT, below: 0.5, minTraffic: 'sum(bench_traffic_ok) >= bool 1' },
            },
            interval: `${INTERVAL_MS}ms`,
            failureLimit: FAILURE_LIMIT,
          },
        },
      },
    },
    'bench config',
  );
  const store = new RedisStore(redis.url, { prefix: 'bench-breaker:' });
  const chat = new RecordingChat();
  const bot = buildBot({
    config,
    store,
    chat,
    log,
    redactor,
    metrics,
    env: {},
    schedulerTickMs: 50,
    breaker: { tickMs: 50 },
    adapters: { traffic: benchTraffic(r53, config, metrics, log) },
  });
  const user = (id: string) => ({ id, name: id.slice(2).toLowerCase() });
  const respond = async () => {};
  const samples: number[] = [];
  const overheads: number[] = [];
  try {
    await bot.start();
    await bot.handleCommand({
      command: '/incident',
      text: 'declare payments sev=2 bench',
      user: user('U0ALICE'),
      channel: CHANNEL,
      respond,
    });
    for (let i = 0; i < iterations; i++) {
      prometheus.values.latency = '0.2';
      r53.setRecords(DRILL_ZONE, drillRecords(10));
      await bot.handleCommand({
        command: '/breaker',
        text: 'arm',
        user: user('U0ALICE'),
        channel: CHANNEL,
        respond,
      });
      const action = await until('the arm request', async () =>
        (await bot.deps.approvals.listForIncident('INC-1')).find(
          (a) => a.kind === 'breaker.arm' && a.state === 'requested',
        ),
      );
      await bot.handleButton({
        actionId: APPROVE_ACTION,
        value: approveValue(bot.deps.keys, action),
        user: user('U0BOB'),
        channel: CHANNEL,
        ...(action.card ? { message: action.card } : {}),
        respond,
      });
      await until('armed', async () =>
        (await getBreaker(bot.deps, 'payments'))?.status === 'armed' ? true : undefined,
      );
      // Healthy for a while, then the breach appears at a phase of the interval that varies per iteration.
      await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS + ((i * 0.37) % 1) * INTERVAL_MS));
      const before = r53.accepted.length;
      const nextEvalAt = (await getBreaker(bot.deps, 'payments'))?.nextEvalAt ?? Date.now();
      prometheus.values.latency = '1.2';
      const t0 = clock();
      const untilNext = Math.max(0, nextEvalAt - Date.now());
      const change = await until('the ChangeBatch', async () => r53.accepted[before]);
      samples.push(change.at - t0);
      // What the schedule alone costs: the wait for the next evaluation, then failureLimit - 1 more intervals.
      overheads.push(change.at - t0 - untilNext - (FAILURE_LIMIT - 1) * INTERVAL_MS);
      await until('the trip to finish', async () =>
        (await getBreaker(bot.deps, 'payments'))?.trip?.phase === 'done' ? true : undefined,
      );
      await bot.idle();
    }
    const stats = summarize(samples);
    const budget = INTERVAL_MS * FAILURE_LIMIT;
    const ratio = round(stats.max / budget, 3);
    const overhead = summarize(overheads);
    return {
      name: 'breaker-detection',
      title: `Breach visible at a Prometheus endpoint to ChangeBatch at a local Route 53, ${CONDITIONS} conditions (p99 latency breaches), interval ${INTERVAL_MS} ms x failureLimit ${FAILURE_LIMIT}, ${iterations} trips, real Redis`,
      when: new Date().toISOString(),
      machine: machine(),
      headline: {
        p50: `${stats.p50} ms`,
        max: `${stats.max} ms`,
        'max / (interval x failureLimit)': `${ratio}`,
        'bot overhead p50': `${overhead.p50} ms`,
      },
      target: {
        text: `worst trip <= interval x failureLimit (${budget} ms) + 250 ms of the bot's own work`,
        met: stats.max <= budget + 250,
      },
      details: {
        ...stats,
        samplesMs: samples.map((s) => round(s, 1)),
        overheadMs: overhead,
        budgetMs: budget,
        p50Ratio: round(stats.p50 / budget, 3),
        maxRatio: ratio,
        iterations,
        changeBatches: r53.accepted.length,
        conditions: CONDITIONS,
        prometheusQueries: prometheus.queries,
        note: 'A trip comes (failureLimit - 1) x interval after the first evaluation that sees the breach; overheadMs is what remains after that schedule: evaluator tick granularity (50 ms here), the queries, Redis, planning, the legacy health check and the ChangeBatch.',
      },
    };
  } finally {
    await bot.stop();
    await store.close();
    await r53.stop();
    await redis.stop();
    await prometheus.stop();
  }
}

if (import.meta.main) {
  const result = await run();
  console.log(JSON.stringify(result, null, 2));
  console.log(`written to ${writeResult(result)}`);
}
