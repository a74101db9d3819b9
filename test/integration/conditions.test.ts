// Named breaker conditions and the cloud-against-legacy comparison end to end: real Redis, a local Route 53, and the
// local Prometheus API (src/drill/prometheus.ts) answering latency, memory, 5xx and traffic.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getBreaker } from '../../flows/breaker/evaluator.ts';
import { getCanary } from '../../flows/canary/canary.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { textOf } from '../support/bot.ts';
import {
  breakerBot,
  breakerConfig,
  paymentsRecords,
  startRoute53,
  type BreakerBot,
  type Route53Kit,
} from '../support/breaker.ts';
import { startPrometheusServer, type PrometheusServer, type RangeAsk } from '../../src/drill/prometheus.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const INTERVAL = 30_000;
const LATENCY =
  'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="payments", service="payments-{stack}"}[2m])))';
const LATENCY_GUARD =
  'sum(rate(http_requests_total{namespace="payments", service="payments-{stack}"}[2m])) >= bool 20';

/** p99 latencies around `base` seconds, deterministic jitter of ±10 %. */
function around(base: number, count = 60): number[] {
  return Array.from({ length: count }, (_, i) => Number((base * (0.9 + ((i * 37) % 21) / 100)).toFixed(4)));
}

describe('breaker conditions and the canary comparison (real Redis, local Route 53, local Prometheus API)', () => {
  let store: RedisStore;
  let r53: Route53Kit;
  let prom: PrometheusServer;
  const bots: BreakerBot[] = [];

  afterEach(async () => {
    for (const b of bots.splice(0)) await b.bot.stop();
    await store.close();
    await r53.server.stop();
    await prom.stop();
  });

  async function setUp(opts: {
    records?: Parameters<typeof paymentsRecords>[0];
    latency?: Record<string, unknown>;
    answer?: (query: string) => string | undefined;
    range?: (ask: RangeAsk) => readonly number[] | 'empty' | undefined;
    rangeWarnings?: (ask: RangeAsk) => string[] | undefined;
  }): Promise<BreakerBot> {
    store = await isolatedRedisStore();
    r53 = await startRoute53(paymentsRecords(opts.records));
    prom = await startPrometheusServer({
      ...(opts.answer ? { answer: opts.answer } : {}),
      ...(opts.range ? { range: opts.range } : {}),
      ...(opts.rangeWarnings ? { rangeWarnings: opts.rangeWarnings } : {}),
    });
    const config = breakerConfig({
      breaker: {
        source: { prometheus: prom.url },
        conditions: {
          latency: { query: LATENCY, above: 0.5, unit: 'seconds', ...opts.latency },
        },
      },
    });
    const t = breakerBot({ store, config, r53 });
    bots.push(t);
    await t.command('alice', '/incident', 'declare payments sev=3 latency drill');
    await t.command('alice', '/breaker', 'arm');
    const action = (await t.bot.deps.approvals.listForIncident('INC-1')).find(
      (a) => a.kind === 'breaker.arm',
    );
    assert.ok(action);
    await t.click('bob', APPROVE_ACTION, action.id);
    assert.equal((await getBreaker(t.bot.deps, 'payments'))?.status, 'armed');
    return t;
  }

  async function canaryKinds(t: BreakerBot): Promise<string[]> {
    return (await t.bot.deps.timeline.read('INC-1'))
      .map((e) => e.kind)
      .filter((k) => k.startsWith('canary.'));
  }

  async function startCanary(t: BreakerBot, text: string): Promise<void> {
    await t.command('alice', '/canary', text);
    const action = (await t.bot.deps.approvals.listForIncident('INC-1')).find(
      (a) => a.kind === 'canary.start',
    );
    assert.ok(action, 'the canary approval card was posted');
    await t.click('dave', APPROVE_ACTION, action.id);
    assert.equal((await getCanary(t.bot.deps, 'payments'))?.status, 'baking');
  }

  it('a latency-only breach trips the breaker, and every message names latency, its value and its threshold', async () => {
    // Memory 42 % and 5xx 0.1 % stay far under their thresholds; only p99 latency (1.2 s > 500 ms) is bad.
    const t = await setUp({ answer: (q) => (q.includes('histogram_quantile') ? '1.2' : undefined) });
    const armCard = t.chat.sent.find((s) => textOf(s.message).includes('Trips on'));
    assert.match(textOf(armCard?.message), /memory > 80\.0% of limit or 5xx > 1\.00% or latency > 500 ms/);
    assert.match(
      textOf(armCard?.message),
      /latency \(latency &gt; 500 ms\): `histogram_quantile\(0\.99, .*payments-cloud/,
    );

    await t.step(INTERVAL);
    await t.step(INTERVAL);
    assert.equal(r53.weights(), 'cloud=80 legacy=20', 'two breaches do not trip');
    await t.step(INTERVAL);

    assert.equal(r53.weights(), 'cloud=0 legacy=100');
    const state = await getBreaker(t.bot.deps, 'payments');
    assert.equal(state?.status, 'tripped');
    assert.deepEqual(
      state?.trip?.conditions?.map((c) => [c.name, c.outcome, c.value, c.threshold]),
      [
        ['memory', 'ok', 0.42, 0.8],
        ['errors', 'ok', 0.001, 0.01],
        ['latency', 'breach', 1.2, 0.5],
      ],
    );
    const trip = t.chat.sent.find((s) => textOf(s.message).startsWith('payments breaker tripped'));
    assert.match(
      textOf(trip?.message),
      /3 breaches in a row: latency \*1\.20 s\* \(threshold 500 ms\), memory \*42\.0%\* \(threshold 80\.0%\), 5xx \*0\.100%\* \(threshold 1\.00%\)/,
    );
    const tripped = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'breaker.tripped');
    assert.match(tripped?.summary ?? '', /latency 1\.20 s \(limit 500 ms\)/);
    const status = textOf((await t.command('carol', '/breaker', 'status'))[0]);
    assert.match(status, /\*Trip\* .* \(3 breaches of latency 1\.20 s \(limit 500 ms\)\) on INC-1/);
    assert.match(status, /breach\s+memory 42\.0% ≤ 80\.0%, 5xx 0\.100% ≤ 1\.00%, latency 1\.20 s > 500 ms/);
    const reply = textOf((await t.command('carol', '/postmortem'))[0]);
    const path = /^Post-mortem draft for INC-1: (\S+\.md)/.exec(reply)?.[1];
    assert.ok(path, reply);
    const postmortem = readFileSync(path, 'utf8');
    assert.match(postmortem, /TRIPPED after 3 breaches in a row: latency 1\.20 s \(limit 500 ms\)/);
    assert.match(postmortem, /The breaker tripped at .*: latency 1\.2 \(threshold 0\.5\), memory 0\.42/);
  });

  it('a condition with too little traffic never trips, however bad its value', async () => {
    const t = await setUp({
      latency: { minTraffic: LATENCY_GUARD },
      answer: (q) => (q.includes('histogram_quantile') ? '5' : q.includes('>= bool 20') ? '0' : undefined),
    });
    for (let i = 0; i < 6; i++) await t.step(INTERVAL);
    const state = await getBreaker(t.bot.deps, 'payments');
    assert.equal(state?.status, 'armed');
    assert.equal(state?.evaluations, 6);
    assert.deepEqual(state?.counters, { breaches: 0, inconclusive: 0, alerted: false });
    const latency = state?.last.at(-1)?.conditions?.find((c) => c.name === 'latency');
    assert.deepEqual([latency?.outcome, latency?.skipped, latency?.traffic], ['ok', true, 'low']);
    assert.equal(r53.weights(), 'cloud=80 legacy=20');
    assert.equal(r53.server.accepted.length, 0);
    const status = textOf((await t.command('carol', '/breaker', 'status'))[0]);
    assert.match(status, /latency skipped \(too little traffic to judge \(minTraffic guard\)\)/);
  });

  it('a statistically worse cloud fails a canary step while inside every fixed threshold', async () => {
    // Cloud p99 ~280 ms against legacy ~200 ms: 40 % worse, yet far under the 500 ms threshold (and memory, 5xx ok).
    const t = await setUp({
      records: { legacy: 100, cloud: 0 },
      latency: { compare: true },
      answer: (q) => (q.includes('histogram_quantile') ? '0.28' : undefined),
      range: (ask) => (ask.query.includes('payments-legacy') ? around(0.2) : around(0.28)),
    });
    await startCanary(t, 'start steps=10,50 bake=90s');
    assert.equal(r53.weights(), 'cloud=10 legacy=90');
    await t.step(INTERVAL);
    await t.step(INTERVAL);
    await t.step(INTERVAL);

    assert.equal(r53.weights(), 'cloud=0 legacy=100', 'back to legacy, never on to 50 %');
    assert.equal((await getBreaker(t.bot.deps, 'payments'))?.status, 'armed', 'no threshold was crossed');
    assert.equal((await getCanary(t.bot.deps, 'payments'))?.status, 'aborted');
    assert.deepEqual(await canaryKinds(t), [
      'canary.started',
      'canary.step',
      'canary.judged',
      'canary.aborted',
    ]);
    const judged = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'canary.judged');
    assert.match(
      judged?.summary ?? '',
      /step 1 \(cloud 10%\) against legacy: cloud is worse\. latency: cloud is worse — median cloud 2\d\d ms vs legacy 2\d\d ms \(46\/46 values\), p = /,
    );
    assert.equal(judged?.data.decision, 'worse');
    const [ask] = prom.ranges;
    assert.equal(ask?.end, Date.parse('2026-11-26T10:01:35Z') / 1000, 'the window ends when the bake ends');
    assert.equal((ask?.end ?? 0) - (ask?.start ?? 0), 90, 'and covers the whole bake');
    const card = (await getCanary(t.bot.deps, 'payments'))?.card;
    assert.ok(card);
    assert.match(textOf(t.chat.latest(card)), /latency: cloud is worse — median cloud/);
  });

  it('a cloud stack like legacy passes every step', async () => {
    const t = await setUp({
      records: { legacy: 100, cloud: 0 },
      latency: { compare: true },
      range: () => around(0.2),
    });
    await startCanary(t, 'start steps=10,50 bake=90s');
    for (let i = 0; i < 6; i++) await t.step(INTERVAL);
    assert.equal(r53.weights(), 'cloud=50 legacy=50');
    assert.equal((await getCanary(t.bot.deps, 'payments'))?.status, 'completed');
    const judged = (await t.bot.deps.timeline.read('INC-1')).filter((e) => e.kind === 'canary.judged');
    assert.deepEqual(
      judged.map((e) => e.data.decision),
      ['same', 'same'],
    );
    assert.match(
      judged[0]?.summary ?? '',
      /latency: no difference — median cloud 2\d\d ms vs legacy 2\d\d ms/,
    );
  });

  it('/preflight asks every condition for both stacks and fails one that has no data for legacy', async () => {
    const asked: string[] = [];
    const t = await setUp({
      answer: (q) => {
        asked.push(q);
        return q.includes('payments-legacy') ? 'empty' : undefined;
      },
    });
    asked.length = 0;
    const reply = textOf((await t.command('alice', '/preflight'))[0]);
    assert.match(
      reply,
      /FAIL Every breaker condition's query returns data for both stacks: latency \(legacy\): no data \(empty result\) — fix: Fix the queries under services\.payments\.breaker/,
    );
    assert.ok(asked.some((q) => q.includes('service="payments-cloud"}[2m])))')));
    assert.ok(asked.some((q) => q.includes('service="payments-legacy"}[2m])))')));
    assert.equal(r53.server.accepted.length, 0, 'preflight only reads');
  });

  // Prometheus HTTP API, "Format overview": a query can succeed with "warnings" and only the data it could collect.
  it('partial data (a range answer with warnings) never clears a step: it is not enough data, and says why', async () => {
    const t = await setUp({
      records: { legacy: 100, cloud: 0 },
      latency: { compare: true },
      // What came back looks like legacy, but one store did not answer for cloud: the worst pods may be missing.
      range: () => around(0.2),
      rangeWarnings: (ask) =>
        ask.query.includes('payments-cloud')
          ? ['remote store eu-west-1b: context deadline exceeded']
          : undefined,
    });
    await startCanary(t, 'start steps=10,50 bake=90s');
    for (let i = 0; i < 5; i++) await t.step(INTERVAL);
    assert.equal(r53.weights(), 'cloud=10 legacy=90', 'never on to 50 % on partial data');
    assert.equal(r53.server.accepted.length, 1, 'only step 1 was written');
    assert.equal((await getCanary(t.bot.deps, 'payments'))?.status, 'paused');
    const judged = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'canary.judged');
    assert.equal(judged?.data.decision, 'not_enough_data');
    assert.match(
      judged?.summary ?? '',
      /latency: not enough data — partial data: Prometheus warned "remote store eu-west-1b: context deadline exceeded"/,
    );
  });

  it('partial data does not hide a worse cloud: the step still aborts to legacy', async () => {
    const t = await setUp({
      records: { legacy: 100, cloud: 0 },
      latency: { compare: true },
      answer: (q) => (q.includes('histogram_quantile') ? '0.28' : undefined),
      range: (ask) => (ask.query.includes('payments-legacy') ? around(0.2) : around(0.28)),
      rangeWarnings: () => ['shard 3 of 4 did not answer'],
    });
    await startCanary(t, 'start steps=10,50 bake=90s');
    for (let i = 0; i < 3; i++) await t.step(INTERVAL);
    assert.equal(r53.weights(), 'cloud=0 legacy=100');
    const judged = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'canary.judged');
    assert.equal(judged?.data.decision, 'worse');
  });

  it('not enough data holds the step where it is: nothing moves', async () => {
    const t = await setUp({
      records: { legacy: 100, cloud: 0 },
      latency: { compare: true },
      range: (ask) => (ask.query.includes('payments-legacy') ? around(0.2) : 'empty'),
    });
    await startCanary(t, 'start steps=10,50 bake=90s');
    for (let i = 0; i < 5; i++) await t.step(INTERVAL);
    assert.equal(r53.weights(), 'cloud=10 legacy=90');
    assert.equal(r53.server.accepted.length, 1, 'only step 1 was written');
    assert.equal((await getCanary(t.bot.deps, 'payments'))?.status, 'paused');
    const events = await t.bot.deps.timeline.read('INC-1');
    assert.match(
      events.find((e) => e.kind === 'canary.judged')?.summary ?? '',
      /not enough data\. latency: not enough data — median cloud n\/a vs legacy 2\d\d ms \(0\/46 values\)/,
    );
    assert.match(
      events.find((e) => e.kind === 'canary.paused')?.summary ?? '',
      /not enough data to compare cloud with legacy/,
    );
  });
});
