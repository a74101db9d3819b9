// Approval policies on real Redis: N-of-M per kind and service, who is eligible, every refusal, exactly one execution.
import assert from 'node:assert/strict';
import nock from 'nock';
import { PdjsPagerDuty } from '../../src/adapters/pagerduty.ts';
import type { ActionHandler } from '../../flows/approval/approval.ts';
import type { Action } from '../../src/actions.ts';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/chat/blocks/approval.ts';
import { ConfigError } from '../../src/errors.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { CHANNEL, makeTestBot, testConfig, textOf, USERS, type TestBot } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const PD_API = 'https://api.pagerduty.com';
const PD_TOKEN = 'pd-test-token';
const PD_FROM = 'bot@example.com';

/** One on-call entry as GET /oncalls?include[]=users returns it: the user expanded, the rest references. */
function oncallEntry(user: { id: string; name: string; email: string }, level: number) {
  return {
    escalation_policy: {
      id: 'PANZZEQ',
      type: 'escalation_policy_reference',
      summary: 'Payments',
      self: `${PD_API}/escalation_policies/PANZZEQ`,
      html_url: 'https://acme.pagerduty.com/escalation_policies/PANZZEQ',
    },
    escalation_level: level,
    schedule: {
      id: 'PI7DH85',
      type: 'schedule_reference',
      summary: 'Payments primary',
      self: `${PD_API}/schedules/PI7DH85`,
      html_url: 'https://acme.pagerduty.com/schedules/PI7DH85',
    },
    user: {
      id: user.id,
      type: 'user',
      name: user.name,
      summary: user.name,
      email: user.email,
      time_zone: 'Europe/London',
      role: 'user',
      self: `${PD_API}/users/${user.id}`,
      html_url: `https://acme.pagerduty.com/users/${user.id}`,
    },
    start: '2026-12-03T09:00:00Z',
    end: '2026-12-04T09:00:00Z',
  };
}

/** GET /oncalls for escalation policy PANZZEQ with users included, answered once with `status` and `body`. */
function oncalls(status: number, body: unknown, seen: Record<string, unknown>[]) {
  nock(PD_API)
    .matchHeader('authorization', `Token token=${PD_TOKEN}`)
    .get('/oncalls')
    .query((q) => {
      seen.push(q);
      return true;
    })
    .reply(status, body as Record<string, unknown>);
}

interface Flip {
  to: number;
}

interface System {
  value: number;
  writes: number;
  onExecute?: () => Promise<void>;
}

function flipHandler(system: System, kind = 'test.flip'): ActionHandler<Flip> {
  return {
    kind,
    describe: (action) => ({ fields: [['Value', `${String(action.basis)} -> ${action.change.to}`]] }),
    async execute(action) {
      await system.onExecute?.();
      system.writes += 1;
      system.value = action.change.to;
      return { ok: true, summary: `value is ${system.value}` };
    },
    async recheck() {
      return { ok: true, summary: `value is ${system.value}` };
    },
  };
}

const GROUPS = {
  'sre-oncall': ['U0ALICE', 'U0CAROL'],
  'sre-leads': ['U0BOB', 'U0DAVE'],
  'dba-leads': ['U0DAVE', 'U0CAROL'],
};

describe('approval policies (real Redis)', () => {
  let store: RedisStore;
  let system: System;
  const bots: TestBot[] = [];

  beforeEach(async () => {
    store = await isolatedRedisStore();
    system = { value: 1, writes: 0 };
  });

  afterEach(async () => {
    for (const b of bots.splice(0)) await b.bot.stop();
    await store.close();
  });

  async function bot(
    access: Record<string, unknown>,
    instanceId?: string,
    chatOf?: TestBot,
    withPagerDuty = false,
  ): Promise<TestBot> {
    const t = makeTestBot({
      store,
      config: testConfig({ access: { groups: GROUPS, ...access } }),
      ...(instanceId ? { instanceId } : {}),
      ...(chatOf ? { chat: chatOf.chat } : {}),
      ...(withPagerDuty
        ? {
            adapters: {
              pagerduty: new PdjsPagerDuty({ token: PD_TOKEN, from: PD_FROM, retryTimeoutMs: 0 }),
            },
            // The timeline mirror's 2 s note window is not what these tests check; idle() would wait it out per event.
            pagerdutyMirror: { batchWindowMs: 0, minCallIntervalMs: 0 },
          }
        : {}),
    });
    bots.push(t);
    t.bot.deps.approvals.register(flipHandler(system));
    t.bot.deps.approvals.register(flipHandler(system, 'test.other'));
    return t;
  }

  async function request(t: TestBot, kind = 'test.flip', breakGlass?: string): Promise<Action<Flip>> {
    if (!(await t.bot.deps.incidents.active(CHANNEL)))
      await t.command('alice', '/incident', 'declare payments');
    const incident = await t.bot.deps.incidents.active(CHANNEL);
    assert.ok(incident);
    const action = await t.bot.deps.approvals.request<Flip>({
      kind,
      incident,
      step: 'C',
      summary: 'Flip the value to 2',
      basis: system.value,
      change: { to: 2 },
      requester: { type: 'user', ...USERS.alice },
      ...(breakGlass !== undefined ? { breakGlass } : {}),
    });
    await t.bot.idle();
    return action;
  }

  function card(t: TestBot, action: Action): string {
    return textOf(t.chat.latest(action.card ?? { channel: '', ts: '' }));
  }

  it('quorum 2: the first approval is recorded and shown as "1 of 2", the second executes once', async () => {
    const t = await bot({ policies: [{ name: 'two leads', kinds: ['test.flip'], quorum: 2 }] });
    const action = await request(t);
    assert.match(card(t, action), /0 of 2 approvals; waiting for 2 more of @sre-leads/);

    assert.deepEqual(await t.click('bob', APPROVE_ACTION, action.id), []);
    await t.bot.idle();
    assert.equal(system.writes, 0, 'one approval of two executes nothing');
    assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'requested');
    assert.match(card(t, action), /1 of 2 approvals: ✓ <@U0BOB>; waiting for 1 more of @sre-leads/);
    assert.match(card(t, action), /policy: two leads/);

    const again = await t.click('bob', APPROVE_ACTION, action.id);
    assert.match(textOf(again[0]), /You already approved this; 1 of 2 approvals/);
    assert.equal(system.writes, 0);

    assert.deepEqual(await t.click('dave', APPROVE_ACTION, action.id), []);
    await t.bot.idle();
    assert.equal(system.writes, 1);
    const done = await t.bot.deps.approvals.get(action.id);
    assert.equal(done?.state, 'succeeded');
    assert.deepEqual(
      done?.approvals.map((a) => a.actor.id),
      [USERS.bob.id, USERS.dave.id],
    );
    assert.match(card(t, action), /Approved by.*<@U0BOB>.*<@U0DAVE>/s);
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.ok(kinds.includes('action.approval-recorded'));
    assert.equal(kinds.filter((k) => k === 'action.executing').length, 1);
  });

  it('the post-mortem names the policy each action was approved under and everyone who approved', async () => {
    const t = await bot({ policies: [{ name: 'two leads', kinds: ['test.flip'], quorum: 2 }] });
    const two = await request(t);
    await t.click('bob', APPROVE_ACTION, two.id);
    await t.click('dave', APPROVE_ACTION, two.id);
    const one = await request(t, 'test.other');
    await t.click('bob', APPROVE_ACTION, one.id);
    await t.bot.idle();
    await t.command('carol', '/postmortem');
    const upload = t.chat.sent.find((s) => s.kind === 'upload' && s.file?.filename.endsWith('.md'));
    const md = String(upload?.file?.content ?? '');
    assert.match(md, /### 1\. Flip the value to 2 \(test\.flip\): succeeded/);
    assert.match(md, /- Policy: two leads, 2 approval\(s\) needed from @sre-leads\n/);
    assert.match(md, /- Approved by bob \(U0BOB\) at [^,]+, dave \(U0DAVE\) at /);
    assert.match(
      md,
      /### 2\. Flip the value to 2 \(test\.other\): succeeded\n\n[^#]*- Policy: default, 1 approval\(s\) needed from @sre-leads\n/,
    );
  });

  it('quorum 2 with both approvers clicking at once on two replicas, repeatedly: exactly one execution', async () => {
    const policies = [{ kinds: ['test.flip'], quorum: 2 }];
    const t = await bot({ policies });
    const replica = await bot({ policies }, 'replica-2', t);
    system.onExecute = () => new Promise((r) => setTimeout(r, 30));
    const action = await request(t);

    const clicks = Array.from({ length: 8 }, (_, i) =>
      (i % 2 === 0 ? t : replica).click(i % 4 < 2 ? 'bob' : 'dave', APPROVE_ACTION, action.id),
    );
    const replies = (await Promise.all(clicks)).flat();
    await t.bot.idle();
    await replica.bot.idle();

    assert.equal(system.writes, 1);
    assert.equal(replies.length, 6, 'two clicks count (bob, dave); the rest are refused');
    for (const reply of replies)
      assert.match(textOf(reply), /already (approved|executed)|You already approved/);
    const done = await t.bot.deps.approvals.get(action.id);
    assert.equal(done?.state, 'succeeded');
    assert.deepEqual(new Set(done?.approvals.map((a) => a.actor.id)), new Set([USERS.bob.id, USERS.dave.id]));
  });

  it('applies a policy per kind: @dba-leads for one kind, the default approvers for the others', async () => {
    const t = await bot({ policies: [{ name: 'ledger', kinds: ['test.other'], approvers: ['@dba-leads'] }] });
    const other = await request(t, 'test.other');
    const bob = await t.click('bob', APPROVE_ACTION, other.id);
    assert.match(
      textOf(bob[0]),
      /Only @dba-leads can approve test\.other on payments \(policy "ledger"\)\. Ask one of them to press Approve\./,
    );
    assert.equal(system.writes, 0);
    assert.deepEqual(await t.click('carol', APPROVE_ACTION, other.id), []);
    await t.bot.idle();
    assert.equal((await t.bot.deps.approvals.get(other.id))?.state, 'succeeded');

    const flip = await request(t, 'test.flip');
    const carol = await t.click('carol', APPROVE_ACTION, flip.id);
    assert.match(textOf(carol[0]), /Only approvers \(@sre-leads\) can approve this change/);
    assert.deepEqual(await t.click('bob', APPROVE_ACTION, flip.id), []);
    await t.bot.idle();
    assert.equal((await t.bot.deps.approvals.get(flip.id))?.state, 'succeeded');
  });

  it("refuses an approver from the requester's own team when the policy says so", async () => {
    const t = await bot({
      policies: [
        { name: 'outside eyes', approvers: ['@sre-oncall', '@sre-leads'], requesterTeamMayApprove: false },
      ],
    });
    const action = await request(t);
    const carol = await t.click('carol', APPROVE_ACTION, action.id);
    assert.match(
      textOf(carol[0]),
      /You are in @sre-oncall with the requester, and policy "outside eyes" needs an approver from outside the requester's team/,
    );
    assert.equal(system.writes, 0);
    assert.deepEqual(await t.click('bob', APPROVE_ACTION, action.id), []);
    await t.bot.idle();
    assert.equal(system.writes, 1);
  });

  it('a Deny by an eligible approver ends a quorum request after one approval; an ineligible one cannot deny', async () => {
    const t = await bot({ policies: [{ kinds: ['test.flip'], approvers: ['@dba-leads'], quorum: 2 }] });
    const action = await request(t);
    assert.deepEqual(await t.click('dave', APPROVE_ACTION, action.id), []);
    const bob = await t.click('bob', DENY_ACTION, action.id);
    assert.match(textOf(bob[0]), /Only those who may approve this \(@dba-leads\) or the requester can stop/);
    const carol = await t.click('carol', DENY_ACTION, action.id);
    assert.match(textOf(carol[0]), /stopped; nothing was changed/);
    await t.bot.idle();
    assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'denied');
    const late = await t.click('carol', APPROVE_ACTION, action.id);
    assert.match(textOf(late[0]), /This request is denied/);
    assert.equal(system.writes, 0);
  });

  it('break-glass follows the policy of the kind, not only access.breakGlass', async () => {
    const t = await bot({
      breakGlass: true,
      policies: [{ name: 'no glass', kinds: ['test.other'], breakGlass: false }],
    });
    await assert.rejects(
      request(t, 'test.other', 'leads asleep'),
      /Break-glass is disabled for test\.other on payments \(policy "no glass"\)/,
    );
    const glass = await request(t, 'test.flip', 'leads asleep');
    await t.bot.idle();
    assert.equal((await t.bot.deps.approvals.get(glass.id))?.state, 'succeeded');
  });

  it('selects a policy by the risk level of the kind (access.risk), unlisted kinds being medium', async () => {
    const t = await bot({
      risk: { 'test.other': 'high' },
      policies: [{ name: 'high risk', risks: ['high'], quorum: 2 }],
    });
    const high = await request(t, 'test.other');
    assert.equal(high.policy?.name, 'high risk');
    assert.match(card(t, high), /0 of 2 approvals/);
    const medium = await request(t, 'test.flip');
    assert.equal(medium.policy?.name, 'default');
    assert.deepEqual(await t.click('bob', APPROVE_ACTION, medium.id), []);
    await t.bot.idle();
    assert.equal(system.writes, 1);
    assert.throws(
      () => testConfig({ access: { risk: { 'traffic.shift': 'severe' } } }),
      /access\.risk\.traffic\.shift: Invalid option: expected one of "low"\|"medium"\|"high"/,
    );
  });

  it('keeps the policy a request was made under: a config change mid-approval does not change its rule', async () => {
    const t = await bot({ policies: [{ name: 'two leads', kinds: ['test.flip'], quorum: 2 }] });
    const action = await request(t);
    assert.equal((await t.bot.deps.approvals.get(action.id))?.policy?.quorum, 2);
    // A replica restarted with a relaxed policy serves the next click: the request still needs two.
    const relaxed = await bot({ policies: [{ name: 'one lead', kinds: ['test.flip'], quorum: 1 }] }, 'r2', t);
    assert.deepEqual(await relaxed.click('bob', APPROVE_ACTION, action.id), []);
    await relaxed.bot.idle();
    assert.equal(system.writes, 0, 'still 1 of 2 under the policy it was requested with');
    assert.match(card(t, action), /1 of 2 approvals: ✓ <@U0BOB>.*policy: two leads/s);
    assert.deepEqual(await relaxed.click('dave', APPROVE_ACTION, action.id), []);
    await relaxed.bot.idle();
    assert.equal(system.writes, 1);
    // A new request follows the new rule.
    const next = await request(relaxed);
    assert.equal(next.policy?.name, 'one lead');
    const requested = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'action.requested');
    assert.equal(requested?.data?.policy, 'two leads');
  });

  it('refuses the incident commander as the only approver when the policy says so, and counts them with another', async () => {
    const t = await bot({
      policies: [{ name: 'not the IC alone', kinds: ['test.flip'], commanderMayApproveAlone: false }],
    });
    await t.command('alice', '/incident', 'declare payments');
    await t.command('alice', '/incident', 'role commander <@U0BOB|bob>');
    const action = await request(t);
    const bob = await t.click('bob', APPROVE_ACTION, action.id);
    assert.match(
      textOf(bob[0]),
      /You are the incident commander, and policy "not the IC alone" needs someone besides the commander to approve test\.flip\. Ask another of @sre-leads to press Approve\./,
    );
    assert.equal(system.writes, 0);
    assert.equal((await t.bot.deps.approvals.get(action.id))?.approvals.length, 0, 'nothing recorded');
    assert.deepEqual(await t.click('dave', APPROVE_ACTION, action.id), []);
    await t.bot.idle();
    assert.equal(system.writes, 1);

    // With a quorum of 2 the commander is one of two distinct approvers, which is allowed.
    const two = await bot(
      { policies: [{ kinds: ['test.other'], quorum: 2, commanderMayApproveAlone: false }] },
      'r2',
      t,
    );
    const other = await request(two, 'test.other');
    assert.deepEqual(await two.click('bob', APPROVE_ACTION, other.id), []);
    assert.deepEqual(await two.click('dave', APPROVE_ACTION, other.id), []);
    await two.bot.idle();
    assert.equal(system.writes, 2);
  });

  describe('on-call approvers (PagerDuty /oncalls, nock)', () => {
    useNock();
    before(() => nock.disableNetConnect());
    after(() => nock.enableNetConnect());

    const onCallPolicy = {
      policies: [{ name: 'on-call', kinds: ['test.flip'], approvers: ['oncall:PANZZEQ'], breakGlass: false }],
      pagerdutyUsers: { PXPGF42: 'U0DAVE', 'bob@example.com': 'U0BOB' },
    };

    it('lets whoever PagerDuty has on call approve, looked up once and cached, and refuses the others', async () => {
      const seen: Record<string, unknown>[] = [];
      oncalls(
        200,
        {
          oncalls: [oncallEntry({ id: 'PXPGF42', name: 'Dave', email: 'dave@example.com' }, 1)],
          limit: 100,
          offset: 0,
          more: false,
          total: null,
        },
        seen,
      );
      const t = await bot(onCallPolicy, undefined, undefined, true);
      const action = await request(t);
      assert.match(card(t, action), /waiting for 1 more of on-call of PANZZEQ/);

      const bob = await t.click('bob', APPROVE_ACTION, action.id);
      assert.match(textOf(bob[0]), /Only on-call of PANZZEQ can approve test\.flip on payments/);
      assert.deepEqual(await t.click('dave', APPROVE_ACTION, action.id), []);
      await t.bot.idle();
      assert.equal(system.writes, 1);
      assert.equal(seen.length, 1, 'the on-call set is cached between clicks');
      assert.match(JSON.stringify(seen[0]), /PANZZEQ/);
      assert.match(JSON.stringify(seen[0]), /users/);
    });

    it('follows an on-call hand-off mid-request once the 30 s cache lapses', async () => {
      const seen: Record<string, unknown>[] = [];
      const page = (user: { id: string; name: string; email: string }) => ({
        oncalls: [oncallEntry(user, 1)],
        limit: 100,
        offset: 0,
        more: false,
        total: null,
      });
      oncalls(200, page({ id: 'PXPGF42', name: 'Dave', email: 'dave@example.com' }), seen);
      oncalls(200, page({ id: 'PBOB123', name: 'Bob', email: 'bob@example.com' }), seen);
      let now = new Date('2026-12-03T10:00:00Z');
      const t = makeTestBot({
        store,
        now: () => now,
        config: testConfig({ access: { groups: GROUPS, ...onCallPolicy } }),
        adapters: { pagerduty: new PdjsPagerDuty({ token: PD_TOKEN, from: PD_FROM, retryTimeoutMs: 0 }) },
      });
      bots.push(t);
      t.bot.deps.approvals.register(flipHandler(system));
      const action = await request(t);
      const before = await t.click('bob', APPROVE_ACTION, action.id);
      assert.match(textOf(before[0]), /Only on-call of PANZZEQ can approve/);
      now = new Date('2026-12-03T10:00:31Z');
      assert.deepEqual(await t.click('bob', APPROVE_ACTION, action.id), []);
      await t.bot.idle();
      assert.equal(system.writes, 1);
      assert.equal(seen.length, 2);
    });

    it('lets whoever is on call for a PagerDuty schedule approve (oncall:schedule:<id>)', async () => {
      const seen: Record<string, unknown>[] = [];
      oncalls(
        200,
        {
          oncalls: [oncallEntry({ id: 'PXPGF42', name: 'Dave', email: 'dave@example.com' }, 1)],
          limit: 100,
          offset: 0,
          more: false,
          total: null,
        },
        seen,
      );
      const t = await bot(
        {
          ...onCallPolicy,
          policies: [{ name: 'primary', kinds: ['test.flip'], approvers: ['oncall:schedule:PI7DH85'] }],
        },
        undefined,
        undefined,
        true,
      );
      const action = await request(t);
      assert.match(card(t, action), /waiting for 1 more of on-call of schedule PI7DH85/);
      const bob = await t.click('bob', APPROVE_ACTION, action.id);
      assert.match(textOf(bob[0]), /Only on-call of schedule PI7DH85 can approve test\.flip on payments/);
      assert.deepEqual(await t.click('dave', APPROVE_ACTION, action.id), []);
      await t.bot.idle();
      assert.equal(system.writes, 1);
      assert.deepEqual({ ...seen[0] }, { 'schedule_ids[]': 'PI7DH85', 'include[]': 'users', limit: '100' });
    });

    it('maps an on-call user by email too', async () => {
      const seen: Record<string, unknown>[] = [];
      oncalls(
        200,
        {
          oncalls: [oncallEntry({ id: 'PBOB123', name: 'Bob', email: 'bob@example.com' }, 2)],
          limit: 100,
          offset: 0,
          more: false,
          total: null,
        },
        seen,
      );
      const t = await bot(onCallPolicy, undefined, undefined, true);
      const action = await request(t);
      assert.deepEqual(await t.click('bob', APPROVE_ACTION, action.id), []);
      await t.bot.idle();
      assert.equal(system.writes, 1);
    });

    it('fails closed when PagerDuty is down, and says what the fallback is', async () => {
      const seen: Record<string, unknown>[] = [];
      oncalls(503, { error: { message: 'Service Unavailable', code: 2001 } }, seen);
      const t = await bot(onCallPolicy, undefined, undefined, true);
      const action = await request(t);
      const dave = await t.click('dave', APPROVE_ACTION, action.id);
      assert.match(
        textOf(dave[0]),
        /PagerDuty could not say who is on call for escalation policy PANZZEQ .*so this approval was not counted \(on-call approval fails closed\)\. Break-glass is not allowed for test\.flip/s,
      );
      assert.equal(system.writes, 0);
      assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'requested');
    });

    it('a lead named through a group still approves while PagerDuty is unreachable (asked only for on-call)', async () => {
      const t = await bot({
        ...onCallPolicy,
        policies: [{ kinds: ['test.flip'], approvers: ['oncall:PANZZEQ', '@sre-leads'] }],
      });
      const action = await request(t);
      assert.deepEqual(await t.click('bob', APPROVE_ACTION, action.id), []);
      await t.bot.idle();
      assert.equal(system.writes, 1);
    });

    it('fails closed when PagerDuty is not configured at all', async () => {
      const t = await bot({
        ...onCallPolicy,
        breakGlass: true,
        policies: [{ ...onCallPolicy.policies[0], breakGlass: true }],
      });
      const action = await request(t);
      const dave = await t.click('dave', APPROVE_ACTION, action.id);
      assert.match(
        textOf(dave[0]),
        /PagerDuty REST is not configured .*run the command again with break-glass=/s,
      );
      assert.equal(system.writes, 0);
    });
  });

  it('an approver removed from a Slack group between request and click is refused once the cache lapses', async () => {
    let now = new Date('2026-12-03T10:00:00Z');
    const t = makeTestBot({
      store,
      now: () => now,
      config: testConfig({ access: { groups: GROUPS, policies: [{ approvers: ['@payments-leads'] }] } }),
    });
    bots.push(t);
    t.bot.deps.approvals.register(flipHandler(system));
    t.chat.groups['payments-leads'] = ['U0DAVE', 'U0BOB'];
    const action = await request(t);
    const carol = await t.click('carol', APPROVE_ACTION, action.id); // reads the group: dave is in it
    assert.match(textOf(carol[0]), /Only @payments-leads can approve/);
    t.chat.groups['payments-leads'] = ['U0BOB'];
    now = new Date('2026-12-03T10:00:31Z');
    const dave = await t.click('dave', APPROVE_ACTION, action.id);
    assert.match(textOf(dave[0]), /Only @payments-leads can approve test\.flip on payments/);
    assert.equal(system.writes, 0);
  });

  it('validates policies with the path of the mistake', () => {
    assert.throws(
      () => testConfig({ access: { policies: [{ kinds: ['traffic.shift'], quorom: 2 }, { quorum: 0 }] } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /access\.policies\.0: Unrecognized key: "quorom"/);
        assert.match(err.message, /access\.policies\.1\.quorum: .*>=1/);
        return true;
      },
    );
  });
});
