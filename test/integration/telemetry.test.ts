// /telemetry end to end: real bot and flows, Kubernetes REST via nock, exec via a local v4.channel.k8s.io server,
// evidence on disk, quarantine through two-person approval, release and expiry.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nock from 'nock';
import { LocalEvidenceStore } from '../../src/adapters/evidence/local.ts';
import { KubeClusters } from '../../src/adapters/kubernetes/client.ts';
import { PrometheusClient } from '../../src/adapters/prometheus.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import { DEBUG_CONTAINER_ACTION } from '../../flows/telemetry/blocks.ts';
import type { Config } from '../../src/config.ts';
import type { EvidenceEventData } from '../../src/events.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { TimelineEvent } from '../../src/timeline.ts';
import { makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import {
  eventList,
  FakeCluster,
  NAMESPACE,
  podList,
  podMetricsList,
  podObject,
  status403,
  status404,
  type PodSpecInput,
} from '../../src/drill/kubernetes.ts';
import { useNock } from '../support/nock.ts';

const SELECTOR = 'app=payments,track=cloud';
const NODE_1 = 'ip-10-0-1-17.eu-west-1.compute.internal';
const NODE_2 = 'ip-10-0-2-33.eu-west-1.compute.internal';
const PROM = 'https://prometheus.test';
const T0 = new Date('2026-11-26T09:45:00Z');

const PODS: PodSpecInput[] = [
  {
    name: 'payments-7d9f8b6c5-aaaaa',
    node: NODE_1,
    restarts: 4,
    lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt: '2026-11-26T09:41:07Z' },
  },
  { name: 'payments-7d9f8b6c5-bbbbb', node: NODE_2 },
  { name: 'payments-7d9f8b6c5-ccccc', node: NODE_1 },
];
const [A, B, C] = PODS.map((p) => p.name) as [string, string, string];
const USAGE = { [A]: '1966Mi', [B]: '1638Mi', [C]: '614Mi' };

function kubernetesConfig(extra: Record<string, unknown> = {}): Config {
  return testConfig({
    services: {
      payments: {
        kubernetes: {
          namespace: NAMESPACE,
          selector: SELECTOR,
          container: 'app',
          runtime: 'jvm',
          forensicsNamespace: 'forensics',
          debugImage: 'eclipse-temurin:21-jdk',
          capture: { chunkBytes: 1024 * 1024 },
          ...extra,
        },
      },
      checkout: {},
    },
  });
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('/telemetry (Kubernetes via nock and a local exec server)', () => {
  useNock();
  let server: FakeCluster;
  let dir: string;
  let t: TestBot;
  let api: nock.Scope;
  let now: Date;

  function bot(config: Config = kubernetesConfig()): TestBot {
    const metrics = createMetrics({ defaults: false });
    return makeTestBot({
      config,
      now: () => now,
      adapters: {
        kubernetes: new KubeClusters(server.kubeConfig(), metrics),
        evidence: new LocalEvidenceStore(dir),
        prometheus: new PrometheusClient(metrics),
      },
    });
  }

  beforeEach(async () => {
    now = T0;
    server = new FakeCluster();
    await server.start();
    dir = mkdtempSync(join(tmpdir(), 'cs-telemetry-'));
    api = nock(server.url, { allowUnmocked: true });
    t = bot();
    await t.command('alice', '/incident', 'declare payments');
  });

  afterEach(async () => {
    await t.bot.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(server.unexpected, [], 'every Kubernetes REST call was expected');
  });

  function nockSnapshot(opts: { pods?: PodSpecInput[]; metrics?: 'ok' | 'missing' } = {}): void {
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podList(opts.pods ?? PODS));
    if (opts.metrics === 'missing') {
      api
        .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
        .query({ labelSelector: SELECTOR })
        .reply(404, status404('pods.metrics.k8s.io', ''));
    } else {
      api
        .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
        .query({ labelSelector: SELECTOR })
        .reply(200, podMetricsList(USAGE));
    }
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/events`)
      .query({ fieldSelector: 'type=Warning,involvedObject.kind=Pod' })
      .reply(
        200,
        eventList([
          {
            pod: A,
            reason: 'BackOff',
            message: 'Back-off restarting failed container app in pod',
            count: 9,
            last: '2026-11-26T09:43:00Z',
          },
        ]),
      );
  }

  function nockBasics(pod: PodSpecInput, previousLog?: string): void {
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${pod.name}`).reply(200, podObject(pod));
    if (previousLog !== undefined) {
      api
        .get(`/api/v1/namespaces/${NAMESPACE}/pods/${pod.name}/log`)
        .query({ container: 'app', previous: 'true', limitBytes: String(10 * 1024 * 1024) })
        .reply(200, previousLog);
    }
  }

  async function timeline(): Promise<TimelineEvent[]> {
    return t.bot.deps.timeline.read('INC-1');
  }

  function kinds(events: TimelineEvent[], prefix: string): string[] {
    return events
      .filter((e) => e.kind.startsWith(prefix))
      .map((e) => `${e.kind} ${String(e.data.pod ?? '')} ${String(e.data.kind ?? '')}`.trim());
  }

  it('snapshots the pods, charts memory from Prometheus, and streams status, logs, thread and heap dumps of the two worst pods to disk', async () => {
    t = bot(kubernetesConfig({ prometheus: { url: PROM } }));
    await t.command('alice', '/incident', 'declare payments');
    const heapA = randomBytes(2 * 1024 * 1024 + 4099);
    const heapB = randomBytes(700 * 1024);
    server.addPod(A, { heap: heapA });
    server.addPod(B, { heap: heapB });
    nockSnapshot();
    let promQuery = '';
    nock(PROM)
      .post('/api/v1/query_range', (body: Record<string, string>) => {
        promQuery = body.query ?? '';
        return body.step === '30' && body.start === String((T0.getTime() - 30 * 60_000) / 1000);
      })
      .reply(200, {
        status: 'success',
        data: {
          resultType: 'matrix',
          result: [
            {
              metric: { pod: A },
              values: [
                [1764148500, '71.5'],
                [1764150300, '96.0'],
              ],
            },
            {
              metric: { pod: B },
              values: [
                [1764148500, '60.1'],
                [1764150300, '80.0'],
              ],
            },
          ],
        },
      });
    nockBasics(PODS[0] as PodSpecInput, 'java.lang.OutOfMemoryError: Java heap space\n');
    nockBasics(PODS[1] as PodSpecInput);

    const replies = await t.command('alice', '/telemetry');

    assert.match(
      textOf(replies[0]),
      /Keeping evidence from `payments-7d9f8b6c5-aaaaa`, `payments-7d9f8b6c5-bbbbb`/,
    );
    assert.match(
      promQuery,
      /pod=~"payments-7d9f8b6c5-aaaaa\|payments-7d9f8b6c5-bbbbb\|payments-7d9f8b6c5-ccccc"/,
    );
    const snapshot = t.chat.sent.find(
      (s) => s.kind === 'post' && /Workload snapshot/.test(textOf(s.message)),
    );
    assert.ok(snapshot);
    const table = textOf(snapshot.message);
    assert.match(
      table,
      /payments-7d9f8b6c5-aaaaa +Running +yes +4 +OOMKilled 09:41Z +1\.9 GiB \/ 2\.0 GiB +96 +ip-10-0-1-17/,
    );
    assert.match(table, /OOMKilled\*\\n1 of 3 pods/);
    assert.match(table, /BackOff x9/);
    const chart = t.chat.sent.find((s) => s.kind === 'upload');
    assert.ok(Buffer.isBuffer(chart?.file?.content));
    assert.deepEqual((chart?.file?.content as Buffer).subarray(1, 4).toString(), 'PNG');
    assert.match(chart?.file?.comment ?? '', /last 30m \(Prometheus\)/);

    const events = await timeline();
    const evidence = events
      .filter((e) => e.kind.startsWith('evidence.'))
      .map((e) => `${String(e.data.pod)} ${String(e.data.kind)}`);
    // What can't be lost comes first for both pods, before any dump; the dumps of two nodes run side by side.
    assert.deepEqual(evidence.slice(0, 3), [`${A} pod-status`, `${A} previous-logs`, `${B} pod-status`]);
    assert.deepEqual(evidence.slice(3).sort(), [
      `${A} heap-dump`,
      `${A} thread-dump`,
      `${B} heap-dump`,
      `${B} thread-dump`,
    ]);
    const captured = events
      .filter((e) => e.kind === 'evidence.captured')
      .map((e) => e.data as unknown as EvidenceEventData);
    assert.equal(captured.length, 7);
    const heap = captured.find((d) => d.pod === A && d.kind === 'heap-dump');
    assert.ok(heap);
    assert.equal(heap.sha256, sha(heapA));
    assert.equal(heap.size, heapA.length);
    assert.equal(heap.verifiedInPod, true);
    assert.equal(heap.node, NODE_1);
    assert.match(heap.imageDigest ?? '', /^sha256:a1a1/);
    assert.equal(heap.requestedBy, 'alice (U0ALICE)');
    assert.match(
      heap.command?.[2] ?? '',
      /^jcmd 1 GC\.heap_dump -gz=1 \/tmp\/cloud-safety-[0-9a-f]{8}-heap\.hprof\.gz$/,
    );
    assert.deepEqual(readFileSync(fileURLToPath(heap.uri)), heapA);
    const custody = JSON.parse(readFileSync(`${fileURLToPath(heap.uri)}.custody.json`, 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(custody.sha256, sha(heapA));
    assert.equal(custody.status, 'complete');
    const logs = captured.find((d) => d.kind === 'previous-logs');
    assert.equal(
      readFileSync(fileURLToPath(logs?.uri ?? '')).toString(),
      'java.lang.OutOfMemoryError: Java heap space\n',
    );
    const status = JSON.parse(readFileSync(fileURLToPath(captured[0]?.uri ?? ''), 'utf8')) as {
      pod: { metadata: { name: string } };
      memory: { percentOfLimit: number };
      warningEvents: unknown[];
    };
    assert.equal(status.pod.metadata.name, A);
    assert.equal(Math.round(status.memory.percentOfLimit), 96);
    assert.equal(status.warningEvents.length, 1);
    // Scratch files are removed from the pods after the pull.
    assert.deepEqual([...(server.pods.get(A)?.files.keys() ?? [])], []);
    assert.equal(server.execs.filter((e) => e.pod === C).length, 0, 'the third pod is left alone');

    const finished = events.find((e) => e.kind === 'telemetry.capture_finished');
    assert.equal(finished?.data.kept, 7);
    assert.equal(finished?.data.failed, 0);
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.checklist.L.state, 'done');
    const card = t.chat.sent
      .filter((s) => s.kind === 'update' && /Evidence capture/.test(textOf(s.message)))
      .at(-1);
    assert.match(textOf(card?.message), /Evidence capture finished · INC-1 · payments/);
    assert.match(textOf(card?.message), /7 kept, 0 failed, 0 skipped/);
  });

  it('refuses bad input with a clear message and calls no adapter', async () => {
    const cases: [string, RegExp, string?][] = [
      ['pods=0', /pods="0" is not a number of pods; write pods=1 to pods=10/],
      ['pods=abc', /pods="abc" is not a number of pods/],
      ['quarantine=9', /quarantine="9" is not a number of pods; write quarantine=1 to quarantine=3/],
      ['pods=1 quarantine=1', /Give pods= or quarantine=, not both/],
      ['force=yes', /Unknown option force=. Known options: pods=, quarantine=/],
      ['checkout', /This channel's incident INC-1 is about payments, not checkout/],
      ['billing', /Unknown service "billing"/],
      ['payments extra', /Too many words/],
      ['release pods=2', /Unknown option pods=. Known options: mode=/],
      ['release mode=keep', /mode="keep" is not a release mode: mode=return gives the pods back/],
      ['', /This channel has no active incident/, 'C0QUIET'],
    ];
    for (const [text, expected, channel] of cases) {
      const replies = await t.command('alice', '/telemetry', text, channel);
      assert.match(textOf(replies[0]), expected, `/telemetry ${text}`);
      assert.match(
        textOf(replies[0]),
        /\/telemetry \[service\] \[pods=<n>\] \[quarantine=<n>\]/,
        'usage is shown',
      );
    }
    await t.command('alice', '/incident', 'declare checkout', 'C0CHECKOUT');
    const unconfigured = await t.command('alice', '/telemetry', '', 'C0CHECKOUT');
    assert.match(textOf(unconfigured[0]), /checkout has no kubernetes section in cloud-safety.yml/);
    const mallory = await t.command('mallory', '/telemetry');
    assert.match(textOf(mallory[0]), /Only responders can run cloud-safety commands/);

    assert.deepEqual(server.execs, [], 'no exec');
    assert.deepEqual(server.unexpected, [], 'no REST call');
    assert.deepEqual(kinds(await timeline(), 'telemetry.'), []);
  });

  it('judges the arguments before reaching for a cluster (no kubeconfig: still the usage message)', async () => {
    let reached = 0;
    const noCredentials = makeTestBot({
      config: kubernetesConfig(),
      adapters: {
        kubernetes: {
          cluster() {
            reached += 1;
            throw new Error('no Kubernetes credentials');
          },
        },
        evidence: new LocalEvidenceStore(dir),
      },
    });
    await noCredentials.command('alice', '/incident', 'declare payments');
    for (const text of ['pods=-1', 'quarantine=abc', 'pods=1 quarantine=1']) {
      const replies = await noCredentials.command('alice', '/telemetry', text);
      assert.match(
        textOf(replies[0]),
        /\/telemetry \[service\] \[pods=<n>\]/,
        `/telemetry ${text} shows the usage`,
      );
    }
    assert.equal(reached, 0, 'no cluster was asked for');
  });

  it('says so when no pods match, and puts it on the timeline', async () => {
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podList([]));
    const replies = await t.command('alice', '/telemetry');
    assert.match(textOf(replies[0]), /No pods match `app=payments,track=cloud` in namespace payments/);
    const event = (await timeline()).find((e) => e.kind === 'telemetry.snapshot');
    assert.match(event?.summary ?? '', /No pods match/);
  });

  it('names the missing RBAC verb when listing pods is forbidden, on the timeline and in the reply', async () => {
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods`).query(true).reply(403, status403('list', 'pods'));
    const replies = await t.command('alice', '/telemetry');
    assert.match(
      textOf(replies[0]),
      /may not list pods in namespace payments. Add the verb "list" on "pods"/,
    );
    const failed = (await timeline()).find((e) => e.kind === 'telemetry.failed');
    assert.equal(failed?.data.verb, 'list');
    assert.equal(failed?.data.resource, 'pods');
  });

  it('keeps status and logs but reports every dump failed or skipped when exec is forbidden', async () => {
    server.forbidExec = true;
    nockSnapshot({ metrics: 'missing' });
    nockBasics(PODS[0] as PodSpecInput, 'OOM\n');
    nockBasics(PODS[1] as PodSpecInput);

    await t.command('alice', '/telemetry');

    const snapshot = t.chat.sent.find((s) => /Workload snapshot/.test(textOf(s.message)));
    assert.match(textOf(snapshot?.message), /not available: metrics.k8s.io is not served \(HTTP 404\)/);
    assert.equal(t.chat.sent.filter((s) => s.kind === 'upload').length, 0, 'no chart without metrics');
    const events = await timeline();
    const failed = events.filter((e) => e.kind === 'evidence.failed');
    assert.ok(failed.length >= 1);
    assert.match(failed[0]?.summary ?? '', /may not create pods\/exec in namespace payments/);
    assert.equal(
      events.filter((e) => e.kind === 'evidence.captured').length,
      3,
      'status x2 and previous logs kept',
    );
    const finished = events.find((e) => e.kind === 'telemetry.capture_finished');
    assert.equal(finished?.data.kept, 3);
    assert.equal((finished?.data.failed as number) + (finished?.data.skipped as number), 4);
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.checklist.L.state, 'in_progress');
    assert.ok(
      server.execs.length >= 1 && server.execs.length <= 2,
      'at most one refused exec per node, the rest skipped',
    );
  });

  it('reports a pod that dies mid-pull as failed with the partial bytes kept, and a non-zero exit as failed', async () => {
    const heapA = randomBytes(3 * 1024 * 1024);
    server.addPod(A, { heap: heapA, dieAt: 1536 * 1024 });
    server.addPod(B); // no heap: jcmd GC.heap_dump exits 1
    nockSnapshot();
    nockBasics(PODS[0] as PodSpecInput, 'OOM\n');
    nockBasics(PODS[1] as PodSpecInput);
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(404, status404('pods', A));

    await t.command('alice', '/telemetry');

    const events = await timeline();
    const failures = events.filter((e) => e.kind === 'evidence.failed');
    const gone = failures.find((e) => e.data.pod === A);
    assert.match(
      gone?.summary ?? '',
      /FAILED heap-dump of payments-7d9f8b6c5-aaaaa: pod payments-7d9f8b6c5-aaaaa is gone \(deleted during the capture\)/,
    );
    const kept = gone?.data.kept as { uri: string; size: number; sha256: string };
    assert.equal(kept.size, 1536 * 1024);
    assert.ok(kept.uri.endsWith('.partial'), 'partial bytes never carry the complete name');
    assert.deepEqual(readFileSync(fileURLToPath(kept.uri)), heapA.subarray(0, 1536 * 1024));
    const exit = failures.find((e) => e.data.pod === B);
    assert.match(
      exit?.summary ?? '',
      /`jcmd 1 GC.heap_dump -gz=1 \/tmp\/cloud-safety-[0-9a-f]+-heap.hprof.gz` exited with code 1: com.sun.tools.attach.AttachNotSupportedException: Unable to open socket file/,
    );
    assert.deepEqual(
      events
        .filter((e) => e.kind === 'evidence.captured' && e.data.kind === 'thread-dump')
        .map((e) => e.data.pod)
        .sort(),
      [A, B],
    );
    const card = t.chat.sent
      .filter((s) => s.kind === 'update' && /Evidence capture/.test(textOf(s.message)))
      .at(-1);
    assert.match(textOf(card?.message), /finished with failures/);
    assert.match(textOf(card?.message), /Kept 1\.5 MiB as a PARTIAL artifact/);
  });

  it('keeps status and previous logs of a crash-looping pod and skips its dumps, saying why', async () => {
    const looping: PodSpecInput = {
      name: A,
      node: NODE_1,
      ready: false,
      restarts: 12,
      waiting: 'CrashLoopBackOff',
      lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt: '2026-11-26T09:44:30Z' },
    };
    const running = PODS[1] as PodSpecInput;
    server.addPod(B, { heap: randomBytes(1024) });
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podList([looping, running]));
    api
      .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
      .query(true)
      .reply(200, podMetricsList({ [B]: '1638Mi' }));
    api.get(`/api/v1/namespaces/${NAMESPACE}/events`).query(true).reply(200, eventList([]));
    nockBasics(running);
    nockBasics(looping, 'java.lang.OutOfMemoryError: Java heap space\n');

    await t.command('alice', '/telemetry');

    const events = await timeline();
    const skipped = events.filter((e) => e.kind === 'evidence.skipped' && e.data.pod === A);
    assert.deepEqual(
      skipped.map((e) => e.data.kind),
      ['thread-dump', 'heap-dump'],
    );
    assert.match(skipped[0]?.summary ?? '', /container app is not running \(CrashLoopBackOff\)/);
    const kept = events
      .filter((e) => e.kind === 'evidence.captured')
      .map((e) => `${String(e.data.pod)} ${String(e.data.kind)}`);
    assert.ok(kept.includes(`${A} previous-logs`));
    assert.ok(kept.includes(`${B} heap-dump`));
    assert.equal(
      server.execs.filter((e) => e.pod === A).length,
      0,
      'no exec into a container that is not running',
    );
    const table = textOf(t.chat.sent.find((m) => /Workload snapshot/.test(textOf(m.message)))?.message);
    assert.match(table, /payments-7d9f8b6c5-aaaaa +CrashLoopBackOff +no +12 +OOMKilled 09:44Z/);
  });

  it('offers a debug container when the image has no jcmd, and takes the dumps from it when pressed', async () => {
    const heap = randomBytes(100 * 1024);
    const noJcmd = new Set(['sh', 'sha256sum']);
    server.addPod(A, { heap, tools: noJcmd, debugTools: new Set(['sh', 'jcmd', 'sha256sum']) });
    server.addPod(B, { tools: noJcmd });
    nockSnapshot();
    nockBasics(PODS[0] as PodSpecInput, 'OOM\n');
    nockBasics(PODS[1] as PodSpecInput);

    await t.command('alice', '/telemetry');

    const card = t.chat.sent.filter((s) => /Evidence capture/.test(textOf(s.message))).at(-1);
    assert.match(textOf(card?.message), /has no `jcmd` in its image/);
    assert.match(
      textOf(card?.message),
      new RegExp(`"action_id":"${DEBUG_CONTAINER_ACTION}","value":"INC-1\\|${A}"`),
    );
    const missing = (await timeline()).find((e) => e.kind === 'evidence.failed');
    assert.match(missing?.summary ?? '', /the image has no `jcmd`.*press "Debug container"/);

    let debugName = '';
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(200, podObject(PODS[0] as PodSpecInput));
    api
      .patch(
        `/api/v1/namespaces/${NAMESPACE}/pods/${A}/ephemeralcontainers`,
        (body: { spec: { ephemeralContainers: { name: string }[] } }) => {
          debugName = body.spec.ephemeralContainers[0]?.name ?? '';
          assert.match(debugName, /^cs-debug-[0-9a-f]{5}$/);
          assert.deepEqual(body, {
            spec: {
              ephemeralContainers: [
                {
                  name: debugName,
                  image: 'eclipse-temurin:21-jdk',
                  targetContainerName: 'app',
                  command: ['sleep', '86400'],
                  stdin: false,
                  tty: false,
                },
              ],
            },
          });
          return true;
        },
      )
      .matchHeader('content-type', /strategic-merge-patch/)
      .reply(200, podObject(PODS[0] as PodSpecInput));
    const running = () =>
      podObject({ ...(PODS[0] as PodSpecInput), ephemeral: [{ name: debugName, running: true }] });
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).twice().reply(200, running);
    api
      .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podMetricsList(USAGE));

    await t.click('bob', DEBUG_CONTAINER_ACTION, `INC-1|${A}`);

    const events = await timeline();
    const added = events.find((e) => e.kind === 'telemetry.debug_container');
    assert.equal(added?.data.image, 'eclipse-temurin:21-jdk');
    assert.equal(added?.actor.id, 'U0BOB');
    const viaDebug = events.filter((e) => e.kind === 'evidence.captured' && e.data.container === debugName);
    assert.deepEqual(viaDebug.map((e) => e.data.kind).sort(), ['heap-dump', 'thread-dump']);
    const heapEvent = viaDebug.find((e) => e.data.kind === 'heap-dump')?.data as unknown as EvidenceEventData;
    assert.equal(heapEvent.sha256, sha(heap));
    assert.match(heapEvent.command?.[2] ?? '', /GC\.heap_dump -gz=1 \/proc\/1\/root\/tmp\/cloud-safety-/);
    assert.ok(server.execs.some((e) => e.container === debugName));
  });

  it('refuses a debug-container button from another incident or channel, and does nothing', async () => {
    const replies = await t.click('bob', DEBUG_CONTAINER_ACTION, `INC-7|${A}`);
    assert.match(
      textOf(replies[0]),
      /belongs to INC-7, which is not the active incident of this channel; nothing was done/,
    );
    const forged = await t.click('bob', DEBUG_CONTAINER_ACTION, 'INC-1|../../etc');
    assert.match(textOf(forged[0]), /does not name an incident and a pod/);
    assert.deepEqual(server.execs, []);
  });

  it('quarantines through two-person approval: relabel, annotate, deny-all policy, then dumps from the isolated pod; release undoes it', async () => {
    const heap = randomBytes(64 * 1024);
    server.addPod(A, { heap });
    nockSnapshot();
    api.get(`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`).reply(200, {
      kind: 'NetworkPolicyList',
      apiVersion: 'networking.k8s.io/v1',
      metadata: { resourceVersion: '48230' },
      items: [
        {
          metadata: { name: 'allow-same-namespace', namespace: NAMESPACE },
          spec: { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }], policyTypes: ['Ingress'] },
        },
        {
          metadata: { name: 'payments-ingress', namespace: NAMESPACE },
          spec: { podSelector: { matchLabels: { app: 'payments' } }, policyTypes: ['Ingress'] },
        },
      ],
    });
    api.get(`/apis/apps/v1/namespaces/${NAMESPACE}/replicasets/payments-7d9f8b6c5`).reply(200, {
      kind: 'ReplicaSet',
      apiVersion: 'apps/v1',
      metadata: { name: 'payments-7d9f8b6c5', namespace: NAMESPACE, uid: 'rs-uid-1' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'payments', track: 'cloud', 'pod-template-hash': '7d9f8b6c5' } },
        template: {
          metadata: { labels: { app: 'payments', track: 'cloud', 'pod-template-hash': '7d9f8b6c5' } },
          spec: { containers: [{ name: 'app', image: 'x' }] },
        },
      },
      status: { replicas: 3, readyReplicas: 3 },
    });
    api.get(`/api/v1/namespaces/${NAMESPACE}/services`).reply(200, {
      kind: 'ServiceList',
      apiVersion: 'v1',
      metadata: { resourceVersion: '48231' },
      items: [
        {
          metadata: { name: 'payments', namespace: NAMESPACE },
          spec: { selector: { app: 'payments' }, ports: [{ port: 80 }] },
        },
        {
          metadata: { name: 'billing', namespace: NAMESPACE },
          spec: { selector: { app: 'billing' }, ports: [{ port: 80 }] },
        },
      ],
    });
    nockBasics(PODS[0] as PodSpecInput, 'OOM\n');

    const replies = await t.command('alice', '/telemetry', 'quarantine=1');

    assert.match(textOf(replies[0]), /then a quarantine card needs a second person/);
    const [action] = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(action);
    assert.equal(action.state, 'requested');
    const cardText = textOf(t.chat.latest(action.card ?? { channel: '', ts: '' }));
    assert.match(cardText, /Quarantine 1 payments pod \(payments-7d9f8b6c5-aaaaa\)/);
    assert.match(cardText, /remove labels `app`, `pod-template-hash`, `track`/);
    assert.match(cardText, /NetworkPolicy `allow-same-namespace` also selects/);
    assert.doesNotMatch(
      cardText,
      /payments-ingress` also selects/,
      'a policy on the removed label no longer applies',
    );
    assert.equal(server.execs.length, 0, 'no dump before the pod is isolated');

    // A second person approves: reality is re-read, then the change is made.
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(200, podObject(PODS[0] as PodSpecInput));
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podList(PODS));
    let policyBody: Record<string, unknown> = {};
    api
      .post(
        `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`,
        (body: Record<string, unknown>) => {
          policyBody = body;
          return true;
        },
      )
      .reply(201, {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: {
          name: 'cloud-safety-quarantine-inc-1',
          namespace: NAMESPACE,
          uid: 'np-1',
          resourceVersion: '48240',
        },
        spec: {
          podSelector: { matchLabels: { 'cloud-safety.io/quarantine': 'INC-1' } },
          policyTypes: ['Ingress', 'Egress'],
        },
      });
    let patch:
      | { metadata: { labels: Record<string, string | null>; annotations: Record<string, string> } }
      | undefined;
    api
      .patch(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`, (body: typeof patch) => {
        patch = body;
        return true;
      })
      .matchHeader('content-type', /merge-patch/)
      .reply(
        200,
        podObject({ ...(PODS[0] as PodSpecInput), labels: { 'cloud-safety.io/quarantine': 'INC-1' } }),
      );
    const quarantined = { ...(PODS[0] as PodSpecInput), labels: { 'cloud-safety.io/quarantine': 'INC-1' } };
    api.get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`).reply(200, podObject(quarantined));
    api
      .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: 'cloud-safety.io/quarantine=INC-1' })
      .reply(200, podMetricsList({ [A]: '1966Mi' }));

    const approval = await t.click('bob', APPROVE_ACTION, action.id);

    assert.deepEqual(approval, []);
    assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'succeeded');
    assert.deepEqual((policyBody.spec as Record<string, unknown>).ingress, [
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'forensics' } } }] },
    ]);
    assert.deepEqual(patch?.metadata.labels, {
      app: null,
      'pod-template-hash': null,
      track: null,
      'cloud-safety.io/quarantine': 'INC-1',
    });
    assert.equal(patch?.metadata.annotations['cloud-safety.io/incident'], 'INC-1');
    assert.equal(
      patch?.metadata.annotations['cloud-safety.io/quarantine-expires'],
      '2026-11-26T13:45:00.000Z',
    );
    assert.deepEqual(JSON.parse(patch?.metadata.annotations['cloud-safety.io/original-labels'] ?? ''), {
      app: 'payments',
      'pod-template-hash': '7d9f8b6c5',
      track: 'cloud',
    });
    const events = await timeline();
    const order = events.map((e) => e.kind);
    assert.ok(
      order.indexOf('evidence.captured') < order.indexOf('action.requested'),
      'status kept before isolating',
    );
    assert.ok(
      order.indexOf('telemetry.quarantined') < order.lastIndexOf('evidence.captured'),
      'dumps after isolating',
    );
    const heapEvent = events.find((e) => e.kind === 'evidence.captured' && e.data.kind === 'heap-dump');
    assert.equal(heapEvent?.data.sha256, sha(heap));

    // Release: fence lifted first, then the labels go back, so the pod never rejoins the Service while fenced.
    // The ReplicaSet (3 replicas) runs 2 pods, so re-adopting this one deletes nothing: no card needed.
    const calls: string[] = [];
    const quarantinedWithLabels = {
      ...quarantined,
      annotations: {
        'cloud-safety.io/incident': 'INC-1',
        'cloud-safety.io/original-labels':
          '{"app":"payments","pod-template-hash":"7d9f8b6c5","track":"cloud"}',
      },
    };
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: 'cloud-safety.io/quarantine=INC-1' })
      .reply(200, () => podList([quarantinedWithLabels]));
    api.get(`/apis/apps/v1/namespaces/${NAMESPACE}/replicasets`).reply(200, {
      kind: 'ReplicaSetList',
      apiVersion: 'apps/v1',
      metadata: {},
      items: [
        {
          metadata: { name: 'payments-7d9f8b6c5', namespace: NAMESPACE },
          spec: {
            replicas: 3,
            selector: { matchLabels: { app: 'payments', 'pod-template-hash': '7d9f8b6c5' } },
            template: {},
          },
        },
      ],
    });
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podList(PODS.slice(1)));
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: 'cloud-safety.io/quarantine=INC-1' })
      .reply(200, () =>
        podList([
          {
            ...quarantined,
            annotations: {
              'cloud-safety.io/incident': 'INC-1',
              'cloud-safety.io/original-labels':
                '{"app":"payments","pod-template-hash":"7d9f8b6c5","track":"cloud"}',
            },
          },
        ]),
      );
    api
      .delete(
        `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies/cloud-safety-quarantine-inc-1`,
      )
      .reply(200, () => {
        calls.push('delete policy');
        return {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: {
            name: 'cloud-safety-quarantine-inc-1',
            group: 'networking.k8s.io',
            kind: 'networkpolicies',
            uid: 'np-1',
          },
        };
      });
    api
      .patch(
        `/api/v1/namespaces/${NAMESPACE}/pods/${A}`,
        (body: { metadata: { labels: Record<string, string | null> } }) => {
          assert.deepEqual(body.metadata.labels, {
            app: 'payments',
            'pod-template-hash': '7d9f8b6c5',
            track: 'cloud',
            'cloud-safety.io/quarantine': null,
          });
          return true;
        },
      )
      .reply(200, () => {
        calls.push('restore labels');
        return podObject(PODS[0] as PodSpecInput);
      });

    const released = await t.command('carol', '/telemetry', 'release');

    assert.match(
      textOf(released[0]),
      /Released: payments-7d9f8b6c5-aaaaa returned to their ReplicaSet; NetworkPolicy cloud-safety-quarantine-inc-1 deleted/,
    );
    assert.deepEqual(calls, ['delete policy', 'restore labels']);
    const releasedEvent = (await timeline()).find((e) => e.kind === 'telemetry.released');
    assert.equal(releasedEvent?.actor.id, 'U0CAROL');
    assert.deepEqual(
      await t.store.due('schedule:telemetry-quarantine-expiry', Date.parse('2030-01-01')),
      [],
      'expiry cancelled',
    );
  });

  it('refuses to quarantine the only ready pod: no card, a clear reply, a timeline event', async () => {
    const only = [PODS[0] as PodSpecInput];
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podList(only));
    api
      .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: SELECTOR })
      .reply(200, podMetricsList({ [A]: '1966Mi' }));
    api.get(`/api/v1/namespaces/${NAMESPACE}/events`).query(true).reply(200, eventList([]));

    const replies = await t.command('alice', '/telemetry', 'quarantine=1');

    assert.match(
      textOf(replies[0]),
      /Nothing to quarantine: isolating even one ready pod would leave fewer than 50% of the 1 ready pods serving/,
    );
    assert.deepEqual(await t.bot.deps.approvals.listForIncident('INC-1'), []);
    const refused = (await timeline()).find((e) => e.kind === 'telemetry.failed');
    assert.match(refused?.summary ?? '', /Quarantine of 1 pod\(s\) refused/);
    assert.deepEqual(server.execs, []);
  });

  it('refuses at approval time when the pod was replaced since the request, and changes nothing', async () => {
    nockSnapshot();
    api.get(`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`).reply(200, {
      kind: 'NetworkPolicyList',
      apiVersion: 'networking.k8s.io/v1',
      metadata: {},
      items: [],
    });
    api.get(`/apis/apps/v1/namespaces/${NAMESPACE}/replicasets/payments-7d9f8b6c5`).reply(200, {
      kind: 'ReplicaSet',
      apiVersion: 'apps/v1',
      metadata: { name: 'payments-7d9f8b6c5', namespace: NAMESPACE },
      spec: {
        selector: { matchLabels: { app: 'payments', 'pod-template-hash': '7d9f8b6c5' } },
        template: {},
      },
    });
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/services`)
      .reply(200, { kind: 'ServiceList', apiVersion: 'v1', metadata: {}, items: [] });
    nockBasics(PODS[0] as PodSpecInput, 'OOM\n');
    await t.command('alice', '/telemetry', 'quarantine=1');
    const [action] = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(action);
    // Meanwhile the pod was deleted and the ReplicaSet made a new one with the same name.
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`)
      .reply(200, podObject({ ...(PODS[0] as PodSpecInput), uid: 'uid-new' }));

    await t.click('dave', APPROVE_ACTION, action.id);

    const done = await t.bot.deps.approvals.get(action.id);
    assert.equal(done?.state, 'failed');
    assert.match(
      done?.result?.summary ?? '',
      /Pod payments-7d9f8b6c5-aaaaa is gone or was replaced since the request; nothing was changed/,
    );
    assert.equal((await timeline()).filter((e) => e.kind === 'telemetry.quarantined').length, 0);
  });

  it('deletes quarantined pods and the policy when the quarantine expires (durable timer)', async () => {
    await t.store.schedule(
      'schedule:telemetry-quarantine-expiry',
      'INC-1|payments',
      Date.parse('2026-11-26T13:45:00Z'),
    );
    api
      .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
      .query({ labelSelector: 'cloud-safety.io/quarantine=INC-1' })
      .reply(
        200,
        podList([{ ...(PODS[0] as PodSpecInput), labels: { 'cloud-safety.io/quarantine': 'INC-1' } }]),
      );
    api
      .delete(`/api/v1/namespaces/${NAMESPACE}/pods/${A}`, (body: unknown) => {
        assert.deepEqual(body, { preconditions: { uid: `uid-${A}` } });
        return true;
      })
      .reply(200, podObject({ ...(PODS[0] as PodSpecInput), deletionTimestamp: '2026-11-26T13:45:01Z' }));
    api
      .delete(
        `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies/cloud-safety-quarantine-inc-1`,
      )
      .reply(200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });

    await t.bot.deps.scheduler.tick();
    await t.bot.idle();
    assert.equal(
      (await timeline()).filter((e) => e.kind === 'telemetry.released').length,
      0,
      'not before its time',
    );

    now = new Date('2026-11-26T13:45:01Z');
    await t.bot.deps.scheduler.tick();
    await t.bot.idle();

    const released = (await timeline()).find((e) => e.kind === 'telemetry.released');
    assert.match(
      released?.summary ?? '',
      /Quarantine expired: payments-7d9f8b6c5-aaaaa deleted; NetworkPolicy cloud-safety-quarantine-inc-1 deleted/,
    );
    assert.equal(released?.actor.type, 'system');
    assert.match(t.chat.texts('post').join('\n'), /Quarantine expired/);
  });
});
