// /contain over Slack HTTP: signed command and button requests from different users into two replicas on real Redis.
import assert from 'node:assert/strict';
import nock from 'nock';
import { computeChangeHash, type Action } from '../../src/actions.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import {
  fakeClock,
  forbidAws,
  nockChange,
  nockGetChange,
  nockList,
  pair,
  trafficAdapters,
  trafficConfig,
} from '../support/aws.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import type { ChangeBatch } from '../../src/drill/route53-xml.ts';
import {
  buttonBody,
  commandBody,
  eventually,
  nockAuthTest,
  RESPONSE_HOST,
  SLACK_API,
  startHttpBot,
  webApiBody,
  type HttpBot,
} from '../support/slack.ts';

const CHANNEL = 'C0PAYMENTS';
const USERS = {
  alice: { id: 'U0ALICE', name: 'alice' },
  bob: { id: 'U0BOB', name: 'bob' },
  carol: { id: 'U0CAROL', name: 'carol' },
  dave: { id: 'U0DAVE', name: 'dave' },
};

interface Posted {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  thread_ts?: string;
}

describe('/contain over Slack HTTP (signed requests, two replicas, real Redis)', () => {
  useNock();
  let store: RedisStore;
  let apps: HttpBot[];
  let posted: Posted[];
  let updates: Posted[];

  beforeEach(async () => {
    store = await isolatedRedisStore();
    nockAuthTest();
    posted = [];
    updates = [];
    let seq = 100;
    nock(SLACK_API)
      .post('/api/chat.postMessage', (body) => {
        seq += 1;
        posted.push({ ...webApiBody<Posted>(body), ts: `1764150000.000${seq}` });
        return true;
      })
      .reply(200, () => {
        const ts = posted.at(-1)?.ts ?? '';
        return { ok: true, channel: CHANNEL, ts, message: { ts } };
      })
      .persist();
    nock(SLACK_API).post('/api/pins.add').optionally().reply(200, { ok: true }).persist();
    nock(SLACK_API)
      .post('/api/chat.update', (body) => {
        updates.push(webApiBody<Posted>(body));
        return true;
      })
      .optionally()
      .reply(200, { ok: true, channel: CHANNEL })
      .persist();
    const config = trafficConfig();
    const clock = fakeClock();
    apps = [];
    for (const instanceId of ['replica-a', 'replica-b']) {
      apps.push(
        await startHttpBot({
          config,
          store,
          adapters: { traffic: trafficAdapters(config, clock).traffic },
          instanceId,
          now: clock.now,
        }),
      );
    }
  });

  afterEach(async () => {
    for (const app of apps) await app.stop();
    await store.close();
    nock.cleanAll();
  });

  const app = (i = 0): HttpBot => {
    const a = apps[i];
    assert.ok(a);
    return a;
  };

  async function command(user: keyof typeof USERS, name: string, text: string): Promise<{ text: string }[]> {
    const req = commandBody({
      command: name,
      text,
      userId: USERS[user].id,
      userName: USERS[user].name,
      channel: CHANNEL,
    });
    const replies: { text: string }[] = [];
    const scope = nock(RESPONSE_HOST)
      .post(req.responsePath, (body) => {
        replies.push(body);
        return true;
      })
      .reply(200, { ok: true });
    assert.equal((await app().send(req.body, req.contentType)).status, 200);
    await eventually(() => assert.ok(scope.isDone(), 'the reply was sent to response_url'));
    await app().bot.idle();
    return replies;
  }

  /** A signed Approve press; resolves with the ephemeral replies it got (none for the click that executes). */
  async function press(
    user: keyof typeof USERS,
    actionId: string,
    value: string,
    replica = 0,
    messageTs = '1764150000.000102',
  ) {
    const req = buttonBody({
      actionId,
      value,
      userId: USERS[user].id,
      userName: USERS[user].name,
      channel: CHANNEL,
      messageTs,
    });
    const replies: { text: string }[] = [];
    nock(RESPONSE_HOST)
      .post(req.responsePath)
      .optionally()
      .reply(200, { ok: true })
      // 'request' fires only for this press's own response_url (body matchers run for every request).
      .on('request', (_req: unknown, _interceptor: unknown, body: string) => {
        replies.push(JSON.parse(body) as { text: string });
      });
    const res = await app(replica).send(req.body, req.contentType);
    assert.equal(res.status, 200);
    return replies;
  }

  /** The card's request id, its ts, and the value its Approve button carries (id and keyed change hash). */
  function cardOf(): { actionId: string; ts: string; approveValue: string } {
    const card = posted.find((p) => /Approval needed/.test(p.text));
    assert.ok(card, 'the approval card was posted');
    const id = /\((act-[0-9a-f]{8})\)/.exec(card.text)?.[1];
    assert.ok(id);
    const value = new RegExp(`"action_id":"approval.approve","value":"(${id}\\.[0-9a-f]{32})"`).exec(
      JSON.stringify(card.blocks),
    )?.[1];
    assert.ok(value, 'the Approve button carries the keyed change hash');
    return { actionId: id, ts: card.ts, approveValue: value };
  }

  it('posts the card, refuses the requester and a non-approver, and ten concurrent approvals write one ChangeBatch', async () => {
    await command('alice', '/incident', 'declare payments sev=1 cloud OOM');
    nockList(pair());
    const replies = await command('alice', '/contain', 'payments');
    assert.match(
      replies[0]?.text ?? '',
      /Approval card posted for \*Shift payments to legacy 100% \(Route 53\)\*/,
    );
    const card = posted.find((p) => /Approval needed/.test(p.text));
    assert.ok(card);
    const blocks = JSON.stringify(card.blocks);
    assert.match(blocks, /legacy 20 \/ cloud 80 \(20% \/ 80%\)\\n→ \*legacy 100 \/ cloud 0 \(100% \/ 0%\)\*/);
    assert.match(blocks, /api\.payments\.example\.com\. A \(zone Z0PAYMENTS1234567890\)/);
    const { actionId, ts, approveValue } = cardOf();
    assert.match(blocks, new RegExp(`"action_id":"approval.approve","value":"${actionId}\\.[0-9a-f]{32}"`));

    const self = await press('alice', 'approval.approve', approveValue, 0, ts);
    await eventually(() => assert.equal(self.length, 1));
    assert.match(
      self[0]?.text ?? '',
      /You requested this change, so a second person must approve it \(@sre-leads\)/,
    );
    const carol = await press('carol', 'approval.approve', approveValue, 1, ts);
    await eventually(() => assert.equal(carol.length, 1));
    assert.match(carol[0]?.text ?? '', /Only approvers \(@sre-leads\) can approve this change/);

    nockList(pair());
    const batches: ChangeBatch[] = [];
    nockChange(batches);
    nockGetChange(['INSYNC']);
    const clicks = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        press(i % 2 === 0 ? 'bob' : 'dave', 'approval.approve', approveValue, i % 2, ts),
      ),
    );
    await eventually(async () =>
      assert.equal((await app().bot.deps.approvals.get(actionId))?.state, 'succeeded'),
    );
    for (const a of apps) await a.bot.idle();
    await eventually(() => assert.equal(clicks.flat().length, 9, 'every losing click is told why'));

    assert.equal(batches.length, 1, 'exactly one ChangeBatch');
    for (const reply of clicks.flat()) assert.match(reply.text, /already (approved|executed)/);
    const action = await app().bot.deps.approvals.get(actionId);
    assert.deepEqual(
      action?.history.map((h) => h.state),
      ['requested', 'approved', 'executing', 'succeeded'],
    );
    const events = await app().bot.deps.timeline.read('INC-1');
    assert.equal(events.filter((e) => e.kind === 'traffic.submitted').length, 1);
    assert.equal(events.filter((e) => e.kind === 'action.approved').length, 1);
    const last = updates.filter((u) => u.ts === ts).at(-1);
    assert.ok(last, 'the card was edited in place');
    assert.match(JSON.stringify(last.blocks), /Done: Shift payments to legacy 100%/);
    assert.match(JSON.stringify(last.blocks), /in sync 10:00:02Z \(C2682N5HXP0BZ4\)/);
  });

  it('refuses the approval when the change was rewritten in Redis after the card showed legacy 100%', async () => {
    await command('alice', '/incident', 'declare payments sev=1 cloud OOM');
    nockList(pair());
    await command('alice', '/contain', 'payments');
    const { actionId, ts, approveValue } = cardOf();
    // Someone with Redis access turns "legacy 100" into "legacy 1" and re-hashes it the way the code does.
    const stored = JSON.parse((await store.get(`action:${actionId}`)) ?? '{}') as Action<{
      legacyPercent: number;
      layers: { to: { legacy: number; cloud: number } }[];
    }>;
    stored.change.legacyPercent = 1;
    for (const layer of stored.change.layers) layer.to = { legacy: 1, cloud: 99 };
    stored.changeHash = computeChangeHash(stored.kind, stored.service, stored.basis, stored.change);
    await store.set(`action:${actionId}`, JSON.stringify(stored));

    const guard = forbidAws();
    let replies: { text: string }[];
    try {
      replies = await press('bob', 'approval.approve', approveValue, 1, ts);
      await eventually(() => assert.equal(replies.length, 1));
      for (const a of apps) await a.bot.idle();
    } finally {
      guard.stop();
    }

    assert.match(replies[0]?.text ?? '', /no longer matches what its card showed/);
    assert.deepEqual(guard.calls, [], 'Route 53 was never called');
    assert.equal((await app().bot.deps.approvals.get(actionId))?.state, 'requested');
  });

  it('counts a press only from the card itself: the same button value from another message does nothing', async () => {
    await command('alice', '/incident', 'declare payments sev=1 cloud OOM');
    nockList(pair());
    await command('alice', '/contain', 'payments');
    const { actionId, approveValue } = cardOf();
    const guard = forbidAws();
    let replies: { text: string }[];
    try {
      replies = await press('bob', 'approval.approve', approveValue, 0, '1764159999.000001');
      await eventually(() => assert.equal(replies.length, 1));
    } finally {
      guard.stop();
    }
    assert.match(
      replies[0]?.text ?? '',
      new RegExp(`That press did not come from the approval card of ${actionId}`),
    );
    assert.deepEqual(guard.calls, []);
    assert.equal((await app().bot.deps.approvals.get(actionId))?.state, 'requested');
  });

  it('answers a bad legacy= ephemerally with the usage, and calls no AWS API', async () => {
    await command('alice', '/incident', 'declare payments');
    const guard = forbidAws();
    let replies: { text: string }[];
    try {
      replies = await command('alice', '/contain', 'legacy=abc');
    } finally {
      guard.stop();
    }
    assert.match(replies[0]?.text ?? '', /legacy="abc" is not a percentage/);
    assert.match(replies[0]?.text ?? '', /\/contain \[service\] \[legacy=&lt;1-100, default 100&gt;\]/);
    assert.deepEqual(guard.calls, []);
    assert.equal(posted.filter((p) => /Approval needed/.test(p.text)).length, 0);
  });
});
