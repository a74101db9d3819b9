// The breaker trips on every new layer through the one layer interface: armed by two people, three breaches, and the
// shift lands on the ARC cluster (routing controls) or the Kubernetes API (HTTPRoute, VirtualService) with no human.
import assert from 'node:assert/strict';
import nock from 'nock';
import { getBreaker } from '../../flows/breaker/evaluator.ts';
import type { Action } from '../../src/actions.ts';
import type { ServiceTraffic } from '../../src/adapters/traffic.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { Config } from '../../src/config.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { arcAdapter, arcSection, startArcCluster, type ArcCluster } from '../support/arc-cluster.ts';
import type { FakeClock } from '../support/aws.ts';
import {
  breakerBot,
  breakerConfig,
  ERRORS_QUERY,
  MEMORY_QUERY,
  nockConditions,
  nockEvaluation,
  PROMETHEUS,
  type BreakerBot,
} from '../support/breaker.ts';
import { textOf } from '../support/bot.ts';
import {
  GATEWAY_SECTION,
  ISTIO_SECTION,
  kubeRouteAdapters,
  startKubeRoutes,
  type KubeRoutesServer,
} from '../support/kube-routes.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const INTERVAL = 30_000;

function nockChart(): nock.Scope {
  const matrix = {
    status: 'success',
    data: {
      resultType: 'matrix',
      result: [{ metric: { pod: 'payments-cloud-7d9f8-a0' }, values: [[1795687200, '0.9']] }],
    },
  };
  const form = (b: unknown, q: string) =>
    typeof b === 'string' ? new URLSearchParams(b).get('query') === q : (b as { query?: string }).query === q;
  return nock(PROMETHEUS)
    .post('/api/v1/query_range', (b) => form(b, MEMORY_QUERY))
    .reply(200, matrix)
    .post('/api/v1/query_range', (b) => form(b, ERRORS_QUERY))
    .reply(200, matrix);
}

interface LayerCase {
  name: string;
  traffic: (arc: ArcCluster, kube: KubeRoutesServer) => Record<string, unknown>;
  adapters: (arc: ArcCluster, kube: KubeRoutesServer, config: Config, clock: FakeClock) => ServiceTraffic;
  armed: RegExp;
  before: (arc: ArcCluster, kube: KubeRoutesServer) => string;
  after: string;
}

const CASES: LayerCase[] = [
  {
    name: 'arc',
    traffic: (arc) => ({ arc: arcSection(arc) }),
    adapters: (arc, _k, config, clock) => {
      const section = config.services.payments?.traffic?.arc;
      assert.ok(section);
      return { arc: arcAdapter(arc, section, { clock }) };
    },
    armed: /Shift payments to legacy 100% \(Route 53 ARC\), once, when it trips/,
    before: (arc) => arc.states(),
    after: 'legacy=On cloud=Off',
  },
  {
    name: 'gateway',
    traffic: () => ({ gateway: GATEWAY_SECTION }),
    adapters: (_a, kube, config, clock) => kubeRouteAdapters(kube, config, clock),
    armed: /Shift payments to legacy 100% \(Gateway API\), once, when it trips/,
    before: (_a, kube) => kube.weights('httproutes'),
    after: 'legacy=100 cloud=0',
  },
  {
    name: 'istio',
    traffic: () => ({ istio: ISTIO_SECTION }),
    adapters: (_a, kube, config, clock) => kubeRouteAdapters(kube, config, clock),
    armed: /Shift payments to legacy 100% \(Istio\), once, when it trips/,
    before: (_a, kube) => kube.weights('virtualservices'),
    after: 'legacy=100 cloud=0',
  },
];

describe('circuit breaker on ARC, Gateway API and Istio (real Redis, local ARC cluster and Kubernetes API)', () => {
  useNock();
  let store: RedisStore;
  let arc: ArcCluster;
  let kube: KubeRoutesServer;
  let t: BreakerBot | undefined;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    arc = await startArcCluster({});
    kube = await startKubeRoutes();
  });

  afterEach(async () => {
    await t?.bot.stop();
    t = undefined;
    await store.close();
    await arc.stop();
    await kube.stop();
  });

  it('a canary refuses to ramp through ARC routing controls (On or Off), before anything is requested', async () => {
    const c = CASES[0] as LayerCase;
    const config = breakerConfig({ payments: { traffic: c.traffic(arc, kube) } });
    t = breakerBot({
      store,
      config,
      r53: { traffic: (cfg, clock) => ({ payments: c.adapters(arc, kube, cfg, clock) }) },
    });
    const bot = t;
    await bot.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
    await bot.command('alice', '/breaker', 'arm');
    const arming = (await bot.bot.deps.approvals.listForIncident('INC-1')).find(
      (a) => a.kind === 'breaker.arm',
    );
    assert.ok(arming);
    await bot.click('bob', APPROVE_ACTION, arming.id);
    nockConditions();
    const replies = await bot.command('alice', '/canary', 'start steps=1,5,25');
    assert.match(
      textOf(replies.at(-1)),
      /Route 53 ARC can only send the cloud stack all of the traffic or none of it, so a canary cannot ramp through steps=1,5,25/,
    );
    assert.equal(
      (await bot.bot.deps.approvals.listForIncident('INC-1')).filter((a) => a.kind !== 'breaker.arm').length,
      0,
    );
    assert.equal(arc.accepted.length, 0);
  });

  for (const c of CASES) {
    it(`${c.name}: trips after three breaches and shifts that layer to legacy with no human, once`, async () => {
      const config = breakerConfig({ payments: { traffic: c.traffic(arc, kube) } });
      t = breakerBot({
        store,
        config,
        r53: { traffic: (cfg, clock) => ({ payments: c.adapters(arc, kube, cfg, clock) }) },
      });
      const bot = t;
      await bot.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
      await bot.command('alice', '/breaker', 'arm');
      const action = (await bot.bot.deps.approvals.listForIncident('INC-1')).find(
        (a: Action) => a.kind === 'breaker.arm',
      );
      assert.ok(action);
      assert.match(textOf(bot.chat.latest(action.card ?? { channel: '', ts: '' })), c.armed);
      await bot.click('bob', APPROVE_ACTION, action.id);
      assert.equal((await getBreaker(bot.bot.deps, 'payments'))?.status, 'armed');
      const untouched = c.before(arc, kube);

      nockEvaluation(['0.91']);
      await bot.step(0);
      nockEvaluation(['0.93']);
      await bot.step(INTERVAL);
      assert.equal(c.before(arc, kube), untouched, 'two breaches do not trip');
      nockEvaluation(['0.95']);
      nockChart();
      await bot.step(INTERVAL);

      assert.equal(c.before(arc, kube), c.after);
      const breaker = await getBreaker(bot.bot.deps, 'payments');
      assert.equal(breaker?.status, 'tripped');
      assert.equal(breaker?.trip?.outcome?.ok, true, breaker?.trip?.outcome?.summary);
      const events = await bot.bot.deps.timeline.read('INC-1');
      const submitted = events.filter((e) => e.kind === 'traffic.submitted');
      assert.equal(submitted.length, 1);
      assert.equal(submitted[0]?.actor.type, 'breaker');
      assert.equal(submitted[0]?.data.layer, c.name);
      const writes = c.name === 'arc' ? arc.accepted.length : kube.writes;
      assert.equal(writes, 1, 'one write');

      // Latched: later intervals evaluate nothing and write nothing.
      await bot.step(INTERVAL);
      assert.equal(c.name === 'arc' ? arc.accepted.length : kube.writes, 1);
    });
  }
});
