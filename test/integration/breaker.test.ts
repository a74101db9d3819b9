// The breaker end to end on real Redis: armed by two people, evaluated on a controlled clock against nock'd
// Prometheus, tripping to legacy on a local Route 53 endpoint; inconclusive data, paging, Slack outages, restarts.
import assert from 'node:assert/strict';
import nock from 'nock';
import { getBreaker } from '../../flows/breaker/evaluator.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { Action } from '../../src/actions.ts';
import type { TrafficPort } from '../../src/adapters/traffic.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { fakeClock } from '../support/aws.ts';
import { CHANNEL, textOf } from '../support/bot.ts';
import {
  breakerBot,
  breakerConfig,
  ERRORS_QUERY,
  FlakyChat,
  HOME_CHANNEL,
  MEMORY_QUERY,
  nockEvaluation,
  PROM_ERRORS,
  PROMETHEUS,
  startRoute53,
  type BreakerBot,
  type Route53Kit,
} from '../support/breaker.ts';
import { useNock } from '../support/nock.ts';
import { EVENTS, PD_EVENTS } from '../support/pagerduty.ts';
import { isolatedRedisStore, testRedisUrl } from '../support/redis.ts';

const INTERVAL = 30_000;

describe('circuit breaker (real Redis, local Route 53, Prometheus by nock)', () => {
  useNock();
  let store: RedisStore;
  let r53: Route53Kit;
  const bots: BreakerBot[] = [];
  const extraStores: RedisStore[] = [];

  beforeEach(async () => {
    store = await isolatedRedisStore();
    r53 = await startRoute53();
  });

  afterEach(async () => {
    for (const b of bots.splice(0)) await b.bot.stop();
    for (const s of extraStores.splice(0)) await s.close().catch(() => {});
    await store.close();
    await r53.server.stop();
  });

  function bot(opts: Partial<Parameters<typeof breakerBot>[0]> = {}): BreakerBot {
    const b = breakerBot({ store, config: breakerConfig(), r53, ...opts });
    bots.push(b);
    return b;
  }

  async function kinds(t: BreakerBot, incident = 'INC-1'): Promise<string[]> {
    return (await t.bot.deps.timeline.read(incident)).map((e) => e.kind);
  }

  /** alice declares and asks to arm; bob approves. Returns the arming request. */
  async function arm(t: BreakerBot): Promise<Action> {
    await t.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
    const replies = await t.command('alice', '/breaker', 'arm');
    assert.match(textOf(replies[0]), /Approval card posted for \*Arm payments's circuit breaker/);
    const action = (await t.bot.deps.approvals.listForIncident('INC-1')).find(
      (a) => a.kind === 'breaker.arm',
    );
    assert.ok(action);
    assert.match(
      textOf((await t.click('alice', APPROVE_ACTION, action.id))[0]),
      /a second person must approve/,
    );
    assert.equal((await getBreaker(t.bot.deps, 'payments'))?.status ?? 'never', 'never');
    assert.deepEqual(await t.click('bob', APPROVE_ACTION, action.id), []);
    return action;
  }

  function posts(t: BreakerBot, channel: string): string[] {
    return t.chat.sent
      .filter((s) => s.kind === 'post' && s.channel === channel)
      .map((s) => textOf(s.message));
  }

  function nockChart(): nock.Scope {
    const matrix = (v: string) => ({
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          {
            metric: { pod: 'payments-cloud-7d9f8-a0' },
            values: [
              [1795685400, v],
              [1795686300, v],
              [1795687200, v],
            ],
          },
        ],
      },
    });
    const form = (b: unknown, q: string) =>
      typeof b === 'string'
        ? new URLSearchParams(b).get('query') === q
        : (b as { query?: string }).query === q;
    return nock(PROMETHEUS)
      .post('/api/v1/query_range', (b) => form(b, MEMORY_QUERY))
      .reply(200, matrix('0.91'))
      .post('/api/v1/query_range', (b) => form(b, ERRORS_QUERY))
      .reply(200, matrix('0.002'));
  }

  it('arms only with a second approver, trips after exactly failureLimit breaches, shifts once and latches', async () => {
    const t = bot();
    const action = await arm(t);
    const card = textOf(t.chat.latest(action.card ?? { channel: '', ts: '' }));
    assert.match(card, /Pre-authorised change/);
    assert.match(card, /Shift payments to legacy 100% \(Route 53\), once, when it trips/);
    assert.match(card, /memory > 80\.0% of limit or 5xx > 1\.00%, 3 times in a row, evaluated every 30s/);
    const armed = await getBreaker(t.bot.deps, 'payments');
    assert.equal(armed?.status, 'armed');
    assert.deepEqual([armed?.armedBy?.name, armed?.approvedBy?.map((a) => a.name)], ['alice', ['bob']]);
    assert.ok((await kinds(t)).includes('breaker.armed'));

    nockEvaluation(['0.62', '0.91']);
    await t.step(0);
    nockEvaluation(['0.93', '0.7']);
    await t.step(INTERVAL);
    assert.equal(r53.server.accepted.length, 0, 'two breaches do not trip');
    assert.equal((await getBreaker(t.bot.deps, 'payments'))?.counters.breaches, 2);

    nockEvaluation(['0.95'], ['0.004']);
    nockChart();
    await t.step(INTERVAL);
    assert.equal(r53.server.accepted.length, 1, 'the third breach trips: one ChangeBatch');
    assert.equal(r53.weights(), 'cloud=0 legacy=100');
    const comment = r53.server.requests.find((r) => r.method === 'POST')?.body ?? '';
    assert.match(
      comment,
      /<Comment>cloud-safety INC-1 trip-act-[0-9a-f]{8}: payments legacy 100% by payments breaker: breaker tripped \(3 breaches\)<\/Comment>/,
    );

    const tripped = await getBreaker(t.bot.deps, 'payments');
    assert.equal(tripped?.status, 'tripped');
    assert.equal(tripped?.trip?.phase, 'done');
    assert.equal(tripped?.trip?.outcome?.ok, true);
    assert.deepEqual(tripped?.trip?.values, { memory: 0.95, errors: 0.004 });

    const events = await t.bot.deps.timeline.read('INC-1');
    const trip = events.find((e) => e.kind === 'breaker.tripped');
    assert.equal(trip?.actor.type, 'breaker');
    assert.deepEqual(trip?.data.values, { memory: 0.95, errors: 0.004 });
    assert.deepEqual(trip?.data.thresholds, { memory: 0.8, errors: 0.01 });
    assert.equal(trip?.data.breaches, 3);
    const after = events.slice(events.indexOf(trip ?? events[0]!)).map((e) => `${e.kind}:${e.actor.type}`);
    assert.deepEqual(after.slice(0, 3), [
      'breaker.tripped:breaker',
      'traffic.submitted:breaker',
      'traffic.in_sync:system',
    ]);
    assert.ok(!events.some((e) => e.kind === 'breaker.paged'), 'an open incident is not paged again');

    const message = posts(t, CHANNEL).find((m) => m.startsWith('payments breaker tripped'));
    assert.match(
      message ?? '',
      /payments breaker tripped: 3 breaches in a row: memory \*95\.0%\* \(threshold 80\.0%\), 5xx \*0\.400%\* \(threshold 1\.00%\)\. Traffic on legacy 100%\./,
    );
    const chart = t.chat.sent.find((s) => s.kind === 'upload');
    assert.ok(chart?.threadTs, 'the chart is in the trip message thread');
    assert.match(chart?.file?.filename ?? '', /^payments-breaker-20261126T1001\d\d\.png$/);
    assert.equal((chart?.file?.content as Buffer).subarray(1, 4).toString(), 'PNG');

    // Latched: no more evaluations (no Prometheus call is mocked), no more writes.
    await t.step(INTERVAL);
    await t.step(INTERVAL);
    assert.equal(r53.server.accepted.length, 1);
    assert.equal((await getBreaker(t.bot.deps, 'payments'))?.evaluations, 3);

    const status = textOf((await t.command('carol', '/breaker', 'status'))[0]);
    assert.match(status, /TRIPPED \(latched\)/);
    assert.match(status, /breach\s+memory 95\.0% > 80\.0%, 5xx 0\.400% ≤ 1\.00%/);
    assert.match(status, /shifted to legacy 100%/);

    // Raising the cloud share again needs a new approval: re-arming is a new request.
    const rearm = await t.command('alice', '/breaker', 'arm');
    assert.match(textOf(rearm[0]), /Approval card posted/);
    const second = (await t.bot.deps.approvals.listForIncident('INC-1')).filter(
      (a) => a.kind === 'breaker.arm',
    );
    assert.equal(second.length, 2);
    assert.match(textOf(t.chat.latest(second[1]?.card ?? { channel: '', ts: '' })), /re-arms after the trip/);
  });

  it('never trips on NaN, empty or failed queries; alerts the channel once after errorLimit; counts across them', async () => {
    const t = bot();
    await arm(t);
    nockEvaluation(['NaN', 'NaN']);
    await t.step(0);
    nockEvaluation([], ['0.002']);
    await t.step(INTERVAL);
    nockEvaluation({ status: 503, body: PROM_ERRORS.timeout });
    await t.step(INTERVAL);
    assert.ok(!posts(t, CHANNEL).some((m) => m.includes('no usable metrics')), 'no alert before errorLimit');
    nockEvaluation({ status: 422, body: PROM_ERRORS.execution });
    await t.step(INTERVAL);
    let state = await getBreaker(t.bot.deps, 'payments');
    assert.deepEqual(state?.counters, { breaches: 0, inconclusive: 4, alerted: true });
    assert.deepEqual(
      state?.last.map((e) => e.memory?.note),
      [
        'NaN/Inf in all 2 series',
        'no data (empty result)',
        'query failed: query failed (HTTP 503, timeout): query timed out in expression evaluation',
        `query failed: query failed (HTTP 422, execution): ${PROM_ERRORS.execution.error}`.slice(0, 314),
      ],
    );
    const alerts = posts(t, CHANNEL).filter((m) => m.includes('no usable metrics'));
    assert.equal(alerts.length, 1);
    assert.match(alerts[0] ?? '', /payments's breaker has had no usable metrics for 4 evaluations in a row/);
    const recorded = await kinds(t);
    assert.ok(recorded.includes('breaker.inconclusive'));
    const paged = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'breaker.paged');
    assert.match(
      paged?.summary ?? '',
      /not paged for the no-data alert: incident INC-1 is open for payments/,
    );

    nockEvaluation(['0.4'], ['NaN']);
    await t.step(INTERVAL);
    assert.equal(
      posts(t, CHANNEL).filter((m) => m.includes('no usable metrics')).length,
      1,
      'alerted once per run',
    );

    // An inconclusive evaluation between breaches neither resets nor adds to the count.
    nockEvaluation(['0.97']);
    await t.step(INTERVAL);
    nockEvaluation({ status: 503, body: PROM_ERRORS.timeout }, ['0.001']);
    await t.step(INTERVAL);
    nockEvaluation(['0.98']);
    await t.step(INTERVAL);
    state = await getBreaker(t.bot.deps, 'payments');
    assert.deepEqual(state?.counters, { breaches: 2, inconclusive: 0, alerted: false });
    assert.equal(r53.server.accepted.length, 0, 'nothing shifted on missing data');
    assert.equal(r53.weights(), 'cloud=80 legacy=20');

    // Low traffic (guard 0) skips the error ratio: memory alone decides, and an ok memory resets.
    nockEvaluation(['0.5'], ['0.6'], ['0']);
    await t.step(INTERVAL);
    state = await getBreaker(t.bot.deps, 'payments');
    assert.equal(state?.last.at(-1)?.outcome, 'ok');
    assert.equal(state?.last.at(-1)?.errors?.skipped, true);
    assert.equal(state?.counters.breaches, 0);
  });

  it('onNoData: rollback trips after errorLimit inconclusive evaluations', async () => {
    const t = bot({ config: breakerConfig({ breaker: { onNoData: 'rollback', errorLimit: 2 } }) });
    await arm(t);
    nockEvaluation([]);
    await t.step(0);
    assert.equal(r53.server.accepted.length, 0);
    nockEvaluation({ status: 503, body: PROM_ERRORS.timeout });
    await t.step(INTERVAL);
    assert.equal(r53.server.accepted.length, 1);
    const trip = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'breaker.tripped');
    assert.equal(trip?.data.reason, 'no_data');
    assert.match(trip?.summary ?? '', /TRIPPED on missing data \(onNoData: rollback\)/);
  });

  it('with no incident open: pages PagerDuty first, declares in the service channel, records it all there', async () => {
    const t = bot();
    await arm(t);
    await t.command('alice', '/incident', 'resolve armed for the night');
    let page: Record<string, unknown> = {};
    nock(PD_EVENTS)
      .post('/v2/enqueue', (b: Record<string, unknown>) => {
        page = b;
        return true;
      })
      .reply(202, EVENTS.accepted('cloud-safety/payments/breaker'));
    for (const [i, v] of ['0.91', '0.92', '0.93'].entries()) {
      nockEvaluation([v], ['0.02']);
      await t.step(i === 0 ? 0 : INTERVAL);
    }
    assert.equal(r53.server.accepted.length, 1);
    const declared = await t.bot.deps.incidents.active(HOME_CHANNEL);
    assert.equal(declared?.id, 'INC-2');
    assert.equal(declared?.commander.type, 'breaker');
    assert.equal(page.routing_key, 'e93facc04764012d7bfb002500d5d1a6');
    assert.equal(page.dedup_key, 'cloud-safety/payments/breaker');
    assert.match(
      String((page.payload as Record<string, unknown>).summary),
      /^payments breaker tripped: memory 93\.0% \(limit 80\.0%\), 5xx 2\.00% \(limit 1\.00%\); shifting traffic to legacy 100%$/,
    );
    assert.deepEqual(
      (await kinds(t, 'INC-2')).filter((k) => !k.startsWith('traffic.in')),
      ['incident.declared', 'breaker.tripped', 'traffic.submitted', 'breaker.paged'],
    );
    const message = posts(t, HOME_CHANNEL).find((m) => m.startsWith('payments breaker tripped'));
    assert.match(message ?? '', /Traffic on legacy 100%/);
  });

  it('shifts even when Slack is unreachable, and delivers the message and chart once Slack is back', async () => {
    const chat = new FlakyChat();
    const t = bot({ chat });
    await arm(t);
    chat.down = true;
    nockEvaluation(['0.9']);
    await t.step(0);
    nockEvaluation(['0.9']);
    await t.step(INTERVAL);
    nockEvaluation(['0.9']);
    await t.step(INTERVAL);
    assert.equal(r53.server.accepted.length, 1, 'the shift did not wait for Slack');
    assert.equal(r53.weights(), 'cloud=0 legacy=100');
    assert.ok(chat.failures > 0);
    assert.ok(!posts(t, CHANNEL).some((m) => m.startsWith('payments breaker tripped')));
    assert.ok(
      (await kinds(t)).includes('breaker.tripped'),
      'the timeline has it before anyone could be told',
    );

    await t.step(5000); // first retry: Slack still down
    assert.ok(!posts(t, CHANNEL).some((m) => m.startsWith('payments breaker tripped')));
    chat.down = false;
    await t.step(10_000); // second retry, 10 s later: delivered; the chart comes from the kept evaluations
    const delivered = posts(t, CHANNEL).filter((m) => m.startsWith('payments breaker tripped'));
    assert.equal(delivered.length, 1);
    const chart = chat.sent.find((s) => s.kind === 'upload');
    assert.match(chart?.file?.comment ?? '', /From the breaker’s own evaluations/);
    await t.step(60_000);
    assert.equal(
      posts(t, CHANNEL).filter((m) => m.startsWith('payments breaker tripped')).length,
      1,
      'delivered once',
    );
  });

  it('reads CloudWatch GetMetricData as its source: latest datapoint per query, trips on the third breach', async () => {
    const MONITORING = 'https://monitoring.test';
    const config = breakerConfig({
      breaker: {
        source: { cloudwatch: { region: 'eu-west-1' } },
        memory: {
          expression: 'm1 / 100',
          metrics: {
            m1: {
              namespace: 'ContainerInsights',
              metricName: 'pod_memory_utilization_over_pod_limit',
              dimensions: { ClusterName: 'prod', Namespace: 'payments', Service: 'payments-cloud' },
              stat: 'Maximum',
            },
          },
        },
        errors: 'IF(m2 >= {minRps}, m3 / m2, 0)',
        minRps: 5,
      },
    });
    const t = bot({
      config,
      env: {
        AWS_ENDPOINT_URL_CLOUDWATCH: MONITORING,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLETEST',
        AWS_SECRET_ACCESS_KEY: 'test-secret-key-not-real',
      },
    });
    await arm(t);
    const expressions: string[] = [];
    const answer = (values: number[]) =>
      nock(MONITORING)
        .post('/', (b: { MetricDataQueries: { Expression?: string }[] }) => {
          expressions.push(b.MetricDataQueries.at(-1)?.Expression ?? '');
          return true;
        })
        .matchHeader('x-amz-target', 'GraniteServiceVersion20100801.GetMetricData')
        .reply(
          200,
          {
            MetricDataResults: [
              {
                Id: 'result',
                Label: 'result',
                Timestamps: values.map((_, i) => 1795687140 - 60 * i),
                Values: values,
                StatusCode: 'Complete',
              },
            ],
            Messages: [],
          },
          { 'content-type': 'application/x-amz-json-1.0' },
        );
    for (const [i, memory] of [0.91, 0.92, 0.93].entries()) {
      answer([memory, 0.5]);
      answer([0.002]);
      await t.step(i === 0 ? 0 : INTERVAL);
    }
    assert.deepEqual(expressions.slice(0, 2).sort(), ['IF(m2 >= 5, m3 / m2, 0)', 'm1 / 100']);
    assert.equal(r53.server.accepted.length, 1);
    const trip = (await getBreaker(t.bot.deps, 'payments'))?.trip;
    assert.deepEqual(trip?.values, { memory: 0.93, errors: 0.002 });
  });

  it('refuses bad input with a message and touches nothing', async () => {
    const t = bot();
    const cases: [string, RegExp][] = [
      ['', /Say what to do: arm, disarm or status/],
      ['explode', /Unknown subcommand "explode"; use arm, disarm or status/],
      ['arm payments now', /Unexpected "now"; \/breaker arm takes at most a service name/],
      ['status payments interval=5s', /Unknown option interval=\. This command takes no options/],
      ['status nosuch', /Unknown service "nosuch"\. Configured services: payments, checkout/],
      ['status', /Name the service \(this channel has no active incident/],
      ['arm payments', /Arming is approved and recorded on an incident timeline/],
      ['disarm payments', /payments's breaker is not armed; nothing to disarm/],
      ['status checkout', /checkout has no breaker configured\. Add services\.checkout\.breaker/],
    ];
    for (const [text, expected] of cases) {
      const replies = await t.command('alice', '/breaker', text);
      assert.match(textOf(replies[0]), expected, text);
    }
    await t.command('alice', '/incident', 'declare checkout sev=3 test');
    assert.match(
      textOf((await t.command('alice', '/breaker', 'arm'))[0]),
      /checkout has no breaker configured/,
    );
    assert.match(
      textOf((await t.command('mallory', '/breaker', 'status payments'))[0]),
      /Only responders can run cloud-safety commands/,
    );
    assert.equal(r53.server.requests.length, 0, 'no Route 53 call');
    assert.equal(await getBreaker(t.bot.deps, 'payments'), null);
    assert.equal((await t.bot.deps.approvals.listForIncident('INC-1')).length, 0);
  });

  it('disarm stops evaluation and is recorded; status says who armed it and what it saw', async () => {
    const t = bot();
    await arm(t);
    nockEvaluation(['0.41', '0.44'], ['0.0004']);
    await t.step(0);
    const status = textOf((await t.command('carol', '/breaker', 'status'))[0]);
    assert.match(status, /armed/);
    assert.match(status, /approved by <@U0BOB>/);
    assert.match(status, /ok\s+memory 44\.0% ≤ 80\.0%, 5xx 0\.040% ≤ 1\.00% · traffic enough/);
    assert.match(status, /breaches 0\/3 in a row · inconclusive 0\/4/);
    assert.match(status, /holds the lease/);
    const reply = await t.command('carol', '/breaker', 'disarm');
    assert.match(textOf(reply[0]), /payments's breaker is disarmed: nothing watches the cloud stack now/);
    await t.step(INTERVAL);
    assert.equal((await getBreaker(t.bot.deps, 'payments'))?.evaluations, 1);
    const disarmed = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'breaker.disarmed');
    assert.equal(disarmed?.actor.name, 'carol');
  });

  it('one evaluator across two replicas: one evaluation per interval, hand-over within the lease, one ChangeBatch', async () => {
    const prefix = `test:${Math.random().toString(36).slice(2, 10)}:`;
    const url = await testRedisUrl();
    const storeA = new RedisStore(url, { prefix });
    const storeB = new RedisStore(url, { prefix });
    extraStores.push(storeA, storeB);
    const clock = fakeClock();
    const lease = { leaseMs: 2500, renewMs: 100 };
    const a = breakerBot({
      store: storeA,
      config: breakerConfig(),
      r53,
      clock,
      instanceId: 'replica-a',
      breaker: lease,
    });
    const b = breakerBot({
      store: storeB,
      config: breakerConfig(),
      r53,
      clock,
      instanceId: 'replica-b',
      breaker: lease,
    });
    await arm(a);
    const unmatched: string[] = [];
    const onNoMatch = (req: Request) => {
      // Only instant queries count (Route 53 passes through to the local endpoint; the chart asks query_range).
      if (req.url.endsWith('/api/v1/query')) unmatched.push(req.url);
    };
    nock.emitter.on('no match', onNoMatch);
    try {
      const both = async () => {
        await Promise.all([a.evaluator.tick(), b.evaluator.tick()]);
        await Promise.all([a.bot.idle(), b.bot.idle()]);
      };
      for (let i = 0; i < 3; i++) {
        nockEvaluation(['0.5']);
        if (i > 0) clock.advance(INTERVAL);
        if (i === 0) {
          // replica-a looks first and takes the lease; from then on both look at once.
          await a.evaluator.tick();
          await a.bot.idle();
        }
        await both();
        await both(); // a second pass in the same interval evaluates nothing
        assert.deepEqual(nock.pendingMocks(), []);
      }
      let state = await getBreaker(a.bot.deps, 'payments');
      assert.equal(state?.evaluations, 3);
      assert.deepEqual(
        state?.last.map((e) => e.by),
        ['replica-a', 'replica-a', 'replica-a'],
      );
      assert.equal(b.evaluator.isLeader, false);

      // replica-a dies: it loses Redis and never renews; replica-b takes over once the lease lapses.
      await storeA.close();
      clock.advance(INTERVAL);
      nockEvaluation(['0.91']);
      const deadline = Date.now() + 8000;
      while (!b.evaluator.isLeader && Date.now() < deadline) {
        await b.evaluator.tick();
        await b.bot.idle();
        if (!b.evaluator.isLeader) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(b.evaluator.isLeader, true, 'replica-b leads within the lease');
      await b.evaluator.tick();
      await b.bot.idle();
      state = await getBreaker(b.bot.deps, 'payments');
      assert.equal(state?.evaluations, 4, 'exactly one evaluation for the interval of the hand-over');
      assert.equal(state?.last.at(-1)?.by, 'replica-b');
      for (let i = 0; i < 2; i++) {
        nockEvaluation(['0.92']);
        clock.advance(INTERVAL);
        await b.evaluator.tick();
        await b.bot.idle();
        await b.evaluator.tick();
        await b.bot.idle();
      }
      assert.equal(r53.server.accepted.length, 1, 'one ChangeBatch on trip');
      assert.equal((await getBreaker(b.bot.deps, 'payments'))?.status, 'tripped');
      assert.deepEqual(unmatched, [], 'no query beyond one evaluation per interval');
    } finally {
      nock.emitter.removeListener('no match', onNoMatch);
      await b.bot.stop();
    }
  });

  it('a replica that dies mid-trip: the next leader rechecks the shift, never re-sends it', async () => {
    const prefix = `test:${Math.random().toString(36).slice(2, 10)}:`;
    const url = await testRedisUrl();
    const storeA = new RedisStore(url, { prefix });
    const storeB = new RedisStore(url, { prefix });
    extraStores.push(storeA, storeB);
    const clock = fakeClock();
    const lease = { leaseMs: 300, renewMs: 100 };
    const config = breakerConfig();
    // replica-a's Route 53 write lands, then its process "hangs" before it learns the change id.
    const traffic = r53.traffic(config, clock);
    const real = traffic.payments?.route53;
    assert.ok(real);
    let release: (err: Error) => void = () => {};
    const hanging: TrafficPort = {
      layer: real.layer,
      resource: real.resource,
      lockKey: real.lockKey,
      read: () => real.read(),
      checkLegacyHealth: (s) => real.checkLegacyHealth(s),
      shift: async (expected, to, opts) => {
        await real.shift(expected, to, opts);
        return new Promise((_, reject) => {
          release = reject;
        });
      },
      waitInSync: (r, o) => real.waitInSync(r, o),
      syncStatus: (r) => real.syncStatus(r),
      recheck: (r) => real.recheck(r),
    };
    const kitA: Route53Kit = { ...r53, traffic: () => ({ payments: { route53: hanging } }) };
    const a = breakerBot({
      store: storeA,
      config,
      r53: kitA,
      clock,
      instanceId: 'replica-a',
      breaker: lease,
    });
    await arm(a);
    for (let i = 0; i < 3; i++) {
      nockEvaluation(['0.97']);
      if (i > 0) clock.advance(INTERVAL);
      await a.bot.deps.scheduler.tick();
      if (i < 2) await a.bot.idle();
    }
    const deadline = Date.now() + 3000;
    while (r53.server.accepted.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(r53.server.accepted.length, 1, 'replica-a wrote the change');
    await storeA.close(); // replica-a is gone: no renewals, its leases lapse

    const b = breakerBot({ store: storeB, config, r53, clock, instanceId: 'replica-b', breaker: lease });
    const until = Date.now() + 3000;
    while ((await getBreaker(b.bot.deps, 'payments'))?.trip?.phase !== 'done' && Date.now() < until) {
      await b.evaluator.tick();
      await b.bot.idle();
      await new Promise((r) => setTimeout(r, 50));
    }
    const trip = (await getBreaker(b.bot.deps, 'payments'))?.trip;
    assert.equal(trip?.phase, 'done');
    assert.equal(trip?.outcome?.ok, true);
    assert.match(
      trip?.outcome?.summary ?? '',
      /After a restart: Route 53: the records show legacy 100 \/ cloud 0 as requested/,
    );
    assert.equal(r53.server.accepted.length, 1, 'not re-sent');
    assert.ok(posts(b, CHANNEL).some((m) => m.startsWith('payments breaker tripped')));
    release(new Error('replica-a finally dies'));
    await b.bot.stop();
  });
});
