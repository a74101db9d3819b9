// Route 53 under load (real Redis, the local Route 53 with real-world timings): five incidents shift records of the
// same hosted zone at once, on one account's request budget.
import assert from 'node:assert/strict';
import type { Action } from '../../src/actions.ts';
import { Route53Account } from '../../src/adapters/route53-account.ts';
import { Route53TrafficAdapter } from '../../src/adapters/route53.ts';
import type { ServiceTraffic } from '../../src/adapters/traffic.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { fakeClock, route53Client, type FakeClock } from '../support/aws.ts';
import { makeTestBot, memoryLogger, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import {
  REAL_RATE_PER_SECOND,
  REAL_SYNC_DELAY_MS,
  startRoute53Server,
  type Route53Server,
} from '../../src/drill/route53.ts';
import type { RecordSet } from '../../src/drill/route53-xml.ts';

const ZONE = 'Z0SHAREDEDGE';
const HEALTH = 'c0ffee00-0000-4000-8000-0000000aa001';
const SERVICES = ['payments', 'checkout', 'search', 'accounts', 'media'];

function pair(service: string): RecordSet[] {
  const name = `api.${service}.example.com.`;
  return [
    {
      name,
      type: 'A',
      setIdentifier: 'legacy',
      weight: 20,
      ttl: 60,
      values: ['192.0.2.10'],
      healthCheckId: HEALTH,
    },
    { name, type: 'A', setIdentifier: 'cloud', weight: 80, ttl: 60, values: ['198.51.100.20'] },
  ];
}

describe('Route 53 under load: five incidents, one zone, one account (real Redis, local Route 53)', () => {
  let store: RedisStore;
  let clock: FakeClock;
  let r53: Route53Server;
  let t: TestBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    clock = fakeClock();
    r53 = await startRoute53Server({
      zones: { [ZONE]: SERVICES.flatMap(pair) },
      healthChecks: { [HEALTH]: 8 },
      syncDelayMs: REAL_SYNC_DELAY_MS,
      // Refused while the zone's previous change is still being processed (PENDING).
      priorRequestMs: REAL_SYNC_DELAY_MS,
      rateLimit: { perSecond: REAL_RATE_PER_SECOND },
      now: () => clock.now().getTime(),
    });
    const config = testConfig({
      services: Object.fromEntries(
        SERVICES.map((service) => [
          service,
          {
            traffic: {
              route53: {
                hostedZoneId: ZONE,
                recordName: `api.${service}.example.com`,
                legacy: 'legacy',
                cloud: 'cloud',
              },
            },
          },
        ]),
      ),
    });
    const client = route53Client(r53.url);
    const { log } = memoryLogger();
    const metrics = createMetrics({ defaults: false });
    const sleep = async (ms: number) => clock.advance(ms);
    // As the composition root builds them: one client, one account for every service.
    const account = new Route53Account({ now: () => clock.now().getTime(), sleep });
    const traffic: Record<string, ServiceTraffic> = {};
    for (const service of SERVICES) {
      const section = config.services[service]?.traffic?.route53;
      assert.ok(section);
      traffic[service] = {
        route53: new Route53TrafficAdapter({
          client,
          config: section,
          metrics,
          log,
          sleep,
          now: clock.now,
          random: () => 0.5,
          account,
        }),
      };
    }
    t = makeTestBot({ store, config, adapters: { traffic }, now: clock.now });
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
    await r53.stop();
  });

  it(
    'all five converge, one change at a time, with no PriorRequestNotComplete or throttle reaching anyone ' +
      '(Route 53 API reference, PriorRequestNotComplete: "If Amazon Route 53 can\'t process a request before the next ' +
      'request arrives, it will reject subsequent requests for the same hosted zone"; AWS Knowledge Center, ' +
      '"route-53-avoid-throttling-errors": five requests per second per account, every caller in the account counted)',
    async () => {
      const channels = SERVICES.map((_, i) => `C0EDGE${i}`);
      for (const [i, service] of SERVICES.entries()) {
        await t.command('alice', '/incident', `declare ${service} sev=1 edge region down`, channels[i]);
        await t.command('alice', '/contain', service, channels[i]);
      }
      const requests: Action[] = [];
      for (const i of SERVICES.keys()) {
        const [request] = await t.bot.deps.approvals.listForIncident(`INC-${i + 1}`);
        assert.ok(request, `INC-${i + 1} has its request`);
        requests.push(request);
      }

      // Five approvals at once: five shifts of the same zone.
      await Promise.all(requests.map((r, i) => t.click('bob', APPROVE_ACTION, r.id, channels[i])));

      const said: string[] = [];
      for (const [i, r] of requests.entries()) {
        const done = (await t.bot.deps.approvals.get(r.id)) as Action;
        assert.equal(done.state, 'succeeded', `INC-${i + 1}: ${done.result?.summary ?? ''}`);
        assert.match(done.result?.summary ?? '', /INSYNC after \d+ s/);
        said.push(done.result?.summary ?? '');
        if (done.card) said.push(textOf(t.chat.latest(done.card)));
        said.push(...(await t.bot.deps.timeline.read(`INC-${i + 1}`)).map((e) => e.summary));
      }
      said.push(...t.chat.sent.map((s) => ('message' in s && s.message ? textOf(s.message) : '')));
      assert.doesNotMatch(said.join('\n'), /PriorRequestNotComplete|throttled|Rate exceeded/);

      assert.equal(r53.accepted.length, 5, 'one ChangeBatch per incident');
      // Each change went out after the previous one was INSYNC, so Route 53 never refused one.
      const gaps = r53.accepted.slice(1).map((c, i) => c.at - (r53.accepted[i]?.at ?? 0));
      assert.ok(
        gaps.every((g) => g >= REAL_SYNC_DELAY_MS),
        `changes ${gaps.join(', ')} ms apart`,
      );
      // Every read, health check, poll and write stayed within the account's 5 requests per second.
      assert.deepEqual(r53.refused, {});
      assert.deepEqual(
        r53.records(ZONE).map((r) => `${r.name}${r.setIdentifier}=${r.weight}`),
        SERVICES.flatMap((s) => [`api.${s}.example.com.cloud=0`, `api.${s}.example.com.legacy=100`]).sort(),
      );
    },
  );
});

describe('Route 53: a change from another replica still PENDING in the zone (local Route 53)', () => {
  let r53: Route53Server;
  let clock: FakeClock;

  afterEach(async () => {
    await r53.stop();
  });

  it(
    'waits it out with growing back-off instead of failing after five tries (Route 53 API reference, ' +
      'PriorRequestNotComplete: "wait, in intervals of increasing duration, before you try the request again")',
    async () => {
      clock = fakeClock();
      r53 = await startRoute53Server({
        zones: { [ZONE]: SERVICES.flatMap(pair) },
        healthChecks: { [HEALTH]: 8 },
        syncDelayMs: REAL_SYNC_DELAY_MS,
        priorRequestMs: REAL_SYNC_DELAY_MS,
        now: () => clock.now().getTime(),
      });
      const { log } = memoryLogger();
      // Two replicas: each has its own process, so neither knows of the other's change.
      const replica = (service: string) =>
        new Route53TrafficAdapter({
          client: route53Client(r53.url),
          config: {
            hostedZoneId: ZONE,
            recordName: `api.${service}.example.com.`,
            recordType: 'A',
            legacy: 'legacy',
            cloud: 'cloud',
            maxTtl: 60,
          },
          metrics: createMetrics({ defaults: false }),
          log,
          sleep: clock.sleep,
          now: clock.now,
          random: () => 0.5,
        });
      const a = replica('payments');
      const b = replica('checkout');
      await a.shift(await a.read(), { legacy: 100, cloud: 0 }, { comment: 'replica a' });
      const receipt = await b.shift(await b.read(), { legacy: 100, cloud: 0 }, { comment: 'replica b' });

      assert.equal(r53.accepted.length, 2);
      assert.ok(receipt.attempts > 5, `went through on try ${receipt.attempts}`);
      assert.equal(r53.refused.PriorRequestNotComplete, receipt.attempts - 1);
      assert.ok((r53.accepted[1]?.at ?? 0) - (r53.accepted[0]?.at ?? 0) >= REAL_SYNC_DELAY_MS);
    },
  );
});
