// The ALB adapter against ELBv2's real Query XML (nock): weighted forward read, written whole, drift, target health.
import assert from 'node:assert/strict';
import nock from 'nock';
import { TrafficDriftError, type TrafficPort } from '../../../src/adapters/traffic.ts';
import { NotWrittenError } from '../../../src/outcome.ts';
import { ALB, ELB_ENDPOINT, trafficAdapters, trafficConfig, type AdapterKit } from '../../support/aws.ts';
import {
  describeListenersXml,
  describeRulesXml,
  describeTargetHealthXml,
  elbErrorXml,
  formOf,
  modifyRuleXml,
  type RuleFixture,
} from '../../support/elb-xml.ts';
import { useNock } from '../../support/nock.ts';
import { XML_HEADERS } from '../../../src/drill/route53-xml.ts';

const OIDC = {
  Issuer: 'https://idp.example.com',
  AuthorizationEndpoint: 'https://idp.example.com/authorize',
  TokenEndpoint: 'https://idp.example.com/token',
  UserInfoEndpoint: 'https://idp.example.com/userinfo',
  ClientId: 'payments-edge',
  SessionCookieName: 'AWSELBAuthSessionCookie',
  Scope: 'openid',
  SessionTimeout: 604800,
  OnUnauthenticatedRequest: 'authenticate',
};

function rule(legacy: number, cloud: number, sticky = 0): RuleFixture {
  return {
    RuleArn: ALB.ruleArn,
    Priority: '10',
    IsDefault: false,
    Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['api.payments.example.com'] } }],
    Actions: [
      { Type: 'authenticate-oidc', Order: 1, AuthenticateOidcConfig: OIDC },
      {
        Type: 'forward',
        Order: 2,
        ForwardConfig: {
          TargetGroups: [
            { TargetGroupArn: ALB.legacyTargetGroupArn, Weight: legacy },
            { TargetGroupArn: ALB.cloudTargetGroupArn, Weight: cloud },
          ],
          TargetGroupStickinessConfig:
            sticky > 0 ? { Enabled: true, DurationSeconds: sticky } : { Enabled: false },
        },
      },
    ],
  };
}

function nockDescribeRule(r: RuleFixture): nock.Scope {
  return nock(ELB_ENDPOINT)
    .post('/', (body) => {
      const form = formOf(body);
      return form.Action === 'DescribeRules' && form['RuleArns.member.1'] === ALB.ruleArn;
    })
    .reply(200, describeRulesXml([r]), XML_HEADERS);
}

describe('ALB traffic adapter (nock, real Query XML)', () => {
  useNock();
  let kit: AdapterKit;
  let alb: TrafficPort;

  beforeEach(() => {
    kit = trafficAdapters(trafficConfig({ alb: true, route53: false }));
    const port = kit.traffic.payments?.alb;
    assert.ok(port);
    alb = port;
  });

  it('reads the weighted forward of the rule, with stickiness as the convergence time', async () => {
    nockDescribeRule(rule(20, 80, 300));
    const state = await alb.read();
    assert.equal(state.legacy.weight, 20);
    assert.equal(state.cloud.weight, 80);
    assert.equal(state.legacy.target, 'payments-legacy');
    assert.equal(state.maxWeight, 999);
    assert.deepEqual(state.convergence, {
      seconds: 300,
      basis: 'target group stickiness keeps a client on its group for 300 s',
    });
  });

  it('writes ModifyRule with every action kept, only the weights changed, then verifies by reading back', async () => {
    nockDescribeRule(rule(20, 80, 300));
    const state = await alb.read();
    nockDescribeRule(rule(20, 80, 300)); // the re-read under the lock
    let form: Record<string, string> = {};
    nock(ELB_ENDPOINT)
      .post('/', (body) => {
        form = formOf(body);
        return form.Action === 'ModifyRule';
      })
      .reply(200, modifyRuleXml(rule(100, 0, 300)), XML_HEADERS);
    nockDescribeRule(rule(100, 0, 300)); // the read-back

    const receipt = await alb.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' });

    assert.deepEqual(form, {
      Action: 'ModifyRule',
      Version: '2015-12-01',
      RuleArn: ALB.ruleArn,
      'Actions.member.1.Type': 'authenticate-oidc',
      'Actions.member.1.Order': '1',
      'Actions.member.1.AuthenticateOidcConfig.Issuer': OIDC.Issuer,
      'Actions.member.1.AuthenticateOidcConfig.AuthorizationEndpoint': OIDC.AuthorizationEndpoint,
      'Actions.member.1.AuthenticateOidcConfig.TokenEndpoint': OIDC.TokenEndpoint,
      'Actions.member.1.AuthenticateOidcConfig.UserInfoEndpoint': OIDC.UserInfoEndpoint,
      'Actions.member.1.AuthenticateOidcConfig.ClientId': OIDC.ClientId,
      'Actions.member.1.AuthenticateOidcConfig.SessionCookieName': OIDC.SessionCookieName,
      'Actions.member.1.AuthenticateOidcConfig.Scope': OIDC.Scope,
      'Actions.member.1.AuthenticateOidcConfig.SessionTimeout': '604800',
      'Actions.member.1.AuthenticateOidcConfig.OnUnauthenticatedRequest': 'authenticate',
      'Actions.member.1.AuthenticateOidcConfig.UseExistingClientSecret': 'true',
      'Actions.member.2.Type': 'forward',
      'Actions.member.2.Order': '2',
      'Actions.member.2.ForwardConfig.TargetGroups.member.1.TargetGroupArn': ALB.legacyTargetGroupArn,
      'Actions.member.2.ForwardConfig.TargetGroups.member.1.Weight': '100',
      'Actions.member.2.ForwardConfig.TargetGroups.member.2.TargetGroupArn': ALB.cloudTargetGroupArn,
      'Actions.member.2.ForwardConfig.TargetGroups.member.2.Weight': '0',
      'Actions.member.2.ForwardConfig.TargetGroupStickinessConfig.Enabled': 'true',
      'Actions.member.2.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds': '300',
    });
    assert.equal(receipt.status, 'INSYNC');
    assert.equal(receipt.changeId, undefined);
  });

  it('refuses to write when the forward changed since it was read (no conditional write in ELB: re-read first)', async () => {
    nockDescribeRule(rule(20, 80));
    const state = await alb.read();
    nockDescribeRule(rule(50, 50));
    await assert.rejects(
      alb.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' }),
      (err: Error) =>
        err instanceof TrafficDriftError &&
        /changed since it was read; nothing was written/.test(err.message),
    );
  });

  function nockModifyRule(reply: { status: number; body: string }): nock.Scope {
    return nock(ELB_ENDPOINT)
      .post('/', (body) => formOf(body).Action === 'ModifyRule')
      .reply(reply.status, reply.body, XML_HEADERS);
  }
  const INTERNAL = { status: 500, body: elbErrorXml('InternalFailure', 'An internal error occurred.') };

  it('ModifyRule answers 500 but the ALB applied it: reads the listener back and reports the change, not a failure', async () => {
    nockDescribeRule(rule(20, 80));
    const state = await alb.read();
    nockDescribeRule(rule(20, 80)); // the re-read under the lock
    nockModifyRule(INTERNAL);
    nockDescribeRule(rule(100, 0)); // reality after the 500
    nockDescribeRule(rule(100, 0)); // the usual read-back
    const receipt = await alb.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' });
    assert.deepEqual(receipt.after, { legacy: 100, cloud: 0 });
    assert.equal(receipt.status, 'INSYNC');
    assert.equal(
      receipt.observed,
      'ModifyRule answered HTTP 500 (InternalFailure: An internal error occurred.), but the listener read back shows legacy 100 / cloud 0 as asked: the change was applied',
    );
  });

  it('ModifyRule answers 500 and the ALB did not apply it: "nothing was written" only after three reads say so', async () => {
    nockDescribeRule(rule(20, 80));
    const state = await alb.read();
    nockDescribeRule(rule(20, 80));
    nockModifyRule(INTERNAL);
    for (let i = 0; i < 3; i++) nockDescribeRule(rule(20, 80));
    await assert.rejects(
      alb.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' }),
      (err: Error) =>
        err instanceof NotWrittenError &&
        err.message ===
          'ModifyRule answered HTTP 500 (InternalFailure: An internal error occurred.); 3 reads of the listener over 2 s still show legacy 20 / cloud 80, so nothing was written',
    );
    assert.deepEqual(kit.clock.sleeps, [1000, 1000]);
  });

  it('a read right after a successful ModifyRule may still show the old weights (eventual consistency): not drift', async () => {
    nockDescribeRule(rule(20, 80));
    const state = await alb.read();
    nockDescribeRule(rule(20, 80));
    nockModifyRule({ status: 200, body: modifyRuleXml(rule(100, 0)) });
    nockDescribeRule(rule(20, 80)); // stale
    nockDescribeRule(rule(100, 0));
    const receipt = await alb.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' });
    assert.deepEqual(receipt.after, { legacy: 100, cloud: 0 });
    assert.equal(receipt.observed, undefined);
  });

  it('a recheck after a restart reads again before calling a fresh modify "never applied" (ALB User Guide, "Edit a listener rule": rule updates do not take effect immediately)', async () => {
    nockDescribeRule(rule(20, 80)); // the modify went through just before the restart; this read is stale
    nockDescribeRule(rule(100, 0));
    const report = await alb.recheck({
      before: { legacy: 20, cloud: 80 },
      after: { legacy: 100, cloud: 0 },
    });
    assert.equal(report.applied, true);
    assert.equal(report.untouched, false);
    assert.deepEqual(kit.clock.sleeps, [1000]);
  });

  it('shifts the listener default action when no rule is configured (ModifyListener)', async () => {
    const config = trafficConfig({ alb: true, route53: false });
    const section = config.services.payments?.traffic?.alb;
    assert.ok(section);
    delete section.ruleArn;
    const listenerAlb = trafficAdapters(config).traffic.payments?.alb;
    assert.ok(listenerAlb);
    const listener = (legacy: number, cloud: number) => ({
      ListenerArn: ALB.listenerArn,
      Port: 443,
      Protocol: 'HTTPS',
      DefaultActions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: ALB.legacyTargetGroupArn, Weight: legacy },
              { TargetGroupArn: ALB.cloudTargetGroupArn, Weight: cloud },
            ],
          },
        },
      ],
    });
    const describe = (l: ReturnType<typeof listener>) =>
      nock(ELB_ENDPOINT)
        .post('/', (body) => formOf(body).Action === 'DescribeListeners')
        .reply(200, describeListenersXml([l]), XML_HEADERS);
    describe(listener(0, 1));
    const state = await listenerAlb.read();
    assert.equal(state.legacy.weight, 0);
    describe(listener(0, 1));
    let form: Record<string, string> = {};
    nock(ELB_ENDPOINT)
      .post('/', (body) => {
        form = formOf(body);
        return form.Action === 'ModifyListener';
      })
      .reply(
        200,
        describeListenersXml([listener(100, 0)]).replace(/DescribeListeners/g, 'ModifyListener'),
        XML_HEADERS,
      );
    describe(listener(100, 0));

    await listenerAlb.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' });

    assert.equal(form.ListenerArn, ALB.listenerArn);
    assert.equal(form['DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.Weight'], '100');
    assert.equal(form['DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.Weight'], '0');
  });

  it('checks legacy target health: healthy with one healthy target, unhealthy with none, unknown while unused', async () => {
    nockDescribeRule(rule(20, 80));
    const state = await alb.read();
    const health = (targets: Parameters<typeof describeTargetHealthXml>[0]) =>
      nock(ELB_ENDPOINT)
        .post('/', (body) => {
          const form = formOf(body);
          return form.Action === 'DescribeTargetHealth' && form.TargetGroupArn === ALB.legacyTargetGroupArn;
        })
        .reply(200, describeTargetHealthXml(targets), XML_HEADERS);

    health([
      { id: 'i-0aa1', port: 8080, state: 'healthy' },
      {
        id: 'i-0aa2',
        port: 8080,
        state: 'unhealthy',
        reason: 'Target.FailedHealthChecks',
        description: 'Health checks failed',
      },
    ]);
    assert.deepEqual(await alb.checkLegacyHealth(state), {
      status: 'healthy',
      detail: '1 of 2 targets in payments-legacy are healthy',
    });
    health([
      {
        id: 'i-0aa1',
        port: 8080,
        state: 'unhealthy',
        reason: 'Target.Timeout',
        description: 'Request timed out',
      },
    ]);
    assert.deepEqual(await alb.checkLegacyHealth(state), {
      status: 'unhealthy',
      detail: '0 of 1 targets in payments-legacy are healthy (unhealthy Target.Timeout: Request timed out)',
    });
    health([]);
    assert.equal((await alb.checkLegacyHealth(state)).status, 'unhealthy');
    health([{ id: 'i-0aa1', port: 8080, state: 'unused', reason: 'Target.NotInUse' }]);
    assert.equal((await alb.checkLegacyHealth(state)).status, 'unknown');
  });

  it('names the config key when the rule does not exist', async () => {
    nock(ELB_ENDPOINT)
      .post('/')
      .reply(400, elbErrorXml('RuleNotFound', 'One or more rules not found'), XML_HEADERS);
    await assert.rejects(
      alb.read(),
      /One or more rules not found \(RuleNotFound\)\. Check traffic\.alb\.ruleArn/,
    );
  });
});
