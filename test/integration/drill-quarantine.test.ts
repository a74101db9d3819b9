// /telemetry quarantine in a drill: the drill cluster serves the Service, the ReplicaSet and NetworkPolicies, and its
// pod network either enforces the deny-all policy (after the plugin's programming delay) or, in the
// network-unenforced scenario, does not. The probe the flow runs from a peer pod tells which, as on a real cluster.
import assert from 'node:assert/strict';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { DrillControlPlane } from '../../src/drill/kubernetes-control.ts';
import type { ActiveDrill } from '../../flows/drill/routing.ts';
import { CHANNEL, makeTestBot, textOf, type TestBot } from '../support/bot.ts';

// Nothing listens there, and no embedded PostgreSQL stands in (PGlite takes 20 s to start and quarantine never
// reaches the ledger): the drill's ledger says what is missing, and nothing else is touched.
const NO_POSTGRES = 'postgres://postgres@127.0.0.1:1/postgres';

describe('/telemetry quarantine in a drill world', function () {
  this.timeout(90_000);
  let t: TestBot;
  let drill: ActiveDrill;

  afterEach(async () => {
    await drill?.world.stop();
    await t.bot.stop();
  });

  async function start(scenario: string): Promise<DrillControlPlane> {
    t = makeTestBot({
      env: { CLOUD_SAFETY_DRILL_POSTGRES_URL: NO_POSTGRES },
      // exec still starts late, 50 ms instead of 400: the peer's probes are execs, and so are the captures.
      drills: { embeddedLedger: false, execStartMs: 50 },
    });
    await t.command('alice', '/drill', `start ${scenario} factor=0.05`);
    const running = t.bot.deps.adapters.drills?.inChannel(CHANNEL);
    assert.ok(running, 'the drill runs');
    drill = running;
    const control = drill.world.cluster.served as DrillControlPlane | undefined;
    assert.ok(control, 'the drill cluster has a control plane');
    return control;
  }

  /** alice asks for quarantine=1, bob approves; returns the action's result and its card. */
  async function quarantine(): Promise<{ summary: string; card: string; state: string | undefined }> {
    await t.command('alice', '/telemetry', 'quarantine=1');
    const [action] = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(
      action,
      `a quarantine card was posted: ${JSON.stringify(t.replies.map((r) => textOf(r.message)))}`,
    );
    await t.click('bob', APPROVE_ACTION, action.id);
    const done = await t.bot.deps.approvals.get(action.id);
    return {
      summary: done?.result?.summary ?? '',
      card: textOf(t.chat.latest(action.card ?? { channel: '', ts: '' })),
      state: done?.state,
    };
  }

  async function podsWith(selector: string): Promise<{ name: string; labels: Record<string, string> }[]> {
    const pods = await drill.adapters.kubernetes?.cluster().listPods('payments', selector, 'app');
    return (pods ?? []).map((p) => ({ name: p.name, labels: p.labels }));
  }

  it('an enforcing plugin: the peer reaches the pod before the fence and not after; "Isolation confirmed"; the ReplicaSet replaces it', async () => {
    const control = await start('seed');
    assert.equal(control.network.enforces, true);

    const { summary, card, state } = await quarantine();

    assert.equal(state, 'succeeded', summary);
    assert.match(summary, /1 pod isolated behind cloud-safety-quarantine-inc-1/);
    assert.match(
      summary,
      /Isolation confirmed: from payments-cloud-7d9f8b6c5-\w{5}, payments-cloud-7d9f8b6c5-\w{5} \(10\.0\.\d\.\d+:8080\) answered before the fence and no longer answers/,
    );
    assert.match(card, /Isolation confirmed/);
    const [before, ...after] = control.probes;
    assert.equal(before?.reached, true, 'the baseline probe connected');
    assert.ok(after.length >= 1 && after.at(-1)?.reached === false, JSON.stringify(control.probes));
    const event = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'telemetry.quarantined');
    assert.equal(event?.data.isolation, 'confirmed');
    // The relabelled pod left the Service and the ReplicaSet, which started a replacement.
    const fenced = await podsWith('cloud-safety.io/quarantine=INC-1');
    assert.equal(fenced.length, 1);
    assert.equal(fenced[0]?.labels.app, undefined);
    const serving = await podsWith('app=payments,track=cloud');
    assert.equal(serving.length, 3);
    assert.ok(
      serving.some((p) => /-r0001$/.test(p.name)),
      'a replacement pod runs',
    );
    assert.ok(!serving.some((p) => p.name === fenced[0]?.name));
  });

  it('a plugin that does not enforce NetworkPolicy (network-unenforced): the pod still answers; "NOT ISOLATED"', async () => {
    const control = await start('network-unenforced');
    assert.equal(control.network.enforces, false);

    const { summary, card, state } = await quarantine();

    assert.equal(state, 'succeeded', summary);
    assert.match(
      summary,
      /^NOT ISOLATED: from payments-cloud-7d9f8b6c5-\w{5}, payments-cloud-7d9f8b6c5-\w{5} \(10\.0\.\d\.\d+:8080\) still answers after the deny-all NetworkPolicy .*does not enforce NetworkPolicy/,
    );
    assert.match(card, /NOT ISOLATED/);
    assert.equal(control.probes.length, 4, 'one probe before the fence, three after');
    assert.ok(control.probes.every((p) => p.reached));
    const event = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'telemetry.quarantined');
    assert.equal(event?.data.isolation, 'not-enforced');
    // The policy is stored all the same: the API accepted it, as a real API server does.
    const policies = await drill.adapters.kubernetes?.cluster().networkPolicies('payments');
    assert.deepEqual(
      policies?.map((p) => p.name),
      ['cloud-safety-quarantine-inc-1'],
    );
  });
});
