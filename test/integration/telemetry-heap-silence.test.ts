// /telemetry heap dumps of big JVMs: jcmd stays silent while it writes the heap, for minutes on a big heap, and the
// exec's silence allowance grows with the container's memory limit (virtual timers; the exec front holds the output).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { LocalEvidenceStore } from '../../src/adapters/evidence/local.ts';
import { KubeClusters } from '../../src/adapters/kubernetes/client.ts';
import { PrometheusClient } from '../../src/adapters/prometheus.ts';
import type { Config } from '../../src/config.ts';
import { createMetrics } from '../../src/metrics.ts';
import {
  eventList,
  FakeCluster,
  NAMESPACE,
  podList,
  podMetricsList,
  podObject,
  type PodSpecInput,
} from '../../src/drill/kubernetes.ts';
import { makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { ExecFront } from '../support/kube-exec.ts';
import { useNock } from '../support/nock.ts';
import { VirtualTimers } from '../support/virtual-timers.ts';

const SELECTOR = 'app=payments,track=cloud';
const A = 'payments-7d9f8b6c5-aaaaa';
const B = 'payments-7d9f8b6c5-bbbbb';

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

describe('/telemetry heap dumps of big JVMs (jcmd is silent while the heap is written)', () => {
  useNock();
  let server: FakeCluster;
  let front: ExecFront;
  let timers: VirtualTimers;
  let dir: string;
  let t: TestBot;
  let api: nock.Scope;

  beforeEach(async () => {
    server = new FakeCluster();
    await server.start();
    timers = new VirtualTimers();
    front = new ExecFront(server, timers);
    await front.start();
    dir = mkdtempSync(join(tmpdir(), 'cs-heap-silence-'));
    api = nock(front.url, { allowUnmocked: true });
    const metrics = createMetrics({ defaults: false });
    t = makeTestBot({
      config: config(),
      now: () => new Date('2026-11-26T09:45:00Z'),
      adapters: {
        kubernetes: new KubeClusters(front.kubeConfig(), metrics, { timers }),
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

  function nockPod(memoryLimit: string): PodSpecInput {
    const pods: PodSpecInput[] = [
      { name: A, memoryLimit },
      { name: B, memoryLimit },
    ];
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podList(pods));
    api
      .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podMetricsList({ [A]: '1966Mi', [B]: '600Mi' }));
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/events`)
      .query({ fieldSelector: 'type=Warning,involvedObject.kind=Pod' })
      .reply(200, eventList([]));
    const pod = pods[0] as PodSpecInput;
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(200, podObject(pod));
    return pod;
  }

  it('waits out a 5-minute silent jcmd GC.heap_dump of an 8 GiB container, saying so on the card, and keeps the dump (jcmd(1): GC.heap_dump writes the whole heap, then reports)', async () => {
    const heap = randomBytes(256 * 1024);
    server.addPod(A, { heap });
    front.heapDumpSilenceMs = 5 * 60_000;
    nockPod('8Gi');

    const pending = t.command('alice', '/telemetry', 'pods=1');
    await front.heapDumpSilent();
    await timers.advance(5 * 60_000, 5_000);
    await pending;

    const events = await t.bot.deps.timeline.read('INC-1');
    const dump = events.find((e) => e.kind === 'evidence.captured' && e.data.kind === 'heap-dump');
    assert.equal(dump?.data.sha256, createHash('sha256').update(heap).digest('hex'));
    const progress = t.chat.sent
      .filter((s) => s.kind === 'update')
      .map((s) => textOf(s.message))
      .filter((text) => /writing the heap dump in the pod/.test(text));
    assert.ok(progress.length > 0, 'the card says the silence is expected while jcmd writes');
    assert.match(
      progress.at(-1) ?? '',
      /writing the heap dump in the pod \(up to 8\.0 GiB, the container's memory limit\): no output for \d+m( \d+s)?, which is normal until the file is complete; waiting up to 7m 50s/,
    );
  });

  it('gives up on a heap dump silent past what its memory limit allows, naming the allowance (512 MiB: 1m 26s)', async () => {
    server.addPod(A, { heap: randomBytes(64 * 1024) });
    front.heapDumpSilenceMs = 5 * 60_000;
    const pod = nockPod('512Mi');
    // After a failed dump the bot reads the pod to tell "gone" from "still there".
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(200, podObject(pod));

    const pending = t.command('alice', '/telemetry', 'pods=1');
    await front.heapDumpSilent();
    await timers.advance(3 * 60_000, 5_000);
    await pending;

    const events = await t.bot.deps.timeline.read('INC-1');
    const failed = events.find((e) => e.kind === 'evidence.failed' && e.data.kind === 'heap-dump');
    assert.match(failed?.summary ?? '', /no data from the pod for 86s/);
  });
});
