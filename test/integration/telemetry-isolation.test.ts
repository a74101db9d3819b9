// /telemetry quarantine: a 201 for the deny-all NetworkPolicy is not isolation. "Network policies are implemented by
// the network plugin … Creating a NetworkPolicy resource without a controller that implements it will have no
// effect." (https://kubernetes.io/docs/concepts/services-networking/network-policies/#prerequisites). The exec front
// models a plugin that enforces policies (after a probe's lag) and one that does not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { LocalEvidenceStore } from '../../src/adapters/evidence/local.ts';
import { KubeClusters } from '../../src/adapters/kubernetes/client.ts';
import { PrometheusClient } from '../../src/adapters/prometheus.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { Config } from '../../src/config.ts';
import { createMetrics } from '../../src/metrics.ts';
import {
  eventList,
  FakeCluster,
  NAMESPACE,
  podMetricsList,
  podObject,
  type PodSpecInput,
} from '../../src/drill/kubernetes.ts';
import { makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { ExecFront } from '../support/kube-exec.ts';
import { useNock } from '../support/nock.ts';
import { VirtualTimers } from '../support/virtual-timers.ts';

const SELECTOR = 'app=payments,track=cloud';
const PODS: PodSpecInput[] = [
  { name: 'payments-7d9f8b6c5-aaaaa', restarts: 4 },
  { name: 'payments-7d9f8b6c5-bbbbb' },
  { name: 'payments-7d9f8b6c5-ccccc' },
];
const [A] = PODS.map((p) => p.name) as [string];
const IPS = ['10.0.1.17', '10.0.2.33', '10.0.1.52'];
const QUARANTINED = { ...(PODS[0] as PodSpecInput), labels: { 'cloud-safety.io/quarantine': 'INC-1' } };

/** The pod as the API serves it, with its IP and the containerPort the app listens on. */
function pod(input: PodSpecInput): Record<string, unknown> {
  const obj = podObject(input) as {
    spec: { containers: { ports?: unknown[] }[] };
    status: { podIP?: string };
  };
  const i = PODS.findIndex((p) => p.name === input.name);
  obj.status.podIP = IPS[i];
  for (const c of obj.spec.containers) c.ports = [{ name: 'http', containerPort: 8080, protocol: 'TCP' }];
  return obj;
}

function list(pods: PodSpecInput[]): Record<string, unknown> {
  return { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '48220' }, items: pods.map(pod) };
}

function config(): Config {
  return testConfig({
    services: {
      payments: {
        kubernetes: { namespace: NAMESPACE, selector: SELECTOR, container: 'app', runtime: 'jvm' },
      },
      checkout: {},
    },
  });
}

describe('/telemetry quarantine checks that the deny-all NetworkPolicy isolates the pod', () => {
  useNock();
  let server: FakeCluster;
  let front: ExecFront;
  let dir: string;
  let t: TestBot;
  let api: nock.Scope;

  beforeEach(async () => {
    server = new FakeCluster();
    await server.start();
    front = new ExecFront(server, new VirtualTimers());
    await front.start();
    PODS.forEach((p, i) => front.network.ips.set(IPS[i] ?? '', p.name));
    dir = mkdtempSync(join(tmpdir(), 'cs-isolation-'));
    api = nock(front.url, { allowUnmocked: true });
    const metrics = createMetrics({ defaults: false });
    t = makeTestBot({
      config: config(),
      now: () => new Date('2026-11-26T09:45:00Z'),
      adapters: {
        kubernetes: new KubeClusters(front.kubeConfig(), metrics),
        evidence: new LocalEvidenceStore(dir),
        prometheus: new PrometheusClient(metrics),
      },
    });
    await t.command('alice', '/incident', 'declare payments');
  });

  afterEach(async () => {
    await t.bot.stop();
    await front.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(server.unexpected, [], 'every Kubernetes REST call was expected');
  });

  /** Requests quarantine=1 of pod A and has bob approve it; the API accepts the policy and the relabel. */
  async function quarantine(): Promise<{ summary: string; card: string }> {
    server.addPod(A, { heap: randomBytes(32 * 1024) });
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods`).query({ labelSelector: SELECTOR }).reply(200, list(PODS));
    api
      .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podMetricsList({ [A]: '1966Mi', 'payments-7d9f8b6c5-bbbbb': '900Mi' }));
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/events`)
      .query({ fieldSelector: 'type=Warning,involvedObject.kind=Pod' })
      .reply(200, eventList([]));
    api
      .get(`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`)
      .reply(200, { kind: 'NetworkPolicyList', apiVersion: 'networking.k8s.io/v1', metadata: {}, items: [] });
    api.get(`/apis/apps/v1/namespaces/${NAMESPACE}/replicasets/payments-7d9f8b6c5`).reply(200, {
      kind: 'ReplicaSet',
      apiVersion: 'apps/v1',
      metadata: { name: 'payments-7d9f8b6c5', namespace: NAMESPACE },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'payments', 'pod-template-hash': '7d9f8b6c5' } },
        template: {},
      },
    });
    api.get(`/api/v1/namespaces/${NAMESPACE}/services`).reply(200, {
      kind: 'ServiceList',
      apiVersion: 'v1',
      metadata: {},
      items: [
        { metadata: { name: 'payments', namespace: NAMESPACE }, spec: { selector: { app: 'payments' } } },
      ],
    });
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(200, pod(PODS[0] as PodSpecInput));
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}/log`)
      .query({ container: 'app', previous: 'true', limitBytes: String(10 * 1024 * 1024) })
      .reply(200, 'OOM\n');
    await t.command('alice', '/telemetry', 'quarantine=1');
    const [action] = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(action);

    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(200, pod(PODS[0] as PodSpecInput));
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods`).query({ labelSelector: SELECTOR }).reply(200, list(PODS));
    api.post(`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`).reply(201, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'cloud-safety-quarantine-inc-1', namespace: NAMESPACE, uid: 'np-1' },
      spec: {
        podSelector: { matchLabels: { 'cloud-safety.io/quarantine': 'INC-1' } },
        policyTypes: ['Ingress', 'Egress'],
      },
    });
    api.patch(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(200, () => {
      // The policy selects the quarantine label: from now on the plugin (if it enforces policies) fences the pod.
      front.fence(A);
      return pod(QUARANTINED);
    });
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(200, pod(QUARANTINED));
    api
      .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: 'cloud-safety.io/quarantine=INC-1' })
      .reply(200, podMetricsList({ [A]: '1966Mi' }));

    await t.click('bob', APPROVE_ACTION, action.id);

    const done = await t.bot.deps.approvals.get(action.id);
    assert.equal(done?.state, 'succeeded');
    return {
      summary: done?.result?.summary ?? '',
      card: textOf(t.chat.latest(action.card ?? { channel: '', ts: '' })),
    };
  }

  it('a plugin that enforces NetworkPolicy (rules programmed after a moment): probes reach the pod before, then fail; "Isolation confirmed"', async () => {
    front.network.enforces = true;
    front.network.lagProbes = 1;

    const { summary, card } = await quarantine();

    assert.deepEqual(
      front.probes.map((p) => `${p.from} -> ${p.ip}:${p.port} ${p.reached ? 'reached' : 'blocked'}`),
      [
        'payments-7d9f8b6c5-bbbbb -> 10.0.1.17:8080 reached',
        'payments-7d9f8b6c5-bbbbb -> 10.0.1.17:8080 reached',
        'payments-7d9f8b6c5-bbbbb -> 10.0.1.17:8080 blocked',
      ],
    );
    assert.match(summary, /1 pod isolated behind cloud-safety-quarantine-inc-1/);
    assert.match(
      summary,
      /Isolation confirmed: from payments-7d9f8b6c5-bbbbb, payments-7d9f8b6c5-aaaaa \(10\.0\.1\.17:8080\) answered before the fence and no longer answers/,
    );
    assert.match(card, /Isolation confirmed/);
    const event = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'telemetry.quarantined');
    assert.equal(event?.data.isolation, 'confirmed');
  });

  it('a plugin that does not enforce NetworkPolicy (the API still answers 201): the card says plainly the pod is NOT isolated', async () => {
    front.network.enforces = false;

    const { summary, card } = await quarantine();

    assert.equal(front.probes.length, 4, 'one probe before the fence, three after');
    assert.ok(front.probes.every((p) => p.reached));
    assert.match(
      summary,
      /^NOT ISOLATED: from payments-7d9f8b6c5-bbbbb, payments-7d9f8b6c5-aaaaa \(10\.0\.1\.17:8080\) still answers after the deny-all NetworkPolicy .* does not enforce NetworkPolicy/,
    );
    assert.match(summary, /taken out of the Service and fenced behind/);
    assert.doesNotMatch(summary, /pod isolated/);
    assert.match(card, /NOT ISOLATED/);
    const event = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'telemetry.quarantined');
    assert.equal(event?.data.isolation, 'not-enforced');
  });
});
