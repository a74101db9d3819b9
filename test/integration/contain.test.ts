// /contain end to end on real Redis with Route 53 and ELB answered by nock: card, approval, CAS, sync, convergence.
import assert from 'node:assert/strict';
import nock from 'nock';
import { shiftTraffic, type ShiftChange } from '../../flows/contain/contain.ts';
import { computeChangeHash, type Action } from '../../src/actions.ts';
import { approveValue } from '../../src/approval-binding.ts';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/chat/blocks/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import {
  ALB,
  ELB_ENDPOINT,
  fakeClock,
  forbidAws,
  LEGACY_HC,
  nockChange,
  nockChangeError,
  nockGetChange,
  nockList,
  pair,
  RECORD,
  ROUTE53_ENDPOINT,
  trafficAdapters,
  trafficConfig,
  type AdapterKit,
  type FakeClock,
} from '../support/aws.ts';
import { makeTestBot, textOf, USERS, type TestBot } from '../support/bot.ts';
import {
  describeRulesXml,
  describeTargetHealthXml,
  formOf,
  modifyRuleXml,
  type RuleFixture,
} from '../support/elb-xml.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import {
  deleteMismatchMessage,
  healthCheckStatusXml,
  observations,
  XML_HEADERS,
  type ChangeBatch,
} from '../../src/drill/route53-xml.ts';
import type { Config } from '../../src/config.ts';

describe('/contain flow (real Redis, nock’d AWS)', () => {
  useNock();
  let store: RedisStore;
  let clock: FakeClock;
  let kit: AdapterKit;
  let t: TestBot;
  const bots: TestBot[] = [];

  async function setup(config: Config = trafficConfig()): Promise<void> {
    clock = fakeClock();
    kit = trafficAdapters(config, clock);
    t = makeTestBot({ store, config, adapters: { traffic: kit.traffic }, now: clock.now });
    bots.push(t);
    await t.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
  }

  beforeEach(async () => {
    store = await isolatedRedisStore();
  });

  afterEach(async () => {
    for (const b of bots.splice(0)) await b.bot.stop();
    await store.close();
  });

  async function onlyAction(): Promise<Action<ShiftChange>> {
    const actions = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.equal(actions.length, 1);
    return actions[0] as Action<ShiftChange>;
  }

  function card(action: Action): string {
    assert.ok(action.card);
    return textOf(t.chat.latest(action.card));
  }

  async function kinds(): Promise<string[]> {
    return (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
  }

  it('never lowers the legacy share, even for a stored change that carries a valid keyed hash', async () => {
    await setup();
    nockList(pair());
    await t.command('alice', '/contain');
    const requested = await onlyAction();
    assert.ok(requested.card);
    // Defence in depth behind the keyed hash: an insider who also holds the secret rewrites legacy 100 -> 1.
    const rewritten: Action<ShiftChange> = {
      ...requested,
      change: {
        ...requested.change,
        legacyPercent: 1,
        layers: requested.change.layers.map((l) => ({ ...l, to: { legacy: 1, cloud: 99 } })),
      },
    };
    rewritten.changeHash = computeChangeHash(
      rewritten.kind,
      rewritten.service,
      rewritten.basis,
      rewritten.change,
    );
    await store.set(`action:${requested.id}`, JSON.stringify(rewritten));
    const guard = forbidAws();
    try {
      await t.bot.handleButton({
        actionId: APPROVE_ACTION,
        value: approveValue(t.bot.deps.keys, rewritten),
        user: USERS.bob,
        channel: requested.card.channel,
        message: requested.card,
        respond: async () => {},
      });
      await t.bot.idle();
    } finally {
      guard.stop();
    }
    assert.deepEqual(guard.calls, [], 'no AWS call');
    const done = await t.bot.deps.approvals.get(requested.id);
    assert.equal(done?.state, 'failed');
    assert.match(done?.result?.summary ?? '', /would lower legacy on route53 from 20% to 1%/);
  });

  it('shifts to legacy after a second person approves: one batch, INSYNC polled, converged after TTL', async () => {
    await setup();
    nockList(pair());
    const replies = await t.command('alice', '/contain');
    assert.match(
      textOf(replies[0]),
      /Approval card posted for \*Shift payments to legacy 100% \(Route 53\)\*/,
    );
    const requested = await onlyAction();
    const shown = card(requested);
    assert.match(shown, /Approval needed: Shift payments to legacy 100%/);
    assert.match(shown, /legacy 20 \/ cloud 80 \(20% \/ 80%\)\\n→ \*legacy 100 \/ cloud 0 \(100% \/ 0%\)\*/);
    assert.match(shown, /60 s \(max 60 s\)/);
    assert.match(shown, /waiting for approval/);
    assert.match(shown, /@sre-leads \(not the requester\)/);

    nockList(pair());
    const batches: ChangeBatch[] = [];
    nockChange(batches, { submittedAt: clock.now().toISOString() });
    nockGetChange(['PENDING', 'INSYNC']);
    const approve = await t.click('bob', APPROVE_ACTION, requested.id);
    assert.deepEqual(approve, []);

    assert.equal(batches.length, 1);
    assert.deepEqual(
      batches[0]?.changes.map((c) => `${c.action} ${c.record.setIdentifier} ${c.record.weight}`),
      ['DELETE legacy 20', 'DELETE cloud 80', 'CREATE legacy 100', 'CREATE cloud 0'],
    );
    assert.match(
      batches[0]?.comment ?? '',
      /^cloud-safety INC-1 act-[0-9a-f]{8}: payments legacy 100% requested by alice, approved by bob$/,
    );
    const done = await onlyAction();
    assert.equal(done.state, 'succeeded');
    assert.match(
      done.result?.summary ?? '',
      /change C2682N5HXP0BZ4 INSYNC after 5 s; clients converge by 10:01:05Z/,
    );
    let shownDone = card(done);
    assert.match(shownDone, /Done: Shift payments to legacy 100%/);
    assert.match(shownDone, /in sync 10:00:05Z \(C2682N5HXP0BZ4\)/);
    assert.match(shownDone, /by 10:01:05Z \(60 s\)/);
    assert.doesNotMatch(shownDone, /approval\.approve/);
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.checklist.C.state, 'done');
    assert.deepEqual((await kinds()).slice(1), [
      'action.requested',
      'action.approved',
      'action.executing',
      'traffic.submitted',
      'traffic.in_sync',
      'action.succeeded',
    ]);

    clock.advance(60_000);
    await t.bot.deps.scheduler.tick();
    await t.bot.idle();
    assert.equal((await kinds()).at(-1), 'traffic.converged');
    const converged = (await t.bot.deps.timeline.read('INC-1')).at(-1);
    assert.equal(converged?.at, '2026-11-26T10:01:05.000Z');
    assert.deepEqual(converged?.data.before, { legacy: 20, cloud: 80 });
    assert.deepEqual(converged?.data.after, { legacy: 100, cloud: 0 });
    assert.equal(converged?.data.changeId, 'C2682N5HXP0BZ4');
    shownDone = card(await onlyAction());
    assert.match(shownDone, /converged 10:01:05Z/);
    const metrics = await kit.metrics.registry.metrics();
    assert.match(
      metrics,
      /cloud_safety_adapter_call_seconds_count\{adapter="route53",operation="ChangeResourceRecordSets",outcome="ok"\} 1/,
    );
    assert.match(
      metrics,
      /cloud_safety_adapter_call_seconds_count\{adapter="route53",operation="GetChange",outcome="ok"\} 2/,
    );
  });

  it('break-glass (when allowed) executes with one person and says so on the card, the batch and the timeline', async () => {
    await setup(trafficConfig({ access: { breakGlass: true } }));
    nockList(pair());
    nockList(pair());
    const batches: ChangeBatch[] = [];
    nockChange(batches, { submittedAt: clock.now().toISOString() });
    nockGetChange(['INSYNC']);
    const replies = await t.command('alice', '/contain', 'break-glass="leads unreachable, payments down"');
    assert.match(textOf(replies[0]), /BREAK-GLASS: executed without a second approver \(succeeded\)/);
    assert.match(
      batches[0]?.comment ?? '',
      /payments legacy 100% BREAK-GLASS by alice: leads unreachable, payments down$/,
    );
    const action = await onlyAction();
    assert.match(
      card(action),
      /BREAK-GLASS\* by <@U0ALICE>, no second approver\. Reason: _leads unreachable, payments down_/,
    );
    const approved = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'action.approved');
    assert.match(
      approved?.summary ?? '',
      /executed with BREAK-GLASS \(no second approver\).*Reason: leads unreachable/,
    );
  });

  it('reports Route 53 being down at request time, on the timeline too, and requests nothing', async () => {
    await setup();
    for (let i = 0; i < 5; i++) {
      nock(ROUTE53_ENDPOINT)
        .get(`/2013-04-01/hostedzone/Z0PAYMENTS1234567890/rrset`)
        .query(true)
        .reply(
          503,
          '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Service Unavailable</Message></Error><RequestId>1</RequestId></ErrorResponse>',
          XML_HEADERS,
        );
    }
    const replies = await t.command('alice', '/contain');
    assert.match(
      textOf(replies[0]),
      /Route 53 failed: ListResourceRecordSets failed \(ServiceUnavailable, HTTP 503: Service Unavailable\) after 5 tries/,
    );
    assert.deepEqual(await t.bot.deps.approvals.listForIncident('INC-1'), []);
    const event = (await t.bot.deps.timeline.read('INC-1')).at(-1);
    assert.equal(event?.kind, 'traffic.not_shifted');
    assert.equal(event?.data.reason, 'error');
  });

  it('does nothing on deny or expiry: no batch is ever sent', async () => {
    await setup();
    nockList(pair());
    await t.command('alice', '/contain');
    const first = await onlyAction();
    await t.click('bob', DENY_ACTION, first.id);
    const late = await t.click('dave', APPROVE_ACTION, first.id);
    assert.match(textOf(late[0]), /This request is denied \(by bob\)/);

    nockList(pair());
    await t.command('alice', '/contain');
    const second = (await t.bot.deps.approvals.listForIncident('INC-1')).find((a) => a.id !== first.id);
    assert.ok(second);
    clock.advance(15 * 60_000 + 1000);
    const expired = await t.click('bob', APPROVE_ACTION, second.id);
    assert.match(textOf(expired[0]), /This request expired at/);
    assert.ok(!(await kinds()).includes('traffic.submitted'));
  });

  it('refuses at execution when the records moved since the request, and says what changed (nothing written)', async () => {
    await setup();
    nockList(pair());
    await t.command('alice', '/contain');
    const action = await onlyAction();
    nockList(pair({ legacy: 50, cloud: 50 }));
    await t.click('bob', APPROVE_ACTION, action.id);

    const failed = await onlyAction();
    assert.equal(failed.state, 'failed');
    assert.match(
      failed.result?.summary ?? '',
      /Nothing was written: Route 53 changed since the request was made \(legacy weight 20 -> 50; cloud weight 80 -> 50\)\. Run \/contain again/,
    );
    assert.match(card(failed), /legacy weight 20 -&gt; 50/);
    const notShifted = (await t.bot.deps.timeline.read('INC-1')).find(
      (e) => e.kind === 'traffic.not_shifted',
    );
    assert.equal(notShifted?.data.reason, 'drift');
  });

  it('when Route 53 itself rejects the DELETE (moved between read and write), re-reads and shows the change', async () => {
    await setup();
    nockList(pair());
    await t.command('alice', '/contain');
    const action = await onlyAction();
    nockList(pair());
    nockChangeError('InvalidChangeBatch', deleteMismatchMessage(RECORD, 'A', 'cloud'));
    nockList(pair({ legacy: 20, cloud: 40 }));
    await t.click('bob', APPROVE_ACTION, action.id);

    const failed = await onlyAction();
    assert.equal(failed.state, 'failed');
    const summary = failed.result?.summary ?? '';
    assert.match(summary, /Route 53 refused the change because the records no longer match what was read/);
    assert.match(summary, /set-identifier='cloud'\] but the values provided do not match the current values/);
    assert.match(summary, /Now: cloud weight 80 -> 40/);
  });

  it('rides out Throttling and PriorRequestNotComplete; the card says how many tries it took', async () => {
    await setup();
    nockList(pair());
    await t.command('alice', '/contain');
    const action = await onlyAction();
    nockList(pair());
    nockChangeError('Throttling', 'Rate exceeded');
    nockChangeError(
      'PriorRequestNotComplete',
      'The request was rejected because Route 53 was still processing a prior request.',
    );
    const batches: ChangeBatch[] = [];
    nockChange(batches, { submittedAt: clock.now().toISOString() });
    nockGetChange(['INSYNC']);
    await t.click('bob', APPROVE_ACTION, action.id);
    assert.equal((await onlyAction()).state, 'succeeded');
    assert.match(card(await onlyAction()), /after 3 tries/);
    assert.deepEqual(kit.clock.sleeps.slice(0, 2), [750, 1500]);
  });

  it('reports a persistent failure on the card and the timeline, with nothing written', async () => {
    await setup();
    nockList(pair());
    await t.command('alice', '/contain');
    const action = await onlyAction();
    nockList(pair());
    for (let i = 0; i < 5; i++) nockChangeError('Throttling', 'Rate exceeded');
    await t.click('bob', APPROVE_ACTION, action.id);
    const failed = await onlyAction();
    assert.equal(failed.state, 'failed');
    assert.match(
      failed.result?.summary ?? '',
      /Nothing was written: ChangeResourceRecordSets was throttled 5 times/,
    );
    assert.match(card(failed), /Failed: Shift payments to legacy 100%/);
    assert.deepEqual((await kinds()).slice(-2), ['traffic.not_shifted', 'action.failed']);
  });

  it('blocks the request when the legacy health check is unhealthy: the reason, no card, no write', async () => {
    await setup();
    nockList(pair({ healthCheck: true }));
    nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/healthcheck/${LEGACY_HC}/status`)
      .reply(200, healthCheckStatusXml(observations(0)), XML_HEADERS);
    const replies = await t.command('alice', '/contain');
    assert.match(
      textOf(replies[0]),
      /Legacy is not healthy on Route 53 \(health check b1f5c6de-7a2b-4c3d-9e8f-0a1b2c3d4e5f: 0 of 8 Route 53 health checkers report the legacy endpoint healthy \(us-east-1: Failure: HTTP Status Code 503, Service Unavailable\.\)\)/,
    );
    assert.deepEqual(await t.bot.deps.approvals.listForIncident('INC-1'), []);
    const event = (await t.bot.deps.timeline.read('INC-1')).at(-1);
    assert.equal(event?.kind, 'traffic.not_shifted');
    assert.equal(event?.data.reason, 'legacy_unhealthy');
  });

  it('asks for legacy health at execution beside the re-read, not after it, and an unhealthy legacy still stops the write', async () => {
    await setup();
    nockList(pair({ healthCheck: true }));
    nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/healthcheck/${LEGACY_HC}/status`)
      .reply(200, healthCheckStatusXml(observations(8)), XML_HEADERS);
    await t.command('alice', '/contain');
    const action = await onlyAction();
    const port = kit.traffic.payments?.route53;
    assert.ok(port);
    const order: string[] = [];
    const read = port.read.bind(port);
    const health = port.checkLegacyHealth.bind(port);
    port.read = async () => {
      order.push('read');
      const state = await read();
      order.push('read answered');
      return state;
    };
    port.checkLegacyHealth = async (state) => {
      order.push('health');
      return health(state);
    };
    nockList(pair({ healthCheck: true }));
    nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/healthcheck/${LEGACY_HC}/status`)
      .reply(200, healthCheckStatusXml(observations(0)), XML_HEADERS);

    await t.click('bob', APPROVE_ACTION, action.id);

    assert.ok(order.indexOf('health') < order.indexOf('read answered'), order.join(', '));
    const failed = await onlyAction();
    assert.equal(failed.state, 'failed');
    const event = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'traffic.not_shifted');
    assert.equal(event?.data.reason, 'legacy_unhealthy');
  });

  it('warns when TTL exceeds maxTtl, and that weight 0 is not "off" with health checks attached', async () => {
    await setup();
    nockList(pair({ ttl: 300, healthCheck: true }));
    nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/healthcheck/${LEGACY_HC}/status`)
      .reply(200, healthCheckStatusXml(observations(8)), XML_HEADERS);
    await t.command('alice', '/contain');
    const shown = card(await onlyAction());
    assert.match(
      shown,
      /TTL 300 s is above maxTtl 60 s: resolvers may keep sending clients to the cloud stack for up to 5 min after Route 53 is in sync\. Configure traffic\.alb/,
    );
    assert.match(shown, /weight 0 is not \\"off\\"/);
    assert.match(shown, /Route 53 answers with the weight-0 records \(the cloud stack\) again/);
    assert.match(shown, /Legacy health \(Route 53\): healthy/);
  });

  it('shows alias records with the target’s TTL on the card', async () => {
    await setup();
    nockList(pair({ alias: true }));
    await t.command('alice', '/contain');
    assert.match(card(await onlyAction()), /alias: the target's TTL \(~60 s\)/);
  });

  it('says so when legacy already has the share, and refuses to move traffic back to the cloud', async () => {
    await setup();
    nockList(pair({ legacy: 100, cloud: 0 }));
    const already = await t.command('alice', '/contain');
    assert.match(
      textOf(already[0]),
      /Nothing to shift: payments already sends 100% to legacy \(Route 53: legacy 100 \/ cloud 0 \(100% \/ 0%\)\)/,
    );
    nockList(pair({ legacy: 90, cloud: 10 }));
    const back = await t.command('alice', '/contain', 'legacy=50');
    assert.match(
      textOf(back[0]),
      /Route 53 already sends 90% to legacy; legacy=50 would move traffic back to the cloud stack/,
    );
    assert.deepEqual(await t.bot.deps.approvals.listForIncident('INC-1'), []);
    const reasons = (await t.bot.deps.timeline.read('INC-1'))
      .filter((e) => e.kind === 'traffic.not_shifted')
      .map((e) => e.data.reason);
    assert.deepEqual(reasons, ['already_there', 'would_raise_cloud']);
  });

  it('shifts both layers, DNS first then the ALB, and shows both on the card', async () => {
    await setup(trafficConfig({ alb: true }));
    const rule = (legacy: number, cloud: number): RuleFixture => ({
      RuleArn: ALB.ruleArn,
      Priority: '10',
      IsDefault: false,
      Conditions: [],
      Actions: [
        {
          Type: 'forward',
          Order: 1,
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: ALB.legacyTargetGroupArn, Weight: legacy },
              { TargetGroupArn: ALB.cloudTargetGroupArn, Weight: cloud },
            ],
            TargetGroupStickinessConfig: { Enabled: false },
          },
        },
      ],
    });
    const order: string[] = [];
    const describe = (legacy: number, cloud: number) =>
      nock(ELB_ENDPOINT)
        .post('/', (b) => formOf(b).Action === 'DescribeRules')
        .reply(200, describeRulesXml([rule(legacy, cloud)]), XML_HEADERS);
    const health = () =>
      nock(ELB_ENDPOINT)
        .post('/', (b) => formOf(b).Action === 'DescribeTargetHealth')
        .reply(200, describeTargetHealthXml([{ id: 'i-0aa1', port: 8080, state: 'healthy' }]), XML_HEADERS);
    nockList(pair());
    describe(20, 80);
    health();
    await t.command('alice', '/contain');
    const action = await onlyAction();
    const shown = card(action);
    assert.match(shown, /Order: Route 53 first, then ALB/);
    assert.match(shown, /ALB weights/);

    nockList(pair()).on('request', () => order.push('route53 read'));
    const batches: ChangeBatch[] = [];
    nockChange(batches, { submittedAt: clock.now().toISOString() }).on('request', () =>
      order.push('route53 write'),
    );
    describe(20, 80).on('request', () => order.push('alb read'));
    health();
    describe(20, 80);
    nock(ELB_ENDPOINT)
      .post('/', (b) => formOf(b).Action === 'ModifyRule')
      .reply(200, modifyRuleXml(rule(100, 0)), XML_HEADERS)
      .on('request', () => order.push('alb write'));
    describe(100, 0);
    nockGetChange(['INSYNC']);
    await t.click('dave', APPROVE_ACTION, action.id);

    assert.deepEqual(order, ['route53 read', 'route53 write', 'alb read', 'alb write']);
    const done = await onlyAction();
    assert.equal(done.state, 'succeeded');
    assert.match(
      done.result?.summary ?? '',
      /ALB: legacy 20 \/ cloud 80 \(20% \/ 80%\) -> legacy 100 \/ cloud 0 \(100% \/ 0%\), effective now/,
    );
    const events = await t.bot.deps.timeline.read('INC-1');
    assert.deepEqual(
      events.filter((e) => e.kind.startsWith('traffic.')).map((e) => `${e.kind} ${String(e.data.layer)}`),
      [
        'traffic.submitted route53',
        'traffic.submitted alb',
        'traffic.in_sync route53',
        'traffic.in_sync alb',
        'traffic.converged alb',
      ],
    );
  });

  it('alerts in the card’s thread when Route 53 is not in sync after 120 s, and keeps following it', async () => {
    await setup();
    nockList(pair());
    await t.command('alice', '/contain');
    const action = await onlyAction();
    nockList(pair());
    nockChange([], { submittedAt: clock.now().toISOString() });
    // 2+3+4+5*27 s of polls crosses 120 s; then INSYNC.
    nockGetChange([...Array<'PENDING'>(27).fill('PENDING'), 'INSYNC']);
    await t.click('bob', APPROVE_ACTION, action.id);

    const thread = t.chat.sent.filter((s) => s.kind === 'post' && s.threadTs === action.card?.ts);
    assert.equal(thread.length, 1);
    assert.match(textOf(thread[0]?.message), /Route 53 change C2682N5HXP0BZ4 is still PENDING after 12\d s/);
    assert.match(textOf(thread[0]?.message), /aws route53 get-change --id C2682N5HXP0BZ4/);
    assert.ok((await kinds()).includes('traffic.sync_slow'));
    assert.equal((await onlyAction()).state, 'succeeded');
  });

  it('after a restart, rechecks an executing shift (GetChange + records) and never re-sends it', async () => {
    await setup();
    nockList(pair());
    await t.command('alice', '/contain');
    const action = await onlyAction();
    nockList(pair());
    nockChange([], { submittedAt: clock.now().toISOString() });
    // The replica dies while polling: GetChange never answers.
    nock(ROUTE53_ENDPOINT).get('/2013-04-01/change/C2682N5HXP0BZ4').delay(60_000).reply(500);
    void t.click('bob', APPROVE_ACTION, action.id);
    for (let i = 0; i < 100 && !(await kinds()).includes('traffic.submitted'); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal((await onlyAction()).state, 'executing');
    await store.del(`action:${action.id}:lease`); // as if its lease ran out

    const fresh = makeTestBot({
      store,
      config: trafficConfig(),
      adapters: { traffic: trafficAdapters(trafficConfig(), clock).traffic },
      now: clock.now,
      instanceId: 'after-restart',
    });
    bots.push(fresh);
    const guard = forbidAws();
    nockGetChange(['INSYNC']);
    nockList(pair({ legacy: 100, cloud: 0 }));
    try {
      await fresh.bot.deps.approvals.recover();
      await fresh.bot.idle();
    } finally {
      guard.stop();
      nock.abortPendingRequests(); // let the dead replica's hanging poll end
    }
    const recovered = await fresh.bot.deps.approvals.get(action.id);
    assert.equal(recovered?.state, 'succeeded');
    assert.match(
      recovered?.result?.summary ?? '',
      /^After a restart: Route 53: change C2682N5HXP0BZ4 is INSYNC and the records show legacy 100 \/ cloud 0 as requested\./,
    );
    assert.deepEqual(guard.calls, [], 'only the GetChange and the listing were called');
    const events = await fresh.bot.deps.timeline.read('INC-1');
    assert.equal(events.filter((e) => e.kind === 'traffic.submitted').length, 1);
    assert.ok(events.some((e) => e.kind === 'traffic.in_sync' && e.data.recovered === true));
  });

  it('lets automation shift with the same CAS and events, exactly once per key (the breaker’s API)', async () => {
    await setup();
    const breaker = { type: 'breaker' as const, id: 'breaker:payments', name: 'breaker' };
    nockList(pair());
    nockList(pair());
    const batches: ChangeBatch[] = [];
    nockChange(batches, { submittedAt: clock.now().toISOString() });
    nockGetChange(['INSYNC']);
    const outcome = await shiftTraffic(t.bot.deps, {
      service: 'payments',
      incidentId: 'INC-1',
      legacyPercent: 100,
      actor: breaker,
      opId: 'trip-payments-1',
      reason: 'memory 97% > 90% for 3 checks',
    });
    assert.equal(outcome.ok, true);
    assert.equal(batches.length, 1);
    assert.match(
      batches[0]?.comment ?? '',
      /^cloud-safety INC-1 trip-payments-1: payments legacy 100% by breaker: memory 97% > 90% for 3 checks$/,
    );
    const submitted = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'traffic.submitted');
    assert.deepEqual(submitted?.actor, breaker);
    assert.equal(submitted?.data.op, 'trip-payments-1');

    // A second replica that read before the first write landed: it gets as far as claiming the key.
    nockList(pair());
    const again = await shiftTraffic(t.bot.deps, {
      service: 'payments',
      incidentId: 'INC-1',
      legacyPercent: 100,
      actor: breaker,
      opId: 'trip-payments-1',
      reason: 'same trip, second replica',
    });
    assert.equal(again.ok, false);
    assert.match(again.summary, /already executed; nothing was sent again/);
    assert.equal(batches.length, 1);
  });
});

describe('/contain input errors', () => {
  useNock();

  it('answers each bad legacy= with how to write it, and calls no AWS API', async () => {
    const clock = fakeClock();
    const config = trafficConfig();
    const t = makeTestBot({
      config,
      adapters: { traffic: trafficAdapters(config, clock).traffic },
      now: clock.now,
    });
    await t.command('alice', '/incident', 'declare payments');
    const guard = forbidAws();
    const cases: [string, RegExp][] = [
      [
        'legacy=abc',
        /legacy="abc" is not a percentage\. Write legacy=100 \(all traffic to legacy, the default\) or a whole number from 1 to 100/,
      ],
      ['legacy=150', /legacy=150 is over 100%; use 1-100/],
      ['legacy=-5', /legacy="-5" is not a percentage/],
      [
        'legacy=0',
        /legacy=0 would send all traffic to the cloud stack; \/contain only moves traffic toward legacy/,
      ],
      ['legacy=50.5', /legacy="50\.5" is not a percentage\. Use a whole number\./],
      ['legacy=', /legacy= needs a value/],
      ['legacy=90 legacy=80', /legacy= is given twice/],
      ['weight=90', /Unknown option weight=\. Known options: legacy=, layer=, break-glass=/],
      ['layer=dns', /layer="dns" is not a layer; write layer=route53/],
      ['layer=alb', /payments has no traffic\.alb configured \(configured: route53\)/],
      ['checkout', /This channel's incident INC-1 is about payments, not checkout/],
      ['paymnts', /Unknown service "paymnts"/],
      ['payments extra', /one service at most/],
      ['break-glass="leads unreachable"', /Break-glass is disabled here/],
    ];
    try {
      for (const [text, expected] of cases) {
        const replies = await t.command('alice', '/contain', text);
        assert.match(textOf(replies[0]), expected, text);
        if (!text.startsWith('break-glass') && text !== 'checkout' && text !== 'paymnts') {
          assert.ok(
            textOf(replies[0]).includes('/contain [service] [legacy=<1-100, default 100>]'),
            `${text}: usage shown`,
          );
        }
      }
      const noIncident = await t.command('alice', '/contain', '', 'C0QUIET');
      assert.match(textOf(noIncident[0]), /This channel has no active incident/);
    } finally {
      guard.stop();
      await t.bot.stop();
    }
    assert.deepEqual(guard.calls, [], 'no AWS call for bad input');
    assert.deepEqual(await t.bot.deps.approvals.listForIncident('INC-1'), []);
  });

  it('says which config to add when the service has no traffic section', async () => {
    const t = makeTestBot({ config: trafficConfig() });
    await t.command('alice', '/incident', 'declare checkout', 'C0CHECKOUT');
    const replies = await t.command('alice', '/contain', '', 'C0CHECKOUT');
    assert.match(
      textOf(replies[0]),
      /checkout has no traffic configured, so there is nothing to shift\. Add services\.checkout\.traffic\.route53/,
    );
    await t.bot.stop();
  });
});
