// The shared shift-with-retry path of the breaker and the canary: unknown outcomes retried by re-reading (never a
// second write), the real layer named when a read fails, real-world Route 53 timings on the injected clock.
import assert from 'node:assert/strict';
import nock from 'nock';
import { shiftWithRetry } from '../../flows/shift/retry.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import type { Actor } from '../../src/timeline.ts';
import {
  ELB_ENDPOINT,
  fakeClock,
  NEXT_RECORD,
  pair,
  trafficAdapters,
  trafficConfig,
  ZONE,
  type FakeClock,
} from '../support/aws.ts';
import { makeTestBot, type TestBot } from '../support/bot.ts';
import { elbErrorXml } from '../support/elb-xml.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import {
  DROP_AFTER_COMMIT,
  FAIL_AFTER_COMMIT,
  REAL_RATE_PER_SECOND,
  REAL_SYNC_DELAY_MS,
  startRoute53Server,
  type Route53Server,
} from '../../src/drill/route53.ts';
import { XML_HEADERS } from '../../src/drill/route53-xml.ts';
import type { Config } from '../../src/config.ts';

const BREAKER: Actor = { type: 'breaker', id: 'breaker:payments', name: 'breaker' };

describe('shift with retry (breaker, canary): outcomes observed, the real layer named', () => {
  useNock();
  let store: RedisStore;
  let clock: FakeClock;
  let server: Route53Server | undefined;
  let t: TestBot;

  async function setup(config: Config, endpoints: { route53?: string } = {}): Promise<void> {
    const kit = trafficAdapters(config, clock, endpoints);
    t = makeTestBot({ store, config, adapters: { traffic: kit.traffic }, now: clock.now });
    await t.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
  }

  async function withLocalRoute53(): Promise<Route53Server> {
    server = await startRoute53Server({
      zones: { [ZONE]: [...pair(), NEXT_RECORD] },
      syncDelayMs: REAL_SYNC_DELAY_MS,
      rateLimit: { perSecond: REAL_RATE_PER_SECOND },
      now: () => clock.now().getTime(),
    });
    await setup(trafficConfig(), { route53: server.url });
    return server;
  }

  beforeEach(async () => {
    store = await isolatedRedisStore();
    clock = fakeClock();
  });

  afterEach(async () => {
    await t.bot.stop();
    await server?.stop();
    server = undefined;
    await store.close();
  });

  const trip = (attempts = 3) => ({
    service: 'payments',
    incidentId: 'INC-1',
    legacyPercent: 100,
    actor: BREAKER,
    opIdOf: (n: number) => (n <= 1 ? 'trip-1' : `trip-1-r${n}`),
    attempts,
    reason: 'breaker tripped (3 breaches)',
    direction: 'toLegacy' as const,
  });

  const weights = (s: Route53Server) =>
    s
      .records(ZONE)
      .filter((r) => r.setIdentifier)
      .map((r) => `${r.setIdentifier}=${r.weight}`)
      .join(' ');

  it('a trip whose ChangeBatch commits then answers 500 is a success, followed to INSYNC ~60 s later', async () => {
    const r53 = await withLocalRoute53();
    r53.failNext('ChangeResourceRecordSets', 1, FAIL_AFTER_COMMIT);
    const outcome = await shiftWithRetry(t.bot.deps, trip());
    assert.equal(outcome.ok, true);
    assert.equal(outcome.attempts, 1, 'no second try: the read showed the change');
    assert.match(outcome.receipts[0]?.observed ?? '', /answered HTTP 500 .*the change was applied/);
    assert.match(outcome.summary, /INSYNC after 6\d s/);
    assert.equal(weights(r53), 'cloud=0 legacy=100');
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.deepEqual(kinds.slice(1), ['traffic.submitted', 'traffic.in_sync']);
  });

  it('an UNKNOWN outcome is retried by re-reading: the next try finds legacy 100 already there and writes nothing', async () => {
    const r53 = await withLocalRoute53();
    r53.failNext('ChangeResourceRecordSets', 1, {
      ...DROP_AFTER_COMMIT,
      then: () =>
        r53.failNext('ListResourceRecordSets', 5, {
          code: 'ServiceUnavailable',
          message: 'Service Unavailable',
          status: 503,
        }),
    });
    const outcome = await shiftWithRetry(t.bot.deps, trip());
    assert.equal(outcome.ok, true);
    assert.equal(outcome.attempts, 2);
    assert.match(outcome.summary, /already at legacy 100%; nothing was written/);
    assert.equal(r53.accepted.length, 1, 'one ChangeBatch in all: the retry never wrote again');
    const events = await t.bot.deps.timeline.read('INC-1');
    const notShifted = events.filter((e) => e.kind === 'traffic.not_shifted');
    assert.deepEqual(
      notShifted.map((e) => e.data.reason),
      ['unknown', 'already_there'],
    );
    assert.match(notShifted[0]?.summary ?? '', /outcome of the shift UNKNOWN/);
  });

  it('an ALB-only service whose listener cannot be read: the stop names the ALB, on the timeline too', async () => {
    await setup(trafficConfig({ alb: true, route53: false }));
    nock(ELB_ENDPOINT)
      .post('/')
      .times(10)
      .reply(503, elbErrorXml('ServiceUnavailable', 'Service Unavailable'), XML_HEADERS);
    const outcome = await shiftWithRetry(t.bot.deps, trip(2));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.attempts, 2);
    assert.equal(outcome.stopped?.layer, 'alb');
    assert.match(outcome.summary, /DescribeRules failed \(ServiceUnavailable, HTTP 503/);
    const notShifted = (await t.bot.deps.timeline.read('INC-1')).filter(
      (e) => e.kind === 'traffic.not_shifted',
    );
    assert.deepEqual(
      notShifted.map((e) => `${String(e.data.op)} ${String(e.data.layer)} ${String(e.data.reason)}`),
      ['trip-1 alb error', 'trip-1-r2 alb error'],
    );
  });
});
