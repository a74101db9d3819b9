// The ARC adapter against a local cluster speaking the real JSON protocol: one call flips both controls, endpoints
// tried in turn, a write answered 500 read back before going on, safety-rule refusals in plain words, break-glass.
import assert from 'node:assert/strict';
import type { ArcTrafficAdapter } from '../../../src/adapters/arc-adapter.ts';
import { TrafficRejectedError } from '../../../src/adapters/traffic.ts';
import type { ArcTraffic } from '../../../src/config.ts';
import { ExternalServiceError } from '../../../src/errors.ts';
import { UnknownOutcomeError } from '../../../src/outcome.ts';
import {
  arcAdapter,
  arcSection,
  CLOUD_RC,
  GATE_RC,
  GATE_RULE,
  KEEP_CLOUD,
  KEEP_CLOUD_RULE,
  LEGACY_RC,
  MIN_ONE_RULE,
  startArcCluster,
  type ArcCluster,
} from '../../support/arc-cluster.ts';
import { testConfig } from '../../support/bot.ts';

function configOf(cluster: ArcCluster, extra: Record<string, unknown> = {}): ArcTraffic {
  const config = testConfig({ services: { payments: { traffic: { arc: arcSection(cluster, extra) } } } });
  const arc = config.services.payments?.traffic?.arc;
  assert.ok(arc);
  return arc;
}

describe('ARC traffic adapter (local cluster, awsJson1_0)', () => {
  let cluster: ArcCluster;
  let arc: ArcTrafficAdapter;

  afterEach(async () => {
    await cluster.stop();
  });

  async function setup(opts: Parameters<typeof startArcCluster>[0] = {}, extra = {}, first = 0) {
    cluster = await startArcCluster(opts);
    arc = arcAdapter(cluster, configOf(cluster, extra), { first });
  }

  it('reads both controls as a switch (On = 1) and turns legacy On, cloud Off in ONE call', async () => {
    await setup({
      rules: [
        {
          arn: MIN_ONE_RULE,
          name: 'at-least-one-on',
          kind: 'assertion',
          asserted: [LEGACY_RC, CLOUD_RC],
          atLeast: 1,
        },
      ],
    });
    const state = await arc.read();
    assert.deepEqual([state.legacy.weight, state.cloud.weight, state.maxWeight], [1, 1, 1]);
    assert.equal(state.legacy.target, 'routing control payments-legacy (On)');
    assert.deepEqual(state.convergence, {
      seconds: 60,
      basis: "TTL 60 s of the DNS records the routing controls' health checks gate",
    });

    const receipt = await arc.shift(state, { legacy: 1, cloud: 0 }, { comment: 'test' });
    assert.equal(cluster.states(), 'legacy=On cloud=Off');
    const updates = cluster.requests.filter((r) => r.operation === 'UpdateRoutingControlStates');
    assert.equal(updates.length, 1);
    assert.deepEqual(updates[0]?.body, {
      UpdateRoutingControlStateEntries: [
        { RoutingControlArn: LEGACY_RC, RoutingControlState: 'On' },
        { RoutingControlArn: CLOUD_RC, RoutingControlState: 'Off' },
      ],
    });
    assert.deepEqual(receipt.endpoint, { used: 'us-east-1', failed: [] });
    assert.equal(receipt.overrode, undefined);
    assert.equal(receipt.status, 'INSYNC');
  });

  it('fails over to the next cluster endpoint when one is down, and says which', async () => {
    await setup({}, {}, 1);
    cluster.mode[1] = 'unavailable';
    cluster.mode[2] = 'reset';
    const state = await arc.read();
    assert.ok(
      cluster.requests.some((r) => r.endpoint === 3),
      'the read went on to the fourth endpoint',
    );
    const receipt = await arc.shift(state, { legacy: 1, cloud: 0 }, { comment: 'test' });
    assert.equal(cluster.states(), 'legacy=On cloud=Off');
    assert.equal(cluster.accepted.length, 1);
    assert.equal(receipt.endpoint?.used, 'ap-southeast-2');
    // It started where the last call succeeded (endpoint 3), so nothing failed on the way.
    assert.deepEqual(receipt.endpoint?.failed, []);

    // Now the endpoint that answered goes down too: the write moves on (503 is a refusal: nothing is read back).
    cluster.mode[3] = 'unavailable';
    const back = await arc.read();
    assert.equal(back.legacy.weight, 1);
    const again = await arc.shift(back, { legacy: 0, cloud: 1 }, { comment: 'test' });
    assert.equal(again.endpoint?.used, 'ap-northeast-1');
    assert.equal(cluster.states(), 'legacy=Off cloud=On');
  });

  it('after a write answered 500, reads the cluster back on the other endpoints and reports it applied (sent once)', async () => {
    await setup();
    cluster.nextWriteFault[0] = 'commit-then-500';
    const state = await arc.read();
    const receipt = await arc.shift(state, { legacy: 1, cloud: 0 }, { comment: 'test' });
    assert.equal(cluster.accepted.length, 1, 'not sent again');
    assert.match(
      receipt.observed ?? '',
      /^UpdateRoutingControlStates on us-east-1 answered HTTP 500 \(InternalServerException: An internal error occurred\.\), but the cluster read back shows legacy routing control payments-legacy \(On\), cloud routing control payments-cloud \(Off\) as asked: the change was applied$/,
    );
    const reads = cluster.requests.filter((r) => r.operation === 'GetRoutingControlState').slice(-2);
    assert.deepEqual(
      reads.map((r) => r.endpoint),
      [1, 1],
      'read back on the next endpoint',
    );
  });

  it('after a dropped connection that did NOT commit, reads back, then sends it to the next endpoint', async () => {
    await setup();
    cluster.mode[0] = 'reset';
    const state = await arc.read(); // served by endpoint 1
    cluster.mode[0] = 'up';
    cluster.mode[1] = 'reset';
    const receipt = await arc.shift(state, { legacy: 1, cloud: 0 }, { comment: 'test' });
    assert.equal(cluster.states(), 'legacy=On cloud=Off');
    assert.equal(receipt.endpoint?.used, 'eu-west-1');
    assert.match(receipt.endpoint?.failed[0] ?? '', /^us-west-2 got no answer/);
    assert.match(receipt.observed ?? '', /read back still showed .* so it was sent to the next endpoint$/);
  });

  it('names every endpoint when none answers, and says nothing was written', async () => {
    await setup();
    const state = await arc.read();
    cluster.mode = cluster.mode.map(() => 'unavailable');
    await assert.rejects(arc.shift(state, { legacy: 1, cloud: 0 }, { comment: 'test' }), (err: unknown) => {
      assert.ok(err instanceof ExternalServiceError);
      assert.match(err.message, /no cluster endpoint took it \(us-east-1 answered HTTP 503/);
      assert.match(err.message, /ap-northeast-1 answered HTTP 503/);
      assert.match(err.message, /each endpoint refused it before processing it, so nothing was written/);
      return true;
    });
    assert.equal(cluster.accepted.length, 0);
  });

  it('when the write may have landed and no endpoint can be read, says the outcome is UNKNOWN', async () => {
    await setup();
    const state = await arc.read();
    cluster.nextWriteFault[0] = 'commit-then-die';
    for (const i of [1, 2, 3, 4]) cluster.mode[i] = 'reset';
    await assert.rejects(arc.shift(state, { legacy: 1, cloud: 0 }, { comment: 'test' }), (err: unknown) => {
      assert.ok(err instanceof UnknownOutcomeError);
      assert.match(err.message, /^UpdateRoutingControlStates on us-east-1 got no answer/);
      return true;
    });
  });

  it('reports a safety rule refusal in plain words, and never overrides it without break-glass', async () => {
    await setup({ rules: [KEEP_CLOUD] }, { safetyRules: [{ arn: KEEP_CLOUD_RULE, name: 'keep-cloud-on' }] });
    const state = await arc.read();
    await assert.rejects(arc.shift(state, { legacy: 1, cloud: 0 }, { comment: 'test' }), (err: unknown) => {
      assert.ok(err instanceof TrafficRejectedError);
      assert.equal(err.providerCode, 'SafetyRule');
      assert.match(
        err.message,
        /^a safety rule of control panel 0123456789abcdef0123456789abcdef does not allow legacy a1b2c3d4e5f60718 On and cloud b2c3d4e5f6071829 Off \(ARC said: Routing control state update blocked by safety rule arn:aws:route53-recovery-control::111122223333:controlpanel\/0123456789abcdef0123456789abcdef\/safetyrule\/f60718293a4b5c6d\)\. Nothing was changed\. The rule that refused: keep-cloud-on \(f60718293a4b5c6d\), which break-glass may override\./,
      );
      assert.match(
        err.message,
        /Nothing was changed\. .* If this is an emergency, \/contain break-glass="<reason>" overrides keep-cloud-on/,
      );
      return true;
    });
    assert.equal(cluster.states(), 'legacy=On cloud=On');
    const updates = cluster.requests.filter((r) => r.operation === 'UpdateRoutingControlStates');
    assert.equal(updates.length, 1, 'one try, no override');
    assert.equal(updates[0]?.body.SafetyRulesToOverride, undefined);
  });

  it('with break-glass, overrides exactly the listed rules after a refusal, and says which', async () => {
    await setup({ rules: [KEEP_CLOUD] }, { safetyRules: [{ arn: KEEP_CLOUD_RULE, name: 'keep-cloud-on' }] });
    const state = await arc.read();
    const receipt = await arc.shift(
      state,
      { legacy: 1, cloud: 0 },
      { comment: 'test', breakGlass: 'leads unreachable' },
    );
    assert.equal(cluster.states(), 'legacy=On cloud=Off');
    assert.deepEqual(receipt.overrode, ['keep-cloud-on (f60718293a4b5c6d)']);
    const updates = cluster.requests.filter((r) => r.operation === 'UpdateRoutingControlStates');
    assert.deepEqual(
      updates.map((u) => u.body.SafetyRulesToOverride),
      [undefined, [KEEP_CLOUD_RULE]],
      'first without, then with the override',
    );
  });

  it('break-glass cannot override a rule the config does not list', async () => {
    await setup({
      controls: {
        [LEGACY_RC]: { name: 'payments-legacy', state: 'Off' },
        [CLOUD_RC]: { name: 'payments-cloud', state: 'On' },
        [GATE_RC]: { name: 'change-window', state: 'Off' },
      },
      rules: [
        {
          arn: GATE_RULE,
          name: 'change-window',
          kind: 'gating',
          gating: [GATE_RC],
          targets: [LEGACY_RC, CLOUD_RC],
        },
      ],
    });
    const state = await arc.read();
    await assert.rejects(
      arc.shift(state, { legacy: 1, cloud: 0 }, { comment: 'test', breakGlass: 'leads unreachable' }),
      /Break-glass cannot override it: traffic\.arc\.safetyRules names no rule that may be overridden\./,
    );
    assert.equal(cluster.states(), 'legacy=Off cloud=On');
  });

  it('preflight: lists the panel (every page), probes each endpoint, shows the overridable rules', async () => {
    await setup(
      {
        controls: {
          [LEGACY_RC]: { name: 'payments-legacy', state: 'On' },
          [CLOUD_RC]: { name: 'payments-cloud', state: 'On' },
          [GATE_RC]: { name: 'change-window', state: 'Off' },
        },
      },
      { safetyRules: [{ arn: KEEP_CLOUD_RULE, name: 'keep-cloud-on' }] },
    );
    cluster.mode[4] = 'unavailable';
    const state = await arc.read();
    const checks = await arc.checks(state);
    assert.deepEqual(
      checks.map((c) => `${c.id} ${c.status}`),
      ['arc-controls pass', 'arc-endpoints warn', 'arc-safety-rules pass'],
    );
    assert.equal(
      checks[0]?.detail,
      'legacy payments-legacy On, cloud payments-cloud On; also on the panel: change-window Off',
    );
    assert.match(checks[1]?.detail ?? '', /^4 of 5 configured endpoints answered \(ap-northeast-1: /);
    assert.equal(
      cluster.requests.filter((r) => r.operation === 'ListRoutingControls').length,
      2,
      'two pages',
    );
  });
});
