// The simulated Kubernetes API's served read side, through the real client library (the production adapter).
import assert from 'node:assert/strict';
import { KubeCluster } from '../../../src/adapters/kubernetes/client.ts';
import { FakeCluster, NAMESPACE, type ClusterWorld } from '../../../src/drill/kubernetes.ts';
import { createMetrics } from '../../../src/metrics.ts';

describe('drill Kubernetes API (served world)', () => {
  let server: FakeCluster;
  let cluster: KubeCluster;
  const world: ClusterWorld = {
    pods: () => [
      {
        name: 'payments-cloud-a',
        restarts: 3,
        memoryLimit: '2Gi',
        lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt: '2026-12-03T13:00:00Z' },
        labels: { app: 'payments', track: 'cloud' },
      },
      { name: 'payments-legacy-b', labels: { app: 'payments', track: 'legacy' } },
    ],
    usage: () => ({ 'payments-cloud-a': '1990Mi' }),
    events: () => [
      {
        pod: 'payments-cloud-a',
        reason: 'BackOff',
        message: 'after OOMKilled',
        count: 3,
        last: '2026-12-03T13:01:00Z',
      },
    ],
    log: (pod) => `OutOfMemoryError in ${pod}\n`,
  };

  beforeEach(async () => {
    server = new FakeCluster();
    server.serve(world);
    await server.start();
    cluster = new KubeCluster(server.kubeConfig(), createMetrics({ defaults: false }));
  });

  afterEach(async () => {
    await server.stop();
    assert.deepEqual(server.unexpected, [], 'every request the adapter sent was served');
  });

  it('lists only the pods the label selector matches, with restarts, OOMKilled and the memory limit', async () => {
    const pods = await cluster.listPods(NAMESPACE, 'app=payments,track=cloud', 'app');

    assert.deepEqual(
      pods.map((p) => p.name),
      ['payments-cloud-a'],
    );
    assert.equal(pods[0]?.container?.restarts, 3);
    assert.equal(pods[0]?.container?.lastTermination?.reason, 'OOMKilled');
    assert.equal(pods[0]?.container?.memoryLimitBytes, 2 * 1024 ** 3);
  });

  it('answers a missing pod with a NotFound Status, which the adapter reads as no pod', async () => {
    assert.equal(await cluster.getPod(NAMESPACE, 'payments-cloud-zzz', 'app'), null);
    assert.equal((await cluster.getPod(NAMESPACE, 'payments-cloud-a', 'app'))?.name, 'payments-cloud-a');
  });

  it('serves metrics.k8s.io usage and warning events as the metrics server and kubelet report them', async () => {
    const memory = await cluster.podMemory(NAMESPACE, 'app=payments,track=cloud', 'app');
    const events = await cluster.warningEvents(NAMESPACE, new Date('2026-12-03T12:00:00Z'));

    assert.ok(memory.available);
    assert.equal(memory.usage.find((u) => u.pod === 'payments-cloud-a')?.bytes, 1990 * 1024 ** 2);
    assert.deepEqual(
      events.map((e) => [e.pod, e.reason, e.count]),
      [['payments-cloud-a', 'BackOff', 3]],
    );
  });
});
