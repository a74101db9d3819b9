// The two-person approval flow on real Redis: who may approve, expiry, exactly-once under concurrent clicks, restarts.
import assert from 'node:assert/strict';
import type { Action } from '../../src/actions.ts';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/chat/blocks/approval.ts';
import type { ActionHandler } from '../../flows/approval/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { computeChangeHash } from '../../src/actions.ts';
import {
  buttonOnCard,
  CHANNEL,
  makeTestBot,
  testConfig,
  textOf,
  USERS,
  type TestBot,
} from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';

interface Flip {
  to: number;
}

/** A stand-in outside system: a value that only changes when the handler executes. */
function flipHandler(system: {
  value: number;
  writes: number;
  onExecute?: () => Promise<void>;
}): ActionHandler<Flip> {
  return {
    kind: 'test.flip',
    describe: (action) => ({ fields: [['Value', `${String(action.basis)} -> ${action.change.to}`]] }),
    async execute(action, ctx) {
      if (system.value !== action.basis)
        return { ok: false, summary: `value moved from ${String(action.basis)} to ${system.value}` };
      await system.onExecute?.();
      system.writes += 1;
      system.value = action.change.to;
      await ctx.progress(`value set to ${action.change.to}`);
      return { ok: true, summary: `value is ${system.value}` };
    },
    async recheck(action) {
      return system.value === action.change.to
        ? { ok: true, summary: `value is ${system.value} as requested` }
        : { ok: false, summary: `value is still ${system.value}` };
    },
  };
}

describe('approval flow (real Redis)', () => {
  let store: RedisStore;
  let t: TestBot;
  let system: { value: number; writes: number; onExecute?: () => Promise<void> };

  beforeEach(async () => {
    store = await isolatedRedisStore();
    t = makeTestBot({ store });
    system = { value: 1, writes: 0 };
    t.bot.deps.approvals.register(flipHandler(system));
    await t.command('alice', '/incident', 'declare payments');
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
  });

  async function request(breakGlass?: string): Promise<Action<Flip>> {
    const incident = await t.bot.deps.incidents.active(CHANNEL);
    assert.ok(incident);
    const action = await t.bot.deps.approvals.request<Flip>({
      kind: 'test.flip',
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

  it('posts a card whose Approve carries the request id and the keyed change hash, then executes after a second person approves', async () => {
    const action = await request();
    const card = t.chat.latest(action.card ?? { channel: '', ts: '' });
    assert.match(textOf(card), /Approval needed: Flip the value to 2/);
    assert.match(
      textOf(card),
      new RegExp(`"action_id":"${APPROVE_ACTION}","value":"${action.id}\\.[0-9a-f]{32}"`),
    );

    const replies = await t.click('bob', APPROVE_ACTION, action.id);

    assert.deepEqual(replies, []);
    assert.equal(system.value, 2);
    const done = await t.bot.deps.approvals.get(action.id);
    assert.equal(done?.state, 'succeeded');
    assert.deepEqual(
      done?.history.map((h) => h.state),
      ['requested', 'approved', 'executing', 'succeeded'],
    );
    assert.equal(done?.approvals[0]?.actor.id, USERS.bob.id);
    const final = t.chat.latest(action.card ?? { channel: '', ts: '' });
    assert.match(textOf(final), /Done: Flip the value to 2/);
    assert.doesNotMatch(textOf(final), /approval\.approve/, 'no buttons once decided');
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.deepEqual(kinds.slice(1), [
      'action.requested',
      'action.approved',
      'action.executing',
      'action.progress',
      'action.succeeded',
    ]);
    const incident = await t.bot.deps.incidents.get('INC-1');
    assert.equal(incident?.checklist.C.state, 'done');
  });

  it('refuses self-approval, a non-approver and a non-responder, and changes nothing', async () => {
    const action = await request();
    const self = await t.click('alice', APPROVE_ACTION, action.id);
    assert.match(textOf(self[0]), /You requested this change, so a second person must approve it/);
    const carol = await t.click('carol', APPROVE_ACTION, action.id);
    assert.match(textOf(carol[0]), /Only approvers \(@sre-leads\) can approve this change/);
    const mallory = await t.click('mallory', APPROVE_ACTION, action.id);
    assert.match(textOf(mallory[0]), /Only responders can press/);
    assert.equal(system.writes, 0);
    assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'requested');
  });

  it('lets an approver deny and the requester cancel; neither can be approved afterwards', async () => {
    const denied = await request();
    await t.click('bob', DENY_ACTION, denied.id);
    const late = await t.click('dave', APPROVE_ACTION, denied.id);
    assert.match(textOf(late[0]), /This request is denied \(by bob\)/);

    const cancelled = await request();
    await t.click('alice', DENY_ACTION, cancelled.id);
    assert.equal((await t.bot.deps.approvals.get(cancelled.id))?.state, 'cancelled');
    assert.equal(system.writes, 0);
  });

  it('expires a request after access.approvalTtl and refuses to approve it then', async () => {
    let now = new Date('2026-11-26T10:00:00Z');
    const config = testConfig({ access: { approvalTtl: '15m' } });
    const clocked = makeTestBot({ store, config, now: () => now });
    clocked.bot.deps.approvals.register(flipHandler(system));
    await clocked.command('alice', '/incident', 'declare checkout', 'C0OTHER');
    const incident = await clocked.bot.deps.incidents.active('C0OTHER');
    assert.ok(incident);
    const action = await clocked.bot.deps.approvals.request<Flip>({
      kind: 'test.flip',
      incident,
      step: 'C',
      summary: 'Flip',
      basis: 1,
      change: { to: 2 },
      requester: { type: 'user', ...USERS.alice },
    });
    now = new Date('2026-11-26T10:15:01Z');
    const replies = await clocked.click('bob', APPROVE_ACTION, action.id, 'C0OTHER');
    assert.match(textOf(replies[0]), /This request expired at 2026-11-26T10:15:00.000Z/);
    assert.equal((await clocked.bot.deps.approvals.get(action.id))?.state, 'expired');
    assert.equal(system.writes, 0);
  });

  it('executes exactly once when ten approvers on two replicas click at the same moment', async () => {
    // Both replicas see the same Slack channel, so both can press the one card.
    const replica = makeTestBot({ store, instanceId: 'replica-2', chat: t.chat });
    replica.bot.deps.approvals.register(flipHandler(system));
    system.onExecute = () => new Promise((r) => setTimeout(r, 30));
    const action = await request();

    const clicks = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? t : replica).click(i % 4 < 2 ? 'bob' : 'dave', APPROVE_ACTION, action.id),
    );
    const replies = (await Promise.all(clicks)).flat();

    assert.equal(system.writes, 1);
    assert.equal(replies.length, 9, 'every other click is told it was already approved');
    for (const reply of replies) assert.match(textOf(reply), /already (approved|executed)/);
    assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'succeeded');
  });

  it('break-glass executes with one person only when access.breakGlass is true, and says so loudly', async () => {
    await assert.rejects(request('payments down, leads unreachable'), /Break-glass is disabled here/);

    const config = testConfig({ access: { breakGlass: true } });
    const glass = makeTestBot({ store, config });
    glass.bot.deps.approvals.register(flipHandler(system));
    await glass.command('alice', '/incident', 'declare checkout', 'C0GLASS');
    const incident = await glass.bot.deps.incidents.active('C0GLASS');
    assert.ok(incident);
    const action = await glass.bot.deps.approvals.request<Flip>({
      kind: 'test.flip',
      incident,
      step: 'C',
      summary: 'Flip',
      basis: 1,
      change: { to: 2 },
      requester: { type: 'user', ...USERS.alice },
      breakGlass: 'leads unreachable',
    });
    await glass.bot.idle();
    assert.equal((await glass.bot.deps.approvals.get(action.id))?.state, 'succeeded');
    assert.match(textOf(glass.chat.latest(action.card ?? { channel: '', ts: '' })), /BREAK-GLASS/);
    const events = await glass.bot.deps.timeline.read(incident.id);
    assert.ok(events.some((e) => e.kind === 'action.approved' && /BREAK-GLASS/.test(e.summary)));
  });

  it('after a restart, re-checks an action left executing instead of running it again', async () => {
    const action = await request();
    // The approving replica dies mid-change: the write reached the system, the result never reached Redis.
    system.onExecute = () => new Promise(() => {});
    void t.click('bob', APPROVE_ACTION, action.id);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'executing');
    system.value = 2;
    await store.del(`action:${action.id}:lease`);

    const fresh = makeTestBot({ store, instanceId: 'after-restart', chat: t.chat });
    fresh.bot.deps.approvals.register(flipHandler(system));
    await fresh.bot.deps.approvals.recover();
    await fresh.bot.idle();

    const recovered = await fresh.bot.deps.approvals.get(action.id);
    assert.equal(recovered?.state, 'succeeded');
    assert.match(recovered?.result?.summary ?? '', /^After a restart: value is 2 as requested/);
    assert.equal(system.writes, 0, 'the change was not sent again');
  });
  it('a Redis crash right after the approval landed strands nothing: the next sweep executes it once, card and timeline say so', async () => {
    const action = await request();
    // Redis goes away between the approval's write and the execution lease: the approving replica cannot go on.
    const crashing = new Proxy(store, {
      get(target, prop) {
        if (prop === 'acquireLease') return () => Promise.reject(new Error('Connection is closed.'));
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const dying = makeTestBot({ store: crashing, instanceId: 'dying', chat: t.chat });
    dying.bot.deps.approvals.register(flipHandler(system));
    await dying.click('bob', APPROVE_ACTION, action.id);
    assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'approved');
    assert.equal(system.writes, 0);

    const fresh = makeTestBot({ store, instanceId: 'after-restart', chat: t.chat });
    fresh.bot.deps.approvals.register(flipHandler(system));
    await fresh.bot.deps.approvals.recover();
    await fresh.bot.deps.approvals.recover(); // a second sweep finds nothing left to do
    await fresh.bot.idle();

    const done = await fresh.bot.deps.approvals.get(action.id);
    assert.equal(done?.state, 'succeeded');
    assert.equal(system.writes, 1, 'executed exactly once');
    assert.equal(system.value, 2);
    assert.match(
      textOf(fresh.chat.latest(action.card ?? { channel: '', ts: '' })),
      /Done: Flip the value to 2/,
    );
    const events = await fresh.bot.deps.timeline.read('INC-1');
    assert.ok(
      events.some((e) => e.kind === 'action.progress' && /^Resuming after a restart/.test(e.summary)),
    );
    assert.equal(events.filter((e) => e.kind === 'action.succeeded').length, 1);
    const again = await fresh.click('dave', APPROVE_ACTION, action.id);
    assert.match(textOf(again[0]), /already executed/);
  });

  it('an approval stranded past its request expired is failed truthfully: nothing changed, said on card and timeline', async () => {
    let now = new Date('2026-11-26T10:00:00Z');
    const clocked = makeTestBot({ store, now: () => now });
    clocked.bot.deps.approvals.register(flipHandler(system));
    await clocked.command('alice', '/incident', 'declare checkout', 'C0LATE');
    const incident = await clocked.bot.deps.incidents.active('C0LATE');
    assert.ok(incident);
    const action = await clocked.bot.deps.approvals.request<Flip>({
      kind: 'test.flip',
      incident,
      step: 'C',
      summary: 'Flip',
      basis: 1,
      change: { to: 2 },
      requester: { type: 'user', ...USERS.alice },
    });
    const crashing = new Proxy(store, {
      get(target, prop) {
        if (prop === 'acquireLease') return () => Promise.reject(new Error('Connection is closed.'));
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const dying = makeTestBot({ store: crashing, instanceId: 'dying', now: () => now, chat: clocked.chat });
    dying.bot.deps.approvals.register(flipHandler(system));
    await dying.click('bob', APPROVE_ACTION, action.id, 'C0LATE');
    assert.equal((await clocked.bot.deps.approvals.get(action.id))?.state, 'approved');

    now = new Date('2026-11-26T11:00:00Z'); // the bot was down for an hour
    await clocked.bot.deps.approvals.recover();
    await clocked.bot.idle();

    const failed = await clocked.bot.deps.approvals.get(action.id);
    assert.equal(failed?.state, 'failed');
    assert.match(failed?.result?.summary ?? '', /the bot stopped before executing it .* nothing was changed/);
    assert.equal(system.writes, 0);
    assert.match(
      textOf(clocked.chat.latest(action.card ?? { channel: '', ts: '' })),
      /Failed: Flip[\s\S]*nothing was changed/,
    );
    const events = await clocked.bot.deps.timeline.read(incident.id);
    assert.equal(events.filter((e) => e.kind === 'action.failed').length, 1);
  });

  it('an executor whose lease was lost stops before writing, and the replica that took over reports alone', async () => {
    let resume: () => void = () => {};
    const gated: ActionHandler<Flip> = {
      ...flipHandler(system),
      async execute(action, ctx) {
        await new Promise<void>((r) => (resume = r));
        await ctx.progress('writing the value'); // the write follows its progress line
        system.writes += 1;
        system.value = action.change.to;
        return { ok: true, summary: `value is ${system.value}` };
      },
    };
    const stalled = makeTestBot({
      store,
      instanceId: 'stalled',
      actionLease: { ttlMs: 400, renewMs: 50 },
      chat: t.chat,
    });
    stalled.bot.deps.approvals.register(gated);
    const action = await request();
    const clicked = stalled.click('bob', APPROVE_ACTION, action.id);
    for (let i = 0; i < 50 && (await t.bot.deps.approvals.get(action.id))?.state !== 'executing'; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'executing');

    // The lease lapses (a long GC pause, a partition): another replica's sweep takes the action over.
    await store.del(`action:${action.id}:lease`);
    await new Promise((r) => setTimeout(r, 200));
    const other = makeTestBot({ store, instanceId: 'other', chat: t.chat });
    other.bot.deps.approvals.register(flipHandler(system));
    await other.bot.deps.approvals.recover();
    await other.bot.idle();
    resume();
    await clicked;
    await stalled.bot.idle();

    assert.equal(system.writes, 0, 'the executor that lost its lease wrote nothing');
    const final = await t.bot.deps.approvals.get(action.id);
    assert.equal(final?.state, 'failed');
    assert.match(final?.result?.summary ?? '', /^After a restart: value is still 1/);
    const events = await t.bot.deps.timeline.read('INC-1');
    assert.equal(events.filter((e) => /^action\.(succeeded|failed)$/.test(e.kind)).length, 1);
    assert.ok(!events.some((e) => e.summary === 'writing the value'));
  });

  describe('approve what you saw', () => {
    /** What someone with Redis access would do: rewrite the change and re-hash it with the unkeyed SHA-256. */
    async function rewriteInRedis(id: string, to: number): Promise<void> {
      const stored = JSON.parse((await store.get(`action:${id}`)) ?? '{}') as Action<Flip>;
      stored.change = { to };
      stored.changeHash = computeChangeHash(stored.kind, stored.service, stored.basis, stored.change);
      await store.set(`action:${id}`, JSON.stringify(stored));
    }

    it('refuses an approval when the change was rewritten in Redis after the card was posted', async () => {
      const action = await request();
      const shown = textOf(t.chat.latest(action.card ?? { channel: '', ts: '' }));
      assert.match(shown, /1 -> 2/);
      await rewriteInRedis(action.id, 999);

      const replies = await t.click('bob', APPROVE_ACTION, action.id);

      assert.match(
        textOf(replies[0]),
        new RegExp(`The stored change of ${action.id} no longer matches what its card showed`),
      );
      assert.equal(system.writes, 0, 'nothing was executed');
      assert.equal(system.value, 1);
      assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'requested');
      const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
      assert.ok(kinds.includes('action.tamper-refused'), 'the refusal is on the timeline');
      assert.ok(!kinds.includes('action.approved'));
    });

    it('counts a press only from the card itself: its channel and its message', async () => {
      const action = await request();
      const card = action.card;
      assert.ok(card);
      const value = buttonOnCard(t.chat, APPROVE_ACTION, action.id)?.value;
      assert.ok(value);
      const press = async (message?: { channel: string; ts: string }, channel = card.channel) => {
        const replies: string[] = [];
        await t.bot.handleButton({
          actionId: APPROVE_ACTION,
          value,
          user: USERS.bob,
          channel,
          ...(message ? { message } : {}),
          respond: async (m) => {
            replies.push(textOf(m));
          },
        });
        await t.bot.idle();
        return replies;
      };

      const otherMessage = await press({ channel: card.channel, ts: '1700000000.999999' });
      const otherChannel = await press({ channel: 'C0ELSEWHERE', ts: card.ts }, 'C0ELSEWHERE');
      const noMessage = await press(undefined);

      for (const replies of [otherMessage, otherChannel, noMessage]) {
        assert.match(
          replies[0] ?? '',
          new RegExp(`That press did not come from the approval card of ${action.id}`),
        );
      }
      assert.equal(system.writes, 0);
      assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'requested');
      assert.deepEqual(await press(card), [], 'the same press on the card approves');
      assert.equal(system.writes, 1);
    });

    it('refuses an Approve button that carries only the request id (no keyed hash)', async () => {
      const action = await request();
      const card = action.card;
      assert.ok(card);
      const replies: string[] = [];
      await t.bot.handleButton({
        actionId: APPROVE_ACTION,
        value: action.id,
        user: USERS.bob,
        channel: card.channel,
        message: card,
        respond: async (m) => {
          replies.push(textOf(m));
        },
      });
      await t.bot.idle();
      assert.match(replies[0] ?? '', /does not carry the signed hash of the change/);
      assert.equal(system.writes, 0);
    });

    it('signs the card with the secret from the environment, not with anything in Redis', async () => {
      const a = makeTestBot({ store, env: { CLOUD_SAFETY_SECRET: 'one-secret-value' }, chat: t.chat });
      const b = makeTestBot({ store, env: { CLOUD_SAFETY_SECRET: 'another-secret' }, chat: t.chat });
      a.bot.deps.approvals.register(flipHandler(system));
      b.bot.deps.approvals.register(flipHandler(system));
      const action = await request();
      const viaA = (await a.bot.deps.approvals.get(action.id)) as Action;
      assert.notEqual(
        a.bot.deps.keys.mac('approve', viaA.id),
        b.bot.deps.keys.mac('approve', viaA.id),
        'a different secret gives a different binding',
      );
      assert.equal(a.bot.deps.keys.source, 'CLOUD_SAFETY_SECRET');
    });
  });
});
