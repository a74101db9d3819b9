// The Kubernetes adapter against nock'd API responses shaped like a real server's, and chunked pulls over exec.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import nock from 'nock';
import { KubeCluster } from '../../../../src/adapters/kubernetes/client.ts';
import { ExecError, KubernetesError } from '../../../../src/adapters/kubernetes/types.ts';
import { createMetrics } from '../../../../src/metrics.ts';
import { NotWrittenError } from '../../../../src/outcome.ts';
import { useNock } from '../../../support/nock.ts';
import {
  DIGEST_A,
  eventList,
  FakeCluster,
  K8S_TOKEN,
  NAMESPACE,
  podList,
  podMetricsList,
  podObject,
  status403,
  status404,
} from '../../../../src/drill/kubernetes.ts';

function sink(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    }),
    bytes: () => Buffer.concat(chunks),
  };
}

describe('Kubernetes adapter', () => {
  useNock();
  let server: FakeCluster;
  let cluster: KubeCluster;
  let api: nock.Scope;

  beforeEach(async () => {
    server = new FakeCluster();
    await server.start();
    cluster = new KubeCluster(server.kubeConfig(), createMetrics({ defaults: false }));
    api = nock(server.url, { allowUnmocked: true, reqheaders: { authorization: `Bearer ${K8S_TOKEN}` } });
  });

  afterEach(async () => {
    await server.stop();
    assert.deepEqual(server.unexpected, [], 'no request fell through to the fake server');
  });

  it('lists pods by label selector with restarts, OOMKilled, memory limit, node and the running image digest', async () => {
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: 'app=payments,track=cloud' })
      .reply(
        200,
        podList([
          {
            name: 'payments-7d9f8b6c5-x2x9z',
            ready: false,
            restarts: 5,
            waiting: 'CrashLoopBackOff',
            lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt: '2026-11-26T09:41:07Z' },
          },
        ]),
      );

    const [pod] = await cluster.listPods(NAMESPACE, 'app=payments,track=cloud', 'app');

    assert.ok(pod);
    assert.equal(pod.name, 'payments-7d9f8b6c5-x2x9z');
    assert.equal(pod.ready, false);
    assert.equal(pod.node, 'ip-10-0-1-17.eu-west-1.compute.internal');
    assert.deepEqual(pod.owner, { kind: 'ReplicaSet', name: 'payments-7d9f8b6c5' });
    assert.equal(pod.container?.restarts, 5);
    assert.equal(pod.container?.state, 'waiting');
    assert.equal(pod.container?.stateReason, 'CrashLoopBackOff');
    assert.deepEqual(pod.container?.lastTermination, {
      reason: 'OOMKilled',
      exitCode: 137,
      finishedAt: '2026-11-26T09:41:07.000Z',
    });
    assert.equal(pod.container?.memoryLimitBytes, 2 * 1024 ** 3);
    assert.equal(pod.container?.imageDigest, DIGEST_A);
  });

  it('says which verb on which resource RBAC denies (403 Status)', async () => {
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods`).query(true).reply(403, status403('list', 'pods'));
    const err = await cluster.listPods(NAMESPACE, 'app=payments', 'app').then(
      () => assert.fail('expected 403'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubernetesError);
    assert.equal(err.reason, 'forbidden');
    assert.equal(err.verb, 'list');
    assert.equal(err.resource, 'pods');
    assert.match(
      err.message,
      /may not list pods in namespace payments. Add the verb "list" on "pods" to its Role/,
    );
  });

  it('reads memory from metrics.k8s.io for the configured container, and says so when there is no metrics server', async () => {
    api
      .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: 'app=payments' })
      .reply(200, podMetricsList({ 'payments-a': '1932735283', 'payments-b': '1843Mi' }));
    const metrics = await cluster.podMemory(NAMESPACE, 'app=payments', 'app');
    assert.ok(metrics.available);
    assert.deepEqual(
      metrics.usage.map((u) => [u.pod, u.bytes]),
      [
        ['payments-a', 1932735283],
        ['payments-b', 1843 * 1024 ** 2],
      ],
    );

    api.get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`).query(true).reply(404, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'the server could not find the requested resource',
      reason: 'NotFound',
      details: {},
      code: 404,
    });
    const missing = await cluster.podMemory(NAMESPACE, 'app=payments', 'app');
    assert.equal(missing.available, false);
    assert.match(
      missing.available ? '' : missing.reason,
      /no metrics-server in this cluster, so memory use is not shown \(not guessed\)/,
    );

    api
      .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
      .query(true)
      .reply(403, status403('list', 'pods.metrics.k8s.io'));
    await assert.rejects(
      cluster.podMemory(NAMESPACE, 'app=payments', 'app'),
      /may not list pods \(API group metrics.k8s.io\)/,
    );
  });

  it('lists recent Warning events about pods', async () => {
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/events`)
      .query({ fieldSelector: 'type=Warning,involvedObject.kind=Pod' })
      .reply(
        200,
        eventList([
          {
            pod: 'payments-a',
            reason: 'BackOff',
            message: 'Back-off restarting failed container app',
            count: 12,
            last: '2026-11-26T09:44:00Z',
          },
          {
            pod: 'payments-a',
            reason: 'Unhealthy',
            message: 'Readiness probe failed',
            last: '2026-11-26T07:00:00Z',
          },
        ]),
      );
    const events = await cluster.warningEvents(NAMESPACE, new Date('2026-11-26T08:45:00Z'));
    assert.deepEqual(events, [
      {
        pod: 'payments-a',
        type: 'Warning',
        reason: 'BackOff',
        message: 'Back-off restarting failed container app',
        count: 12,
        lastSeen: '2026-11-26T09:44:00.000Z',
      },
    ]);
  });

  it('merge-patches labels and annotations, null removing a key', async () => {
    api
      .patch(`/api/v1/namespaces/${NAMESPACE}/pods/payments-a`, (body) => {
        assert.deepEqual(body, {
          metadata: {
            labels: { app: null, 'cloud-safety.io/quarantine': 'INC-1' },
            annotations: { 'cloud-safety.io/incident': 'INC-1' },
          },
        });
        return true;
      })
      .matchHeader('content-type', /^application\/merge-patch\+json/)
      .reply(
        200,
        podObject({ name: 'payments-a', labels: { track: 'cloud', 'cloud-safety.io/quarantine': 'INC-1' } }),
      );
    const pod = await cluster.patchPodMetadata(NAMESPACE, 'payments-a', {
      labels: { app: null, 'cloud-safety.io/quarantine': 'INC-1' },
      annotations: { 'cloud-safety.io/incident': 'INC-1' },
    });
    assert.equal(pod.labels['cloud-safety.io/quarantine'], 'INC-1');
  });

  it('creates the deny-all NetworkPolicy with ingress only from the forensics namespace; 409 means it exists', async () => {
    const expected = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: 'cloud-safety-quarantine-inc-1',
        namespace: NAMESPACE,
        labels: { 'app.kubernetes.io/managed-by': 'cloud-safety' },
        annotations: { 'cloud-safety.io/incident': 'INC-1' },
      },
      spec: {
        podSelector: { matchLabels: { 'cloud-safety.io/quarantine': 'INC-1' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'forensics' } } }] },
        ],
        egress: [],
      },
    };
    api
      .post(`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`, (body) => {
        assert.deepEqual(body, expected);
        return true;
      })
      .reply(201, { ...expected, metadata: { ...expected.metadata, uid: 'np-1', resourceVersion: '1' } });
    api.post(`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`).reply(409, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'networkpolicies.networking.k8s.io "cloud-safety-quarantine-inc-1" already exists',
      reason: 'AlreadyExists',
      details: { name: 'cloud-safety-quarantine-inc-1', group: 'networking.k8s.io', kind: 'networkpolicies' },
      code: 409,
    });
    const spec = {
      name: 'cloud-safety-quarantine-inc-1',
      label: { key: 'cloud-safety.io/quarantine', value: 'INC-1' },
      forensicsNamespace: 'forensics',
      incident: 'INC-1',
    };
    assert.equal(await cluster.createQuarantinePolicy(NAMESPACE, spec), 'created');
    assert.equal(await cluster.createQuarantinePolicy(NAMESPACE, spec), 'exists');
  });

  const status500 = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'etcdserver: request timed out',
    reason: 'InternalError',
    code: 500,
  };

  it('a relabel answered 500 that the API server applied: reads the pod back and reports it relabelled', async () => {
    api.patch(`/api/v1/namespaces/${NAMESPACE}/pods/payments-a`).reply(500, status500);
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods/payments-a`)
      .reply(
        200,
        podObject({ name: 'payments-a', labels: { track: 'cloud', 'cloud-safety.io/quarantine': 'INC-1' } }),
      );
    const pod = await cluster.patchPodMetadata(NAMESPACE, 'payments-a', {
      labels: { app: null, 'cloud-safety.io/quarantine': 'INC-1' },
    });
    assert.equal(pod.labels['cloud-safety.io/quarantine'], 'INC-1');
    assert.equal(pod.labels.app, undefined);
  });

  it('a relabel answered 500 that did not apply: "not relabelled" only after the pod read back says so', async () => {
    api.patch(`/api/v1/namespaces/${NAMESPACE}/pods/payments-a`).reply(500, status500);
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods/payments-a`)
      .reply(200, podObject({ name: 'payments-a', labels: { app: 'payments', track: 'cloud' } }));
    await assert.rejects(
      cluster.patchPodMetadata(NAMESPACE, 'payments-a', {
        labels: { app: null, 'cloud-safety.io/quarantine': 'INC-1' },
      }),
      (err: Error) =>
        err instanceof NotWrittenError &&
        /^patching pod payments-a failed \(.*\); the pod read back does not carry the new labels, so it was not relabelled$/.test(
          err.message,
        ),
    );
  });

  it('a NetworkPolicy create answered 500: created if reading it back finds it, not created if 404', async () => {
    const spec = {
      name: 'cloud-safety-quarantine-inc-1',
      label: { key: 'cloud-safety.io/quarantine', value: 'INC-1' },
      incident: 'INC-1',
    };
    const path = `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`;
    api.post(path).reply(500, status500);
    api.get(`${path}/${spec.name}`).reply(200, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: spec.name, namespace: NAMESPACE, uid: 'np-1', resourceVersion: '7' },
      spec: {
        podSelector: { matchLabels: { 'cloud-safety.io/quarantine': 'INC-1' } },
        policyTypes: ['Ingress', 'Egress'],
      },
    });
    assert.equal(await cluster.createQuarantinePolicy(NAMESPACE, spec), 'created');

    api.post(path).reply(500, status500);
    api.get(`${path}/${spec.name}`).reply(404, status404('networkpolicies', spec.name));
    await assert.rejects(
      cluster.createQuarantinePolicy(NAMESPACE, spec),
      (err: Error) =>
        err instanceof NotWrittenError &&
        /reading it back finds no such policy, so nothing was created$/.test(err.message),
    );
  });

  it('deletes a pod only if it still has the uid, and reports a pod already gone', async () => {
    api
      .delete(`/api/v1/namespaces/${NAMESPACE}/pods/payments-a`, (body) => {
        assert.deepEqual(body, { preconditions: { uid: 'uid-payments-a' } });
        return true;
      })
      .reply(200, podObject({ name: 'payments-a', deletionTimestamp: '2026-11-26T10:00:00Z' }));
    api.delete(`/api/v1/namespaces/${NAMESPACE}/pods/payments-b`).reply(404, status404('pods', 'payments-b'));
    assert.equal(await cluster.deletePod(NAMESPACE, 'payments-a', 'uid-payments-a'), 'deleted');
    assert.equal(await cluster.deletePod(NAMESPACE, 'payments-b', 'uid-payments-b'), 'gone');
  });

  it('streams the previous container log; a pod that never restarted is a 400 with the reason', async () => {
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods/payments-a/log`)
      .query({ container: 'app', previous: 'true', limitBytes: '1048576' })
      .reply(200, 'java.lang.OutOfMemoryError: Java heap space\n\tat com.acme.Ledger.load(Ledger.java:88)\n');
    const out = sink();
    const bytes = await cluster.streamLogs(
      NAMESPACE,
      'payments-a',
      'app',
      { previous: true, limitBytes: 1048576 },
      out.stream,
    );
    assert.equal(bytes, out.bytes().length);
    assert.match(out.bytes().toString(), /OutOfMemoryError/);

    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/payments-b/log`).query(true).reply(400, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'previous terminated container "app" in pod "payments-b" not found',
      reason: 'BadRequest',
      code: 400,
    });
    await assert.rejects(
      cluster.streamLogs(
        NAMESPACE,
        'payments-b',
        'app',
        { previous: true, limitBytes: 1048576 },
        sink().stream,
      ),
      (err: unknown) =>
        err instanceof KubernetesError &&
        err.reason === 'invalid' &&
        /previous terminated container/.test(err.message),
    );
  });

  it('pulls a file in chunks, resuming a cut chunk from the last byte received, and reads size and sha256 in the pod', async () => {
    const content = randomBytes(5 * 1024 * 1024 + 123);
    server
      .addPod('payments-a', { cutAfter: { bytes: 300_000, times: 2 } })
      .files.set('/tmp/heap.hprof.gz', content);
    const out = sink();
    const pulled = await cluster.pullFile(
      { namespace: NAMESPACE, pod: 'payments-a', container: 'app' },
      '/tmp/heap.hprof.gz',
      out.stream,
      {
        chunkBytes: 2 * 1024 * 1024,
      },
    );
    assert.equal(pulled.size, content.length);
    assert.equal(pulled.sha256, createHash('sha256').update(content).digest('hex'));
    assert.equal(pulled.retries, 2);
    assert.deepEqual(out.bytes(), content);
    const pulls = server.execs.filter((e) => e.command[2]?.startsWith('tail'));
    assert.deepEqual(
      pulls.map((e) => e.command[2]),
      [
        `tail -c +1 '/tmp/heap.hprof.gz' | head -c 2097152`,
        `tail -c +300001 '/tmp/heap.hprof.gz' | head -c 2097152`,
        `tail -c +600001 '/tmp/heap.hprof.gz' | head -c 2097152`,
        `tail -c +2697153 '/tmp/heap.hprof.gz' | head -c 2097152`,
        `tail -c +4794305 '/tmp/heap.hprof.gz' | head -c 448699`,
      ],
    );
  });

  it('streams the file while the pod is still hashing it, and waits for the hash at the end', async () => {
    // The pod's sha256sum takes 2 s; the bytes must not wait for it.
    const content = randomBytes(3 * 1024 * 1024);
    server.addPod('payments-a', { hashMs: 2000 }).files.set('/tmp/heap.hprof.gz', content);
    const started = performance.now();
    let firstByteMs: number | undefined;
    const chunks: Buffer[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        firstByteMs ??= performance.now() - started;
        chunks.push(chunk);
        done();
      },
    });

    const pulled = await cluster.pullFile(
      { namespace: NAMESPACE, pod: 'payments-a', container: 'app' },
      '/tmp/heap.hprof.gz',
      out,
      { chunkBytes: 1024 * 1024 },
    );

    assert.ok(firstByteMs !== undefined && firstByteMs < 1500, `first byte after ${firstByteMs} ms`);
    assert.ok(performance.now() - started >= 2000, 'the pull resolves only once the hash is in');
    assert.equal(pulled.sha256, createHash('sha256').update(content).digest('hex'));
    assert.ok(Buffer.concat(chunks).equals(content));
    assert.equal(pulled.execs, 5, 'size, hash and three chunks');
  });

  it('gives up after the configured retries, saying how far it got', async () => {
    const content = randomBytes(1024 * 1024);
    server.addPod('payments-a', { cutAfter: { bytes: 1000, times: 10 } }).files.set('/tmp/t', content);
    const err = await cluster
      .pullFile({ namespace: NAMESPACE, pod: 'payments-a', container: 'app' }, '/tmp/t', sink().stream, {
        retries: 2,
      })
      .then(
        () => assert.fail('expected to give up'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ExecError);
    assert.match(err.message, /failed at byte 3000 of 1048576 after 2 retries/);
    assert.equal(err.stdoutBytes, 3000);
  });
});
