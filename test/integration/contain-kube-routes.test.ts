// /contain on Gateway API and Istio weights, end to end on real Redis against a local Kubernetes API: the card is bound
// to the resourceVersion it showed, an edit after it refuses the shift, and legacy without ready endpoints blocks it.
import assert from 'node:assert/strict';
import type { ShiftChange } from '../../flows/contain/contain.ts';
import type { Action } from '../../src/actions.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { fakeClock } from '../support/aws.ts';
import { makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import {
  GATEWAY_SECTION,
  ISTIO_SECTION,
  kubeRouteAdapters,
  startKubeRoutes,
  type KubeRoutesServer,
} from '../support/kube-routes.ts';
import { isolatedRedisStore } from '../support/redis.ts';

describe('/contain on Gateway API and Istio weights (real Redis, local Kubernetes API)', () => {
  let store: RedisStore;
  let server: KubeRoutesServer;
  let t: TestBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    server = await startKubeRoutes();
    const config = testConfig({
      services: { payments: { traffic: { gateway: GATEWAY_SECTION, istio: ISTIO_SECTION } } },
    });
    const clock = fakeClock();
    t = makeTestBot({
      store,
      config,
      adapters: { traffic: { payments: kubeRouteAdapters(server, config, clock) } },
      now: clock.now,
    });
    await t.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
    await server.stop();
  });

  async function onlyAction(): Promise<Action<ShiftChange>> {
    const actions = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.equal(actions.length, 1);
    return actions[0] as Action<ShiftChange>;
  }

  function card(action: Action): string {
    assert.ok(action.card);
    return textOf(t.chat.latest(action.card));
  }

  it('shifts both layers after approval (gateway first, then istio), each with the resourceVersion on the card', async () => {
    await t.command('alice', '/contain', 'layer=gateway,istio');
    const requested = await onlyAction();
    const shown = card(requested);
    assert.match(shown, /HTTPRoute payments\/payments, rule split at resourceVersion 1001/);
    assert.match(shown, /VirtualService payments\/payments, rule primary at resourceVersion 2001/);
    assert.match(shown, /Gateway API weights/);
    assert.match(shown, /legacy 20 \/ cloud 80 \(20% \/ 80%\)\\n→ \*legacy 100 \/ cloud 0 \(100% \/ 0%\)\*/);
    assert.match(
      shown,
      /Legacy health \(Gateway API\): healthy — 3 of 3 endpoints of Service payments\/payments-legacy are ready/,
    );
    assert.match(shown, /Order: Gateway API first, then Istio/);

    await t.click('bob', APPROVE_ACTION, requested.id);
    const done = await onlyAction();
    assert.equal(done.state, 'succeeded', done.result?.summary);
    assert.equal(server.weights('httproutes'), 'legacy=100 cloud=0');
    assert.equal(server.weights('virtualservices'), 'legacy=100 cloud=0');
    const puts = server.requests.filter((r) => r.method === 'PUT');
    assert.deepEqual(
      puts.map((p) => p.body?.metadata?.resourceVersion),
      ['1001', '2001'],
      'each write carries the resourceVersion the card showed',
    );
    const events = await t.bot.deps.timeline.read('INC-1');
    assert.deepEqual(
      events.filter((e) => e.kind === 'traffic.submitted').map((e) => e.data.layer),
      ['gateway', 'istio'],
    );
  });

  it('refuses when the route was edited after the card was shown, says so, and writes nothing', async () => {
    await t.command('alice', '/contain', 'layer=istio');
    const requested = await onlyAction();
    server.touch('virtualservices');
    await t.click('bob', APPROVE_ACTION, requested.id);
    const done = await onlyAction();
    assert.equal(done.state, 'failed');
    assert.match(
      done.result?.summary ?? '',
      /^Nothing was written: Istio changed since the request was made \(resourceVersion 2001 -> 5001 \(the route was edited\)\)\. Run \/contain again/,
    );
    assert.equal(server.requests.filter((r) => r.method === 'PUT').length, 0);
    const refused = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'traffic.not_shifted');
    assert.equal(refused?.data.reason, 'drift');
  });

  it('a 409 Conflict from the API server (edited between the last read and the write) is a refusal, not a retry', async () => {
    await t.command('alice', '/contain', 'layer=gateway');
    const requested = await onlyAction();
    server.nextPut = 'edited-before';
    await t.click('bob', APPROVE_ACTION, requested.id);
    const done = await onlyAction();
    assert.equal(done.state, 'failed');
    assert.match(done.result?.summary ?? '', /409 Conflict on resourceVersion 1001\); nothing was written/);
    assert.equal(server.writes, 0);
    assert.equal(server.requests.filter((r) => r.method === 'PUT').length, 1);
  });

  it('blocks the request when the legacy Service has no ready endpoint: no card, no write', async () => {
    server.endpoints.set('payments/payments-legacy', [false, false, false]);
    const replies = await t.command('alice', '/contain', 'layer=gateway');
    assert.match(
      textOf(replies[0]),
      /Legacy is not healthy on Gateway API \(0 of 3 endpoints of Service payments\/payments-legacy are ready\)/,
    );
    assert.equal((await t.bot.deps.approvals.listForIncident('INC-1')).length, 0);
    assert.equal(server.requests.filter((r) => r.method === 'PUT').length, 0);
  });

  it('answers a wrong layer= with every layer name, and calls nothing', async () => {
    const before = server.requests.length;
    const replies = await t.command('alice', '/contain', 'layer=mesh');
    assert.match(
      textOf(replies[0]),
      /layer="mesh" is not a layer; write layer=route53 \(weighted DNS\), arc \(ARC routing controls\), alb \(load balancer\), gateway \(Gateway API HTTPRoute\), istio \(Istio VirtualService\)/,
    );
    const missing = await t.command('alice', '/contain', 'layer=arc');
    assert.match(
      textOf(missing[0]),
      /payments has no traffic\.arc configured \(configured: gateway, istio\)/,
    );
    assert.equal(server.requests.length, before);
  });
});
