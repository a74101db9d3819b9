// /contain layer=arc end to end on real Redis against a local ARC cluster: the card, the approval, one
// UpdateRoutingControlStates, a safety rule's refusal on the card and the timeline, break-glass overriding it.
import assert from 'node:assert/strict';
import type { ShiftChange } from '../../flows/contain/contain.ts';
import type { Action } from '../../src/actions.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import {
  arcAdapter,
  arcSection,
  AT_LEAST_ONE,
  KEEP_CLOUD,
  KEEP_CLOUD_RULE,
  startArcCluster,
  type ArcCluster,
  type SafetyRule,
} from '../support/arc-cluster.ts';
import {
  controlConfigClient,
  startControlConfig,
  type ControlConfigApi,
} from '../support/arc-control-config.ts';
import { fakeClock, type FakeClock } from '../support/aws.ts';
import { makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';

describe('/contain on ARC routing controls (real Redis, local ARC cluster)', () => {
  let store: RedisStore;
  let cluster: ArcCluster;
  let clock: FakeClock;
  let api: ControlConfigApi | undefined;
  let t: TestBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
    await cluster.stop();
    await api?.stop();
  });

  async function setup(
    opts: { rules?: SafetyRule[]; breakGlass?: boolean; controlConfig?: boolean } = {},
  ): Promise<void> {
    cluster = await startArcCluster({ rules: opts.rules ?? [] });
    api = opts.controlConfig ? await startControlConfig(cluster) : undefined;
    clock = fakeClock();
    const config = testConfig({
      services: {
        payments: {
          traffic: {
            arc: arcSection(cluster, { safetyRules: [{ arn: KEEP_CLOUD_RULE, name: 'keep-cloud-on' }] }),
          },
        },
      },
      ...(opts.breakGlass ? { access: { breakGlass: true } } : {}),
    });
    const section = config.services.payments?.traffic?.arc;
    assert.ok(section);
    t = makeTestBot({
      store,
      config,
      adapters: {
        traffic: {
          payments: {
            arc: arcAdapter(cluster, section, {
              clock,
              ...(api ? { controlConfig: controlConfigClient(api) } : {}),
            }),
          },
        },
      },
      now: clock.now,
    });
    await t.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
  }

  async function onlyAction(): Promise<Action<ShiftChange>> {
    const actions = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.equal(actions.length, 1);
    return actions[0] as Action<ShiftChange>;
  }

  function card(action: Action): string {
    assert.ok(action.card);
    return textOf(t.chat.latest(action.card));
  }

  async function timeline() {
    return t.bot.deps.timeline.read('INC-1');
  }

  it('shows On/Off on the card, flips both controls in one call after approval, converges after the TTL', async () => {
    await setup();
    const replies = await t.command('alice', '/contain', 'layer=arc');
    assert.match(
      textOf(replies[0]),
      /Approval card posted for \*Shift payments to legacy 100% \(Route 53 ARC\)\*/,
    );
    const requested = await onlyAction();
    const shown = card(requested);
    assert.match(shown, /Routing controls/);
    assert.match(shown, /Route 53 ARC states/);
    assert.match(shown, /legacy On \/ cloud On \(50% \/ 50%\)\\n→ \*legacy On \/ cloud Off \(100% \/ 0%\)\*/);
    assert.equal(cluster.accepted.length, 0);

    assert.deepEqual(await t.click('bob', APPROVE_ACTION, requested.id), []);
    assert.equal(cluster.states(), 'legacy=On cloud=Off');
    assert.equal(cluster.accepted.length, 1);
    const done = await onlyAction();
    assert.equal(done.state, 'succeeded');
    assert.match(
      done.result?.summary ?? '',
      /^Route 53 ARC: legacy On \/ cloud On \(50% \/ 50%\) -> legacy On \/ cloud Off \(100% \/ 0%\), effective now; clients follow by 10:01:00Z \(TTL 60 s of the DNS records the routing controls' health checks gate\)\.$/,
    );
    const kinds = (await timeline()).map((e) => e.kind);
    assert.deepEqual(kinds.slice(-4), [
      'action.executing',
      'traffic.submitted',
      'traffic.in_sync',
      'action.succeeded',
    ]);
    const submitted = (await timeline()).find((e) => e.kind === 'traffic.submitted');
    assert.equal(submitted?.data.layer, 'arc');
    assert.match(
      submitted?.summary ?? '',
      /^Route 53 ARC updated: legacy On \/ cloud On -> legacy On \/ cloud Off$/,
    );

    clock.advance(60_000);
    await t.bot.deps.scheduler.tick();
    await t.bot.idle();
    assert.equal((await timeline()).at(-1)?.kind, 'traffic.converged');
  });

  it('/preflight reads the controls on the panel, asks every endpoint, and lists the overridable rules', async () => {
    await setup();
    cluster.mode[2] = 'unavailable';
    const text = (await t.command('alice', '/preflight')).map(textOf).join('\n');
    assert.match(text, /ARC routing controls on the control panel/);
    assert.match(text, /legacy payments-legacy On, cloud payments-cloud On/);
    assert.match(text, /4 of 5 configured endpoints answered \(eu-west-1: /);
    assert.match(text, /keep-cloud-on \(f60718293a4b5c6d\): overridden only by break-glass/);
    const checked = (await timeline()).find((e) => e.kind === 'preflight.checked');
    const ids = (checked?.data.checks as { id: string }[] | undefined)?.map((c) => c.id) ?? [];
    assert.ok(
      ['arc-controls', 'arc-endpoints', 'arc-safety-rules'].every((id) => ids.includes(id)),
      ids.join(),
    );
  });

  it("/preflight lists the panel's safety rules from the control-config API and names the one that would refuse", async () => {
    await setup({ rules: [AT_LEAST_ONE, KEEP_CLOUD], controlConfig: true });
    const text = (await t.command('alice', '/preflight')).map(textOf).join('\n');
    assert.match(text, /ARC safety rules of the control panel allow legacy \w+ On \+ cloud \w+ Off/);
    assert.match(text, /keep-cloud-on would refuse the shift now\./);
    assert.match(text, /at-least-one-on \(assertion, ATLEAST 1 of 2\): allows/);
    assert.match(text, /keep-cloud-on may be overridden only by \/contain break-glass="&lt;reason&gt;"/);
    const checked = (await timeline()).find((e) => e.kind === 'preflight.checked');
    const panel = (checked?.data.checks as { id: string; status: string }[] | undefined)?.find(
      (c) => c.id === 'arc-panel-rules',
    );
    assert.equal(panel?.status, 'warn');
    assert.equal(api?.requests.length, 1, 'one signed ListSafetyRules page');
    assert.equal(cluster.requests.filter((r) => r.operation === 'UpdateRoutingControlStates').length, 0);
  });

  it('refuses a share routing controls cannot express, before anything is requested', async () => {
    await setup();
    const replies = await t.command('alice', '/contain', 'legacy=90');
    assert.match(
      textOf(replies[0]),
      /Route 53 ARC routing controls are On or Off: they can send legacy all of the traffic or none of it, not 90%\. Use legacy=100/,
    );
    assert.equal((await t.bot.deps.approvals.listForIncident('INC-1')).length, 0);
    assert.equal(cluster.requests.filter((r) => r.operation === 'UpdateRoutingControlStates').length, 0);
  });

  it('a safety rule refusal lands on the card and the timeline in plain words; nothing is overridden', async () => {
    await setup({ rules: [KEEP_CLOUD] });
    await t.command('alice', '/contain');
    const requested = await onlyAction();
    await t.click('bob', APPROVE_ACTION, requested.id);
    const done = await onlyAction();
    assert.equal(done.state, 'failed');
    assert.match(
      done.result?.summary ?? '',
      /^Nothing was written: Route 53 ARC rejected the change \(SafetyRule\): a safety rule of control panel \w+ does not allow legacy \w+ On and cloud \w+ Off \(ARC said: Routing control state update blocked by safety rule arn:aws:route53-recovery-control::\d+:controlpanel\/\w+\/safetyrule\/f60718293a4b5c6d\)\. Nothing was changed\. The rule that refused: keep-cloud-on \(f60718293a4b5c6d\), which break-glass may override\./,
    );
    assert.match(card(done), /overrides keep-cloud-on \(listed in traffic\.arc\.safetyRules\)/);
    const refused = (await timeline()).find((e) => e.kind === 'traffic.not_shifted');
    assert.equal(refused?.data.reason, 'rejected');
    assert.equal(refused?.data.layer, 'arc');
    assert.equal(cluster.states(), 'legacy=On cloud=On');
    const updates = cluster.requests.filter((r) => r.operation === 'UpdateRoutingControlStates');
    assert.deepEqual(
      updates.map((u) => u.body.SafetyRulesToOverride),
      [undefined],
    );
  });

  it('break-glass overrides the listed rule after its refusal, and the card and timeline name it', async () => {
    await setup({ rules: [KEEP_CLOUD], breakGlass: true });
    const replies = await t.command('alice', '/contain', 'break-glass="leads unreachable, payments down"');
    assert.match(textOf(replies[0]), /BREAK-GLASS: executed without a second approver \(succeeded\)/);
    assert.equal(cluster.states(), 'legacy=On cloud=Off');
    assert.deepEqual(cluster.accepted[0]?.overridden, [KEEP_CLOUD_RULE]);
    const submitted = (await timeline()).find((e) => e.kind === 'traffic.submitted');
    assert.match(
      submitted?.summary ?? '',
      /; BREAK-GLASS overrode safety rules keep-cloud-on \(f60718293a4b5c6d\)$/,
    );
    assert.match(card(await onlyAction()), /BREAK-GLASS overrode safety rules keep-cloud-on/);
  });
});
