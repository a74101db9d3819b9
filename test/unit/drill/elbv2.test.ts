// The simulated ELBv2 on its wire, read and written by the production ALB adapter through the real
// @aws-sdk/client-elastic-load-balancing-v2: Query requests, XML answers, eventual consistency, throttles, faults.
import assert from 'node:assert/strict';
import {
  DescribeListenersCommand,
  DescribeTargetGroupsCommand,
  ModifyListenerCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  ALB,
  elbClient,
  fakeClock,
  trafficAdapters,
  trafficConfig,
  type FakeClock,
} from '../../support/aws.ts';
import {
  DRILL_CLOUD_TG,
  DRILL_LEGACY_TG,
  DRILL_LISTENER,
  DRILL_RULE,
  ELB_FAIL_AFTER_COMMIT,
  drillLoadBalancer,
  startElbv2Server,
  type Elbv2Server,
} from '../../../src/drill/elbv2.ts';
import type { TrafficPort } from '../../../src/adapters/traffic.ts';

describe('drill ELBv2 simulator (AWS Query protocol, through the ALB adapter and the real SDK)', () => {
  let clock: FakeClock;
  let elb: Elbv2Server;

  async function start(opts: { rateLimit?: false } = {}): Promise<void> {
    clock = fakeClock();
    elb = await startElbv2Server({
      ...drillLoadBalancer(20, 80),
      now: () => clock.now().getTime(),
      ...(opts.rateLimit === false ? { rateLimit: false as const } : {}),
    });
  }

  function adapter(rule = false): TrafficPort {
    const config = trafficConfig({ alb: true, route53: false });
    const section = config.services.payments?.traffic?.alb;
    if (section && !rule) delete section.ruleArn;
    const alb = trafficAdapters(config, clock, { elb: elb.url }).traffic.payments?.alb;
    assert.ok(alb);
    return alb;
  }

  afterEach(async () => {
    await elb.stop();
  });

  it('serves the ARNs the example config names, and the adapter reads weights and legacy health from them', async () => {
    await start();
    assert.equal(ALB.listenerArn, DRILL_LISTENER);
    assert.equal(ALB.ruleArn, DRILL_RULE);
    const alb = adapter();

    const state = await alb.read();
    const health = await alb.checkLegacyHealth(state);

    assert.deepEqual([state.legacy.weight, state.cloud.weight], [20, 80]);
    assert.equal(state.legacy.target, 'payments-legacy');
    assert.deepEqual(health, { status: 'healthy', detail: '3 of 3 targets in payments-legacy are healthy' });
    assert.deepEqual(
      elb.requests.map((r) => r.action),
      ['DescribeListeners', 'DescribeTargetHealth'],
    );
    assert.deepEqual(elb.requests[0]?.params.ListenerArns, [DRILL_LISTENER]);
  });

  it('shifts a rule with ModifyRule; reads stay stale for a moment, so the adapter re-reads until they agree', async () => {
    await start();
    const alb = adapter(true);
    const before = await alb.read();

    const receipt = await alb.shift(before, { legacy: 100, cloud: 0 }, { comment: 'contain' });

    assert.deepEqual(receipt.after, { legacy: 100, cloud: 0 });
    assert.deepEqual(elb.weights(DRILL_RULE), { [DRILL_LEGACY_TG]: 100, [DRILL_CLOUD_TG]: 0 });
    // The listener's default action was not touched.
    assert.deepEqual(elb.weights(DRILL_LISTENER), { [DRILL_LEGACY_TG]: 20, [DRILL_CLOUD_TG]: 80 });
    const modify = elb.requests.find((r) => r.action === 'ModifyRule');
    assert.equal(modify?.params.RuleArn, DRILL_RULE);
    assert.deepEqual(modify?.params.Actions, [
      {
        Type: 'forward',
        Order: '1',
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: DRILL_LEGACY_TG, Weight: '100' },
            { TargetGroupArn: DRILL_CLOUD_TG, Weight: '0' },
          ],
          TargetGroupStickinessConfig: { Enabled: 'false' },
        },
      },
    ]);
    // ELBv2 shows the old actions for 1.5 s after a modify: the reads right after the write and one second later
    // still showed 20/80, the third (two seconds later) 100/0.
    const after = elb.requests.slice(elb.requests.indexOf(modify ?? elb.requests[0]!) + 1);
    assert.deepEqual(
      after.map((r) => r.action),
      ['DescribeRules', 'DescribeRules', 'DescribeRules'],
    );
    assert.deepEqual(clock.sleeps, [1000, 1000]);
  });

  it('recheck after a restart re-reads through the stale window before calling a shift applied', async () => {
    await start();
    const alb = adapter();
    const before = await alb.read();
    await elbClient(elb.url).send(
      new ModifyListenerCommand({
        ListenerArn: DRILL_LISTENER,
        DefaultActions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: DRILL_LEGACY_TG, Weight: 100 },
                { TargetGroupArn: DRILL_CLOUD_TG, Weight: 0 },
              ],
            },
          },
        ],
      }),
    );

    const report = await alb.recheck({ before: { legacy: 20, cloud: 80 }, after: { legacy: 100, cloud: 0 } });

    assert.equal(before.cloud.weight, 80);
    assert.equal(report.applied, true);
    assert.equal(report.current.cloud.weight, 0);
    assert.ok(clock.sleeps.length >= 1, 'the first read was stale, so it read again');
  });

  it('a ModifyListener that commits and answers 500: the adapter reads back and reports the change applied', async () => {
    await start();
    const alb = adapter();
    const before = await alb.read();
    elb.failNext('ModifyListener', 1, ELB_FAIL_AFTER_COMMIT);

    const receipt = await alb.shift(before, { legacy: 100, cloud: 0 }, { comment: 'contain' });

    assert.deepEqual(elb.weights(DRILL_LISTENER), { [DRILL_LEGACY_TG]: 100, [DRILL_CLOUD_TG]: 0 });
    assert.equal(elb.refused.InternalFailure, 1);
    assert.match(receipt.observed ?? '', /ModifyListener .*500.*the change was applied/);
  });

  it('throttles Modify* with the real Throttling error, which the adapter retries with its own backoff', async () => {
    await start();
    const alb = adapter();
    const before = await alb.read();
    elb.throttleNext(2);

    const receipt = await alb.shift(before, { legacy: 100, cloud: 0 }, { comment: 'contain' });

    assert.equal(receipt.attempts, 3);
    assert.equal(elb.refused.Throttling, 2);
    assert.deepEqual(elb.weights(DRILL_LISTENER), { [DRILL_LEGACY_TG]: 100, [DRILL_CLOUD_TG]: 0 });
  });

  it('throttles Describe* past its bucket of 40 within a second, and refills at 10 per second', async () => {
    await start();
    const client = elbClient(elb.url);
    const describe = () => client.send(new DescribeListenersCommand({ ListenerArns: [DRILL_LISTENER] }));
    for (let i = 0; i < 40; i++) await describe();

    const err = await describe().then(
      () => undefined,
      (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode?: number } },
    );
    clock.advance(100);
    const again = await describe();

    assert.equal(err?.name, 'Throttling');
    assert.equal(err?.message, 'Rate exceeded');
    assert.equal(err?.$metadata.httpStatusCode, 400);
    assert.equal(again.Listeners?.[0]?.ListenerArn, DRILL_LISTENER);
  });

  it('refuses a weight over 999 or an unknown target group like ELB does, and changes nothing', async () => {
    await start({ rateLimit: false });
    const client = elbClient(elb.url);
    const modify = (arn: string, weight: number) =>
      client
        .send(
          new ModifyListenerCommand({
            ListenerArn: DRILL_LISTENER,
            DefaultActions: [
              { Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: arn, Weight: weight }] } },
            ],
          }),
        )
        .then(
          () => undefined,
          (e: unknown) => e as { name: string; message: string },
        );

    const tooHeavy = await modify(DRILL_LEGACY_TG, 1000);
    const unknown = await modify(DRILL_LEGACY_TG.replace('payments-legacy', 'nope'), 1);
    const groups = await client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [DRILL_CLOUD_TG] }));

    assert.equal(tooHeavy?.name, 'ValidationError');
    assert.match(tooHeavy?.message ?? '', /less than or equal to 999/);
    // The SDK names the wire code TargetGroupNotFound's exception class.
    assert.equal(unknown?.name, 'TargetGroupNotFoundException');
    assert.deepEqual(elb.weights(DRILL_LISTENER), { [DRILL_LEGACY_TG]: 20, [DRILL_CLOUD_TG]: 80 });
    assert.equal(groups.TargetGroups?.[0]?.TargetGroupName, 'payments-cloud');
    assert.deepEqual(groups.TargetGroups?.[0]?.LoadBalancerArns, [drillLoadBalancer().loadBalancerArn]);
  });

  it('reports an unhealthy legacy target group as the adapter words it', async () => {
    await start();
    elb.setTargetHealth(
      DRILL_LEGACY_TG,
      'unhealthy',
      'Target.ResponseCodeMismatch',
      'Health checks failed with these codes: [503]',
    );
    const alb = adapter();

    const health = await alb.checkLegacyHealth(await alb.read());

    assert.equal(health.status, 'unhealthy');
    assert.match(
      health.detail,
      /0 of 3 targets in payments-legacy are healthy \(unhealthy Target\.ResponseCodeMismatch: Health checks failed with these codes: \[503\]\)/,
    );
  });
});
