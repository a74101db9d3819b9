// /telemetry release: a quarantined pod given back its labels is adopted by its ReplicaSet, which then scales down
// to spec.replicas by deleting a pod, newest first
// (https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#scaling-a-replicaset). The card says so
// before anything happens, and mode=delete is the safe choice. The ReplicaSet model stands in for the controller.
import assert from 'node:assert/strict';
import { KubeClusters } from '../../src/adapters/kubernetes/client.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { Config } from '../../src/config.ts';
import { createMetrics } from '../../src/metrics.ts';
import { FakeCluster, NAMESPACE } from '../../src/drill/kubernetes.ts';
import { makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { ExecFront } from '../support/kube-exec.ts';
import { ReplicaSetModel } from '../support/kube-replicaset.ts';
import { VirtualTimers } from '../support/virtual-timers.ts';

const RS = 'payments-7d9f8b6c5';
const A = 'payments-7d9f8b6c5-aaaaa';
const D = 'payments-7d9f8b6c5-ddddd';
const LABELS = { app: 'payments', track: 'cloud', 'pod-template-hash': '7d9f8b6c5' };

function config(onExpiry: 'return' | 'delete' = 'delete'): Config {
  return testConfig({
    services: {
      payments: {
        kubernetes: {
          namespace: NAMESPACE,
          selector: 'app=payments,track=cloud',
          container: 'app',
          runtime: 'jvm',
          onExpiry,
        },
      },
      checkout: {},
    },
  });
}

describe('/telemetry release and the ReplicaSet that re-adopts the pod', () => {
  let server: FakeCluster;
  let front: ExecFront;
  let model: ReplicaSetModel;
  let t: TestBot;

  beforeEach(async () => {
    server = new FakeCluster();
    await server.start();
    front = new ExecFront(server, new VirtualTimers());
    await front.start();
    model = new ReplicaSetModel({
      namespace: NAMESPACE,
      name: RS,
      replicas: 3,
      selector: { app: 'payments', 'pod-template-hash': '7d9f8b6c5' },
      now: () => '2026-11-26T10:30:00Z',
    });
    // A was quarantined at 09:50: its labels removed, so the ReplicaSet released it and started D.
    model.add({
      name: A,
      labels: { 'cloud-safety.io/quarantine': 'INC-1' },
      annotations: {
        'cloud-safety.io/incident': 'INC-1',
        'cloud-safety.io/original-labels': JSON.stringify(LABELS),
      },
      createdAt: '2026-11-26T08:00:00Z',
      owner: null,
    });
    for (const name of ['payments-7d9f8b6c5-bbbbb', 'payments-7d9f8b6c5-ccccc'])
      model.add({
        name,
        labels: { ...LABELS },
        annotations: {},
        createdAt: '2026-11-26T08:00:00Z',
        owner: RS,
      });
    model.add({
      name: D,
      labels: { ...LABELS },
      annotations: {},
      createdAt: '2026-11-26T09:50:04Z',
      owner: RS,
    });
    front.rest = model.handle;
    t = makeTestBot({
      config: config(),
      now: () => new Date('2026-11-26T10:30:00Z'),
      adapters: { kubernetes: new KubeClusters(front.kubeConfig(), createMetrics({ defaults: false })) },
    });
    await t.command('alice', '/incident', 'declare payments');
  });

  afterEach(async () => {
    await t.bot.stop();
    await front.stop();
    await server.stop();
    assert.deepEqual(server.unexpected, [], 'every Kubernetes REST call was answered by the model');
  });

  it('says before anything happens that returning the pod makes the ReplicaSet delete one (likely the healthy replacement), and returns only once a second person approves', async () => {
    const replies = await t.command('alice', '/telemetry', 'release');

    const reply = textOf(replies[0]);
    assert.match(
      reply,
      /Nothing changed yet: ReplicaSet `payments-7d9f8b6c5` wants 3 replicas and already runs 3: once `payments-7d9f8b6c5-aaaaa` carries its labels again it adopts it, counts 4, and \*deletes 1 pod\*, newest first: likely `payments-7d9f8b6c5-ddddd`, a healthy replacement, while the quarantined pod goes back to serving/,
    );
    assert.match(reply, /`\/telemetry release mode=delete` deletes the quarantined pods and the policy/);
    assert.deepEqual(model.patched, [], 'no label restored before approval');
    assert.deepEqual(model.deleted, [], 'nothing deleted before approval');
    const [action] = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.equal(action?.kind, 'pods.release');
    const card = textOf(t.chat.latest(action?.card ?? { channel: '', ts: '' }));
    assert.match(card, /`payments-7d9f8b6c5` deletes 1 pod/);
    assert.match(card, /likely `payments-7d9f8b6c5-ddddd`/);
    assert.match(card, /mode=delete/);

    await t.click('bob', APPROVE_ACTION, action?.id ?? '');

    assert.equal((await t.bot.deps.approvals.get(action?.id ?? ''))?.state, 'succeeded');
    assert.deepEqual(model.patched, [A]);
    assert.deepEqual(model.deleted, [{ pod: D, by: 'replicaset' }], 'what the card predicted');
    assert.deepEqual(model.policiesDeleted, ['cloud-safety-quarantine-inc-1']);
  });

  it('mode=delete, the safe choice: deletes the quarantined pod and the policy, and the ReplicaSet deletes nothing', async () => {
    const replies = await t.command('alice', '/telemetry', 'release mode=delete');

    assert.match(textOf(replies[0]), /Released: payments-7d9f8b6c5-aaaaa deleted/);
    assert.deepEqual(model.deleted, [{ pod: A, by: 'client' }]);
    assert.deepEqual(model.patched, []);
    assert.deepEqual(model.policiesDeleted, ['cloud-safety-quarantine-inc-1']);
    assert.equal(model.pods.size, 3, 'the ReplicaSet keeps its 3 pods');
  });

  it('an expiry with onExpiry: return never deletes a pod unasked: the fence stays and a card asks first', async () => {
    await t.bot.stop();
    t = makeTestBot({
      config: config('return'),
      store: t.store,
      chat: t.chat,
      now: () => new Date('2026-11-26T10:30:00Z'),
      adapters: { kubernetes: new KubeClusters(front.kubeConfig(), createMetrics({ defaults: false })) },
    });
    await t.store.schedule(
      'schedule:telemetry-quarantine-expiry',
      'INC-1|payments',
      Date.parse('2026-11-26T10:29:00Z'),
    );

    await t.bot.deps.scheduler.tick();
    await t.bot.idle();

    assert.deepEqual(model.patched, [], 'no label restored by the timer');
    assert.deepEqual(model.deleted, [], 'nothing deleted by the timer');
    assert.deepEqual(model.policiesDeleted, [], 'the fence stays');
    const [action] = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.equal(action?.kind, 'pods.release');
    assert.match(
      t.chat.texts('post').join('\n'),
      /The quarantine of payments expired, but it stays in place: Nothing changed yet: ReplicaSet `payments-7d9f8b6c5` wants 3 replicas/,
    );
  });

  it('returns at once when the ReplicaSet has room (no replacement yet): nothing is deleted', async () => {
    model.pods.delete(D);

    const replies = await t.command('alice', '/telemetry', 'release');

    assert.match(textOf(replies[0]), /Released: payments-7d9f8b6c5-aaaaa returned to their ReplicaSet/);
    assert.deepEqual(model.deleted, []);
    assert.deepEqual(await t.bot.deps.approvals.listForIncident('INC-1'), []);
  });
});
