// The drill cluster's control plane and pod network, through the real client library (the production adapter):
// Services, the ReplicaSet, NetworkPolicies, relabels and deletes, and a TCP probe exec'd in a pod that the plugin
// drops once it has programmed a deny-all policy, or never when it does not enforce NetworkPolicy.
import assert from 'node:assert/strict';
import { KubeCluster } from '../../../src/adapters/kubernetes/client.ts';
import { DrillControlPlane } from '../../../src/drill/kubernetes-control.ts';
import { networkPolicyOf, policyDropsPair, type StoredPolicy } from '../../../src/drill/kubernetes-policy.ts';
import { FakeCluster, NAMESPACE, type ClusterWorld } from '../../../src/drill/kubernetes.ts';
import { createMetrics } from '../../../src/metrics.ts';

const LABELS = { app: 'payments', track: 'cloud', 'pod-template-hash': '7d9f8b6c5' };
const A = 'payments-cloud-7d9f8b6c5-aaaaa';
const B = 'payments-cloud-7d9f8b6c5-bbbbb';
const QUARANTINE = { key: 'cloud-safety.io/quarantine', value: 'INC-9' };

describe('drill Kubernetes control plane and pod network', function () {
  this.timeout(60_000);
  let server: FakeCluster;
  let cluster: KubeCluster;
  let control: DrillControlPlane;

  async function start(network: { enforces: boolean; delayMs: number }): Promise<void> {
    server = new FakeCluster();
    const base: ClusterWorld = {
      pods: () => [A, B].map((name) => ({ name, labels: { ...LABELS }, memoryLimit: '2Gi' })),
      usage: () => ({ [A]: '1900Mi', [B]: '800Mi' }),
      events: () => [],
      log: () => '',
    };
    for (const name of [A, B]) server.addPod(name, { tools: new Set(['sh', 'nc']) });
    control = new DrillControlPlane({
      cluster: server,
      base,
      app: 'payments',
      network,
      baselineMiB: 700,
      now: () => Date.parse('2026-12-03T03:00:00Z'),
    });
    server.serve(control);
    await server.start();
    cluster = new KubeCluster(server.kubeConfig(), createMetrics({ defaults: false }));
  }

  afterEach(async () => {
    await server.stop();
    assert.deepEqual(server.unexpected, [], 'every request was one the API serves');
  });

  async function fence(pod: string): Promise<void> {
    await cluster.createQuarantinePolicy(NAMESPACE, {
      name: 'cloud-safety-quarantine-inc-9',
      label: QUARANTINE,
      forensicsNamespace: 'forensics',
      incident: 'INC-9',
    });
    await cluster.patchPodMetadata(NAMESPACE, pod, {
      labels: { app: null, track: null, 'pod-template-hash': null, [QUARANTINE.key]: QUARANTINE.value },
      annotations: { 'cloud-safety.io/incident': 'INC-9' },
    });
  }

  it('serves the Service, the ReplicaSet and the policies; a relabelled pod is released and replaced, and re-adopted on return', async () => {
    await start({ enforces: true, delayMs: 0 });
    const a = await cluster.getPod(NAMESPACE, A, 'app');
    assert.equal(a?.ip !== undefined && a.ip !== (await cluster.getPod(NAMESPACE, B, 'app'))?.ip, true);
    assert.deepEqual(a?.container?.ports, [8080]);
    assert.deepEqual(await cluster.servicesSelecting(NAMESPACE, LABELS), [
      { name: 'payments-cloud', selector: { app: 'payments', track: 'cloud' } },
    ]);
    assert.deepEqual(await cluster.replicaSetSelector(NAMESPACE, a?.owner?.name ?? ''), {
      matchLabels: LABELS,
    });
    assert.equal(await cluster.replicaSetSelector(NAMESPACE, 'nope'), null);

    await fence(A);
    assert.equal(
      await cluster.createQuarantinePolicy(NAMESPACE, {
        name: 'cloud-safety-quarantine-inc-9',
        label: QUARANTINE,
        incident: 'INC-9',
      }),
      'exists',
      'a second create is a 409 AlreadyExists',
    );
    assert.deepEqual(await cluster.networkPolicies(NAMESPACE), [
      { name: 'cloud-safety-quarantine-inc-9', podSelector: { matchLabels: { [QUARANTINE.key]: 'INC-9' } } },
    ]);
    const fenced = await cluster.getPod(NAMESPACE, A, 'app');
    assert.equal(fenced?.owner, undefined, 'released by the ReplicaSet');
    assert.equal(fenced?.annotations['cloud-safety.io/incident'], 'INC-9');
    const serving = await cluster.listPods(NAMESPACE, 'app=payments,track=cloud', 'app');
    assert.deepEqual(serving.map((p) => p.name).sort(), [B, 'payments-cloud-7d9f8b6c5-r0001']);

    // Labels back: the ReplicaSet adopts it and deletes the newest surplus pod, the replacement.
    await cluster.patchPodMetadata(NAMESPACE, A, {
      labels: { ...LABELS, [QUARANTINE.key]: null },
    });
    const back = await cluster.listPods(NAMESPACE, 'app=payments,track=cloud', 'app');
    assert.deepEqual(back.map((p) => p.name).sort(), [A, B]);
    assert.equal(await cluster.deleteNetworkPolicy(NAMESPACE, 'cloud-safety-quarantine-inc-9'), true);
    assert.equal(await cluster.deleteNetworkPolicy(NAMESPACE, 'cloud-safety-quarantine-inc-9'), false);
    assert.equal(await cluster.deletePod(NAMESPACE, A, 'uid-other'), 'gone', 'a uid precondition is checked');
    assert.equal(await cluster.deletePod(NAMESPACE, A, `uid-${A}`), 'deleted');
    assert.equal(await cluster.getPod(NAMESPACE, A, 'app'), null);
  });

  it('an enforcing plugin: traffic flows until the policy is programmed, then is dropped both ways', async () => {
    await start({ enforces: true, delayMs: 1500 });
    const ipA = (await cluster.getPod(NAMESPACE, A, 'app'))?.ip ?? '';
    const ipB = (await cluster.getPod(NAMESPACE, B, 'app'))?.ip ?? '';
    const from = (pod: string) => ({ namespace: NAMESPACE, pod, container: 'app' });
    assert.deepEqual(await cluster.probeTcp(from(B), ipA, 8080), { result: 'reached' });
    assert.deepEqual(
      await cluster.probeTcp(from(B), ipA, 9999),
      { result: 'blocked' },
      'nothing listens there',
    );

    await fence(A);
    assert.deepEqual(await cluster.probeTcp(from(B), ipA, 8080), { result: 'reached' }, 'not programmed yet');
    const started = Date.now();
    assert.deepEqual(await cluster.probeTcp(from(B), ipA, 8080, { waitFirstS: 2 }), { result: 'blocked' });
    assert.ok(Date.now() - started >= 4_500, 'a dropped connection waits out nc -w 3 (after the 2 s sleep)');
    assert.deepEqual(
      await cluster.probeTcp(from(A), ipB, 8080),
      { result: 'blocked' },
      'egress is denied too',
    );
    assert.deepEqual(control.probes.at(-1), { from: A, ip: ipB, port: 8080, reached: false });
  });

  it('a plugin that does not enforce NetworkPolicy: the fenced pod answers as before', async () => {
    await start({ enforces: false, delayMs: 0 });
    const ipA = (await cluster.getPod(NAMESPACE, A, 'app'))?.ip ?? '';
    await fence(A);
    const from = { namespace: NAMESPACE, pod: B, container: 'app' };
    assert.deepEqual(await cluster.probeTcp(from, ipA, 8080, { waitFirstS: 1 }), { result: 'reached' });
  });
});

describe('drill pod network: NetworkPolicy rules', () => {
  const pod = (name: string, ip: string, labels: Record<string, string>) => ({
    name,
    ip,
    labels,
    ports: [8080],
  });
  const web = pod('web', '10.0.1.30', { app: 'web' });
  const api = pod('api', '10.0.2.40', { app: 'api' });
  const policy = (spec: Record<string, unknown>, name = 'p') => {
    const stored = networkPolicyOf({ metadata: { name }, spec }, 1, 0, 0);
    assert.ok(typeof stored !== 'string', String(stored));
    return stored;
  };
  const drops = (policies: StoredPolicy[], from = web, to = api, port = 8080) =>
    policyDropsPair(policies, from, to, port, () => true);

  it('a pod no policy selects is open; an Ingress policy admits only what its rules allow, by pod, port or CIDR', () => {
    assert.equal(drops([]), false);
    assert.equal(drops([policy({ podSelector: { matchLabels: { app: 'api' } } })]), true, 'deny-all ingress');
    const fromWeb = {
      podSelector: { matchLabels: { app: 'api' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }],
    };
    assert.equal(drops([policy(fromWeb)]), false);
    assert.equal(drops([policy(fromWeb)], api, api), true, 'api itself is not web');
    const onPort = { podSelector: {}, ingress: [{ ports: [{ port: 9090, protocol: 'TCP' }] }] };
    assert.equal(drops([policy(onPort)]), true);
    assert.equal(drops([policy(onPort)], web, api, 9090), false);
    const cidr = { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.1.0/24' } }] }] };
    assert.equal(drops([policy(cidr)]), false, '10.0.1.30 is in 10.0.1.0/24');
    assert.equal(drops([policy(cidr)], api, web), true, '10.0.2.40 is not');
    // Policies add up: one that allows is enough.
    assert.equal(drops([policy({ podSelector: {} }, 'deny'), policy(fromWeb, 'allow')]), false);
  });

  it('a namespace peer admits the namespaces it names only; Egress is checked on the source', () => {
    const forensicsOnly = {
      podSelector: { matchLabels: { app: 'api' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'forensics' } } }] },
      ],
      egress: [],
    };
    assert.equal(drops([policy(forensicsOnly)]), true, 'web lives in payments, not forensics');
    assert.equal(drops([policy(forensicsOnly)], api, web), true, 'api may not send anywhere');
    const samePayments = {
      podSelector: {},
      ingress: [
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NAMESPACE } } }] },
      ],
    };
    assert.equal(drops([policy(samePayments)]), false);
  });

  it('refuses a policy the API server would refuse, saying which field', () => {
    assert.match(
      String(networkPolicyOf({ metadata: { name: 'Bad_Name' }, spec: { podSelector: {} } }, 1, 0, 0)),
      /metadata.name: Invalid value/,
    );
    assert.match(
      String(networkPolicyOf({ metadata: { name: 'p' }, spec: {} }, 1, 0, 0)),
      /spec.podSelector: Required value/,
    );
    assert.match(
      String(
        networkPolicyOf(
          { metadata: { name: 'p' }, spec: { podSelector: {}, policyTypes: ['Both'] } },
          1,
          0,
          0,
        ),
      ),
      /spec.policyTypes: Unsupported value: "Both"/,
    );
  });
});
