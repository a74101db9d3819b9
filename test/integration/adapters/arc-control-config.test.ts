// /preflight reads the control panel's safety rules from the control-config API (local, SigV4-checked, REST-JSON),
// evaluates each against the current control states for legacy On + cloud Off, and agrees with what the cluster does.
import assert from 'node:assert/strict';
import { TrafficRejectedError, type LayerCheck } from '../../../src/adapters/traffic.ts';
import type { ArcTraffic } from '../../../src/config.ts';
import { ExternalServiceError } from '../../../src/errors.ts';
import {
  arcAdapter,
  arcSection,
  AT_LEAST_ONE,
  CHANGE_WINDOW,
  CLOUD_RC,
  GATE_RC,
  KEEP_CLOUD,
  KEEP_CLOUD_RULE,
  LEGACY_RC,
  MIN_ONE_RULE,
  PANEL,
  startArcCluster,
  type ArcCluster,
  type Control,
  type SafetyRule,
} from '../../support/arc-cluster.ts';
import {
  controlConfigClient,
  startControlConfig,
  type ControlConfigApi,
} from '../../support/arc-control-config.ts';
import { testConfig } from '../../support/bot.ts';

const CONTROLS = (gate: 'On' | 'Off'): Record<string, Control> => ({
  [LEGACY_RC]: { name: 'payments-legacy', state: 'Off' },
  [CLOUD_RC]: { name: 'payments-cloud', state: 'On' },
  [GATE_RC]: { name: 'change-window', state: gate },
});

describe('ARC safety rules from the control-config API (local, SigV4, REST-JSON)', () => {
  let cluster: ArcCluster;
  let api: ControlConfigApi;

  afterEach(async () => {
    await api.stop();
    await cluster.stop();
  });

  async function setup(rules: SafetyRule[], controls: Record<string, Control>, safetyRules: unknown[] = []) {
    cluster = await startArcCluster({ rules, controls });
    api = await startControlConfig(cluster);
    const config = testConfig({
      services: { payments: { traffic: { arc: arcSection(cluster, { safetyRules }) } } },
    }).services.payments?.traffic?.arc as ArcTraffic;
    const arc = arcAdapter(cluster, config, { controlConfig: controlConfigClient(api) });
    const checks = async () => arc.checks(await arc.read());
    return { arc, checks };
  }

  const byId = (checks: LayerCheck[], id: string) => checks.find((c) => c.id === id);

  it('lists every rule of the panel (every page, signed) with its type, threshold and status', async () => {
    cluster = await startArcCluster({ rules: [AT_LEAST_ONE, KEEP_CLOUD, CHANGE_WINDOW] });
    api = await startControlConfig(cluster);
    const rules = await controlConfigClient(api).listSafetyRules(PANEL);
    assert.deepEqual(
      rules.map((r) => [r.name, r.kind, r.type, r.threshold, r.inverted, r.status]),
      [
        ['at-least-one-on', 'assertion', 'ATLEAST', 1, false, 'DEPLOYED'],
        ['keep-cloud-on', 'assertion', 'ATLEAST', 1, false, 'DEPLOYED'],
        ['change-window', 'gating', 'AND', 1, false, 'DEPLOYED'],
      ],
    );
    assert.deepEqual(rules[2]?.targets, [LEGACY_RC, CLOUD_RC]);
    assert.deepEqual(
      api.requests.map((r) => [r.status, r.query.NextToken]),
      [
        [200, undefined],
        [200, '2'],
      ],
      'two pages, both accepted by the signature check',
    );
    assert.match(api.requests[0]?.path ?? '', /^\/controlpanel\/arn%3Aaws%3Aroute53-recovery-control%3A%3A/);
  });

  it('a wrong secret fails the signature check and says the credentials were not accepted', async () => {
    cluster = await startArcCluster({});
    api = await startControlConfig(cluster);
    const client = controlConfigClient(api, { accessKeyId: 'AKIDEXAMPLETEST', secretAccessKey: 'wrong' });
    await assert.rejects(client.listSafetyRules(PANEL), (err: unknown) => {
      assert.ok(err instanceof ExternalServiceError);
      assert.match(
        err.message,
        /^ListSafetyRules was refused, HTTP 403 \(InvalidSignatureException: The request signature we calculated/,
      );
      assert.match(err.message, /the bot's AWS credentials were not accepted/);
      return true;
    });
  });

  it('preflight: evaluates each rule for legacy On + cloud Off and names the one that would refuse', async () => {
    const { arc, checks } = await setup([AT_LEAST_ONE, KEEP_CLOUD, CHANGE_WINDOW], CONTROLS('On'), [
      { arn: KEEP_CLOUD_RULE, name: 'keep-cloud-on' },
    ]);
    const panel = byId(await checks(), 'arc-panel-rules');
    assert.equal(panel?.status, 'warn');
    assert.equal(
      panel?.detail,
      'keep-cloud-on would refuse the shift now. ' +
        'at-least-one-on (assertion, ATLEAST 1 of 2): allows (after the shift payments-legacy On, payments-cloud Off; the rule needs at least 1 of 2 On); ' +
        'keep-cloud-on (assertion, ATLEAST 1 of 1): WOULD REFUSE (after the shift payments-cloud Off; the rule needs at least 1 of 1 On); ' +
        'change-window (gating, AND of 1): allows (gating controls now change-window On; its targets may change only with all 1 On)',
    );
    assert.equal(
      panel?.fix,
      'keep-cloud-on may be overridden only by /contain break-glass="<reason>" (listed in traffic.arc.safetyRules).',
    );
    assert.equal(
      byId(await checks(), 'arc-safety-rules-config'),
      undefined,
      'the listed rule is on the panel',
    );

    // What preflight foresaw is what the cluster does: refused, by that rule, and nothing changed.
    await assert.rejects(
      arc.shift(await arc.read(), { legacy: 1, cloud: 0 }, { comment: 'test' }),
      (err: unknown) => {
        assert.ok(err instanceof TrafficRejectedError);
        assert.match(
          err.message,
          /The rule that refused: keep-cloud-on \(f60718293a4b5c6d\), which break-glass may override\./,
        );
        return true;
      },
    );
    assert.equal(cluster.states(), 'legacy=Off cloud=On');
  });

  it('preflight: a closed gate (and an inverted rule) would refuse, and break-glass cannot skip unlisted rules', async () => {
    const inverted: SafetyRule = {
      arn: `${PANEL}/safetyrule/0718293a4b5c6d7e`,
      name: 'not-both-on',
      kind: 'assertion',
      asserted: [LEGACY_RC, CLOUD_RC],
      atLeast: 2,
      config: { type: 'ATLEAST', threshold: 2, inverted: true },
    };
    const { arc, checks } = await setup([CHANGE_WINDOW, inverted], CONTROLS('Off'));
    const panel = byId(await checks(), 'arc-panel-rules');
    assert.equal(panel?.status, 'warn');
    assert.match(panel?.detail ?? '', /^change-window would refuse the shift now\. /);
    assert.match(
      panel?.detail ?? '',
      /change-window \(gating, AND of 1\): WOULD REFUSE \(gating controls now change-window Off; its targets may change only with all 1 On\)/,
    );
    assert.match(
      panel?.detail ?? '',
      /not-both-on \(assertion, ATLEAST 2 of 2, inverted\): allows \(after the shift payments-legacy On, payments-cloud Off; the rule needs NOT \(at least 2 of 2 On\)\)/,
    );
    assert.match(
      panel?.fix ?? '',
      /^change-window would refuse even under break-glass \(not in traffic\.arc\.safetyRules\)/,
    );
    await assert.rejects(
      arc.shift(await arc.read(), { legacy: 1, cloud: 0 }, { comment: 'test', breakGlass: 'leads away' }),
      /The rule that refused: e5f60718293a4b5c, not in traffic\.arc\.safetyRules, so break-glass cannot override it\./,
    );
    assert.equal(cluster.states(), 'legacy=Off cloud=On');
  });

  it('preflight: passes when every rule allows it, and then the shift goes through', async () => {
    const { arc, checks } = await setup([AT_LEAST_ONE, CHANGE_WINDOW], CONTROLS('On'));
    const panel = byId(await checks(), 'arc-panel-rules');
    assert.equal(panel?.status, 'pass');
    assert.equal(panel?.fix, undefined);
    await arc.shift(await arc.read(), { legacy: 1, cloud: 0 }, { comment: 'test' });
    assert.equal(cluster.states(), 'legacy=On cloud=Off');
  });

  it('preflight: warns when traffic.arc.safetyRules names a rule the panel does not have', async () => {
    const ghost = `${PANEL}/safetyrule/9999aaaabbbbcccc`;
    const { checks } = await setup([AT_LEAST_ONE], CONTROLS('On'), [{ arn: ghost, name: 'old-region-rule' }]);
    const config = byId(await checks(), 'arc-safety-rules-config');
    assert.equal(config?.status, 'warn');
    assert.equal(
      config?.detail,
      'old-region-rule (9999aaaabbbbcccc) is not a safety rule of control panel 0123456789abcdef0123456789abcdef: break-glass would ask ARC to override a rule it does not have',
    );
    assert.equal(
      config?.fix,
      `Correct the ARN or remove the entry. The panel's rules: at-least-one-on ${MIN_ONE_RULE}.`,
    );
  });

  it('preflight: says so, with the IAM action to grant, when ListSafetyRules is denied', async () => {
    const { checks } = await setup([AT_LEAST_ONE], CONTROLS('On'));
    api.mode = 'denied';
    const all = await checks();
    const panel = byId(all, 'arc-panel-rules');
    assert.equal(panel?.status, 'warn');
    assert.match(
      panel?.detail ?? '',
      /^could not read the panel's safety rules: ListSafetyRules was denied, HTTP 403 \(AccessDeniedException: User: .* is not authorized to perform: route53-recovery-control-config:ListSafetyRules on resource: .*\): grant route53-recovery-control-config:ListSafetyRules to the bot's role \(deploy\/aws\/iam-policy\.json, statement ArcReadSafetyRules\)\. Only the rules named in traffic\.arc\.safetyRules are known\.$/,
    );
    assert.ok(byId(all, 'arc-controls') && byId(all, 'arc-endpoints'), 'the other ARC checks still run');
  });

  it('preflight: says so when the API is unreachable, and rides out throttling', async () => {
    const { checks } = await setup([AT_LEAST_ONE], CONTROLS('On'));
    api.throttleNext = 2;
    assert.equal(byId(await checks(), 'arc-panel-rules')?.status, 'pass');
    assert.deepEqual(
      api.requests.map((r) => r.status),
      [429, 429, 200],
    );
    api.mode = 'reset';
    const panel = byId(await checks(), 'arc-panel-rules');
    assert.equal(panel?.status, 'warn');
    assert.match(
      panel?.detail ?? '',
      /^could not read the panel's safety rules: ListSafetyRules got no answer from http:\/\/127\.0\.0\.1:\d+ \(/,
    );
  });
});
