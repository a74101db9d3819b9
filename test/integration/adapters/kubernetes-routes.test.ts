// The Gateway API and Istio adapters against a local Kubernetes API: weights read from the right rule, written as a
// compare-and-swap on resourceVersion (409 on change), read back after a failed write, legacy endpoints checked.
import assert from 'node:assert/strict';
import type { KubeRouteTrafficAdapter } from '../../../src/adapters/kubernetes-routes.ts';
import { TrafficDriftError } from '../../../src/adapters/traffic.ts';
import { NotWrittenError } from '../../../src/outcome.ts';
import { testConfig } from '../../support/bot.ts';
import {
  GATEWAY_SECTION,
  ISTIO_SECTION,
  kubeRouteAdapters,
  startKubeRoutes,
  type KubeRoutesServer,
} from '../../support/kube-routes.ts';
import { fakeClock } from '../../support/aws.ts';

describe('Gateway API and Istio traffic adapters (local Kubernetes API)', () => {
  let server: KubeRoutesServer;
  let gateway: KubeRouteTrafficAdapter;
  let istio: KubeRouteTrafficAdapter;

  beforeEach(async () => {
    server = await startKubeRoutes();
    const config = testConfig({
      services: { payments: { traffic: { gateway: GATEWAY_SECTION, istio: ISTIO_SECTION } } },
    });
    const adapters = kubeRouteAdapters(server, config, fakeClock());
    assert.ok(adapters.gateway && adapters.istio);
    gateway = adapters.gateway;
    istio = adapters.istio;
  });

  afterEach(async () => {
    await server.stop();
  });

  const puts = () => server.requests.filter((r) => r.method === 'PUT');

  it('reads the rule that holds both backends, with the resourceVersion in the fingerprint', async () => {
    const state = await gateway.read();
    assert.equal(state.resource, 'HTTPRoute payments/payments, rule split at resourceVersion 1001');
    assert.deepEqual(
      [state.legacy.id, state.legacy.weight, state.cloud.id, state.cloud.weight],
      ['payments/payments-legacy', 20, 'payments/payments-cloud', 80],
    );
    assert.equal(state.maxWeight, 1_000_000);
    assert.equal(state.snapshot.kind === 'gateway' && state.snapshot.resourceVersion, '1001');
    server.touch('httproutes');
    const again = await gateway.read();
    assert.notEqual(again.fingerprint, state.fingerprint, 'an edit of the route is a change, weights or not');
  });

  it('shifts with a PUT carrying the resourceVersion read, changing only the two weights', async () => {
    const state = await gateway.read();
    const receipt = await gateway.shift(state, { legacy: 100, cloud: 0 }, { comment: 'test' });
    assert.equal(server.weights('httproutes'), 'legacy=100 cloud=0');
    assert.equal(puts().length, 1);
    const body = puts()[0]?.body;
    assert.equal(body?.metadata?.resourceVersion, '1001');
    const rules = body?.spec?.rules as { backendRefs: { name: string; weight?: number }[] }[];
    assert.deepEqual(
      rules[0]?.backendRefs,
      [{ name: 'payments-legacy', port: 8080 }],
      'the other rule is untouched',
    );
    assert.match(
      puts()[0]?.path ?? '',
      /^\/apis\/gateway\.networking\.k8s\.io\/v1\/namespaces\/payments\/httproutes\/payments\?fieldManager=cloud-safety$/,
    );
    assert.equal(receipt.status, 'INSYNC');
    assert.equal(receipt.fingerprint, (await gateway.read()).fingerprint);
  });

  it('refuses when the route was edited since the card was shown: no PUT at all', async () => {
    const state = await gateway.read();
    server.touch('httproutes');
    await assert.rejects(
      gateway.shift(state, { legacy: 100, cloud: 0 }, { comment: 'test' }),
      (err: unknown) => {
        assert.ok(err instanceof TrafficDriftError);
        assert.match(
          err.message,
          /^HTTPRoute payments\/payments was edited since it was read \(resourceVersion 1001 -> 5001\); nothing was written$/,
        );
        return true;
      },
    );
    assert.equal(puts().length, 0);
    assert.equal(server.weights('httproutes'), 'legacy=20 cloud=80');
  });

  it('an edit between its read and its write: the API server answers 409 Conflict and nothing is written', async () => {
    const state = await gateway.read();
    server.nextPut = 'edited-before';
    await assert.rejects(
      gateway.shift(state, { legacy: 100, cloud: 0 }, { comment: 'test' }),
      (err: unknown) => {
        assert.ok(err instanceof TrafficDriftError);
        assert.match(
          err.message,
          /changed between read and write \(409 Conflict on resourceVersion 1001\); nothing was written/,
        );
        assert.match(
          err.providerMessage ?? '',
          /the object has been modified; please apply your changes to the latest version/,
        );
        return true;
      },
    );
    assert.equal(server.writes, 0);
    assert.equal(server.weights('httproutes'), 'legacy=20 cloud=80');
  });

  it('after a write answered 500, reads the route back and reports the change applied', async () => {
    const state = await gateway.read();
    server.nextPut = 'commit-then-500';
    const receipt = await gateway.shift(state, { legacy: 100, cloud: 0 }, { comment: 'test' });
    assert.equal(server.writes, 1);
    assert.match(
      receipt.observed ?? '',
      /^update of HTTPRoute payments\/payments failed \(.*HTTP 500.*\), but the route read back shows legacy 100 \/ cloud 0 as asked: the change was applied$/,
    );
  });

  it('after a write that got no answer and did not land, says nothing was written (read back, same version)', async () => {
    const state = await gateway.read();
    server.nextPut = 'down';
    await assert.rejects(
      gateway.shift(state, { legacy: 100, cloud: 0 }, { comment: 'test' }),
      (err: unknown) => {
        assert.ok(err instanceof NotWrittenError);
        assert.match(
          err.message,
          /the route read back is still at resourceVersion 1001 \(legacy 20 \/ cloud 80\), so nothing was written$/,
        );
        return true;
      },
    );
  });

  it('checks the legacy Service has ready endpoints (EndpointSlices), for both kinds', async () => {
    assert.deepEqual(await gateway.checkLegacyHealth(await gateway.read()), {
      status: 'healthy',
      detail: '3 of 3 endpoints of Service payments/payments-legacy are ready',
    });
    server.endpoints.set('payments/payments-legacy', [false, false]);
    assert.deepEqual(await istio.checkLegacyHealth(await istio.read()), {
      status: 'unhealthy',
      detail: '0 of 2 endpoints of Service payments/payments-legacy are ready',
    });
    server.endpoints.delete('payments/payments-legacy');
    assert.equal((await gateway.checkLegacyHealth(await gateway.read())).status, 'unhealthy');
    const slices = server.requests.filter((r) => r.path.includes('endpointslices'));
    assert.match(slices[0]?.path ?? '', /labelSelector=kubernetes\.io%2Fservice-name%3Dpayments-legacy/);
  });

  it('shifts Istio route weights (adding up to 100) with the same compare-and-swap', async () => {
    const state = await istio.read();
    assert.equal(state.resource, 'VirtualService payments/payments, rule primary at resourceVersion 2001');
    assert.deepEqual([state.legacy.weight, state.cloud.weight, state.maxWeight], [20, 80, 100]);
    await istio.shift(state, { legacy: 90, cloud: 10 }, { comment: 'test' });
    assert.equal(server.weights('virtualservices'), 'legacy=90 cloud=10');
    assert.equal(puts()[0]?.body?.metadata?.resourceVersion, '2001');
    const next = await istio.read();
    server.nextPut = 'edited-before';
    await assert.rejects(
      istio.shift(next, { legacy: 100, cloud: 0 }, { comment: 'test' }),
      TrafficDriftError,
    );
    assert.equal(server.weights('virtualservices'), 'legacy=90 cloud=10');
  });

  it('preflight: both backends’ endpoints and the resourceVersion', async () => {
    const checks = await gateway.checks(await gateway.read());
    assert.deepEqual(checks, [
      {
        id: 'route-backends',
        title: 'Gateway API backends have ready endpoints',
        status: 'pass',
        detail:
          'HTTPRoute payments/payments, rule split at resourceVersion 1001: legacy: 3 of 3 endpoints of Service payments/payments-legacy are ready; cloud: 1 of 2 endpoints of Service payments/payments-cloud are ready',
      },
    ]);
  });
});
