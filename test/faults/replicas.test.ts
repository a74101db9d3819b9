// Fault: two replicas on one Redis receive the very same Approve payload twice each (retries, a proxy replaying it).
import assert from 'node:assert/strict';
import { RedisStore } from '../../src/store/redis.ts';
import { isolatedRedisStore, testRedisUrl } from '../support/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
import { sign } from '../support/slack.ts';
import {
  CHANNEL,
  countKinds,
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  faultConfig,
  localRoute53,
  USERS,
} from './lib/fixtures.ts';
import { buttonRequest, commandRequest, startFaultBot, until, type FaultBot } from './lib/http-bot.ts';
import { approveValueOn, startLocalSlack, type LocalSlack } from './lib/slack-server.ts';

describe('faults: two replicas, the same button payload delivered twice to each', () => {
  let stores: RedisStore[];
  let slack: LocalSlack;
  let r53: Route53Server;
  let replicas: FaultBot[];

  beforeEach(async () => {
    const first = await isolatedRedisStore();
    // The second replica has its own connection to the same Redis and key prefix, as a second pod would.
    stores = [first, new RedisStore(await testRedisUrl(), { prefix: first.prefix })];
    slack = await startLocalSlack({ channel: CHANNEL });
    r53 = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords(10) },
      healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
      syncDelayMs: 0,
    });
    const config = faultConfig();
    replicas = [];
    for (const [i, store] of stores.entries()) {
      replicas.push(
        await startFaultBot({
          config,
          store,
          slack,
          instanceId: `replica-${i}`,
          adapters: { traffic: localRoute53(config, r53.url) },
        }),
      );
    }
  });

  afterEach(async () => {
    for (const r of replicas) await r.stop();
    for (const s of stores) await s.close();
    await slack.close();
    await r53.stop();
  });

  const replica = (i: number): FaultBot => {
    const r = replicas[i];
    assert.ok(r);
    return r;
  };

  async function requestShift(incident = 'INC-1'): Promise<{ id: string; ts: string }> {
    for (const [text, name] of [
      ['declare payments sev=1 cloud OOM', '/incident'],
      ['', '/contain'],
    ] as const) {
      const req = commandRequest(slack, { command: name, text, user: USERS.alice, channel: CHANNEL });
      await replica(0).send(req.body, req.contentType);
      await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1));
    }
    const [action] = await replica(0).bot.deps.approvals.listForIncident(incident);
    assert.ok(action?.card);
    return { id: action.id, ts: action.card.ts };
  }

  /** Posts one exact request (same body, same signature) to replicas 0, 1, 0, 1 at the same moment. */
  function deliverTwiceToEach(body: string, contentType: string): Promise<number[]> {
    const headers = sign(body);
    return Promise.all(
      [0, 1, 0, 1].map(async (i) => (await replica(i).send(body, contentType, headers)).status),
    );
  }

  it('executes one ChangeBatch; the three duplicate deliveries are told it already ran', async () => {
    const { id, ts } = await requestShift();
    const press = buttonRequest(slack, {
      actionId: 'approval.approve',
      value: approveValueOn(slack, ts),
      user: USERS.bob,
      channel: CHANNEL,
      messageTs: ts,
    });
    assert.deepEqual(await deliverTwiceToEach(press.body, press.contentType), [200, 200, 200, 200]);
    await until(async () => assert.equal((await replica(1).bot.deps.approvals.get(id))?.state, 'succeeded'));
    for (const r of replicas) await r.bot.idle();
    await until(() => assert.equal(slack.repliesTo(press.replyId).length, 3));

    assert.equal(r53.accepted.length, 1, 'exactly one ChangeBatch');
    for (const reply of slack.repliesTo(press.replyId)) {
      assert.equal(reply.body.response_type, 'ephemeral');
      assert.match(
        reply.body.text ?? '',
        /This request is already (approved|approved and running|executed) \(by bob\)/,
      );
    }
    const action = await replica(0).bot.deps.approvals.get(id);
    assert.deepEqual(
      action?.approvals.map((a) => a.actor.name),
      ['bob'],
      'one approval recorded, not four',
    );
    const kinds = countKinds(await replica(0).bot.deps.timeline.read('INC-1'));
    assert.equal(kinds['action.approved'], 1);
    assert.equal(kinds['action.executing'], 1);
    assert.equal(kinds['traffic.submitted'], 1);
    assert.equal(kinds['action.succeeded'], 1);
  });

  /** One request; bob's Approve and dave's Deny each delivered twice to each replica at once. Returns who won. */
  async function race(first: 'approve' | 'deny', incident: string): Promise<'succeeded' | 'denied'> {
    const { id, ts } = await requestShift(incident);
    const batchesBefore = r53.accepted.length;
    const approve = buttonRequest(slack, {
      actionId: 'approval.approve',
      value: approveValueOn(slack, ts),
      user: USERS.bob,
      channel: CHANNEL,
      messageTs: ts,
    });
    const deny = buttonRequest(slack, {
      actionId: 'approval.deny',
      value: id,
      user: USERS.dave,
      channel: CHANNEL,
      messageTs: ts,
    });
    const deliveries = [
      () => deliverTwiceToEach(approve.body, approve.contentType),
      () => deliverTwiceToEach(deny.body, deny.contentType),
    ];
    if (first === 'deny') deliveries.reverse();
    await Promise.all(deliveries.map((d) => d()));
    await until(async () => {
      const state = (await replica(0).bot.deps.approvals.get(id))?.state;
      assert.ok(state === 'succeeded' || state === 'denied', `settled (${state})`);
    });
    for (const r of replicas) await r.bot.idle();
    const action = await replica(0).bot.deps.approvals.get(id);
    const events = (await replica(0).bot.deps.timeline.read(incident)).filter((e) => e.data.action === id);
    const kinds = countKinds(events);
    if (action?.state === 'succeeded') {
      assert.equal(r53.accepted.length - batchesBefore, 1);
      assert.equal(kinds['action.denied'], undefined);
      await until(() => assert.equal(slack.repliesTo(approve.replyId).length, 3));
      // Every deny delivery is refused: the request was no longer waiting.
      await until(() => assert.equal(slack.repliesTo(deny.replyId).length, 4));
      for (const r of slack.repliesTo(deny.replyId)) assert.match(r.body.text ?? '', /already/);
    } else {
      assert.equal(action?.state, 'denied');
      assert.equal(r53.accepted.length, batchesBefore, 'a denied request never reaches Route 53');
      assert.equal(kinds['action.approved'], undefined);
      await until(() => assert.equal(slack.repliesTo(approve.replyId).length, 4));
      for (const r of slack.repliesTo(approve.replyId)) assert.match(r.body.text ?? '', /denied \(by dave\)/);
      // One deny delivery won (it is told so); the other three are refused.
      await until(() => assert.equal(slack.repliesTo(deny.replyId).length, 4));
      assert.equal(
        slack.repliesTo(deny.replyId).filter((r) => /stopped; nothing was changed/.test(r.body.text ?? ''))
          .length,
        1,
      );
    }
    assert.equal(
      (kinds['action.approved'] ?? 0) + (kinds['action.denied'] ?? 0),
      1,
      'one decision on the timeline',
    );
    return action.state;
  }

  it('Approve and Deny, each delivered twice to each replica at once: one decision wins, consistently', async () => {
    const winners = [await race('approve', 'INC-1')];
    // A fresh request on a fresh incident (the records back at 20/80), with the Deny deliveries sent first.
    r53.setRecords(DRILL_ZONE, drillRecords(10));
    const resolve = commandRequest(slack, {
      command: '/incident',
      text: 'resolve',
      user: USERS.alice,
      channel: CHANNEL,
    });
    await replica(1).send(resolve.body, resolve.contentType);
    await until(() => assert.equal(slack.repliesTo(resolve.replyId).length, 1));
    winners.push(await race('deny', 'INC-2'));
    process.stdout.write(`      race winners: ${winners.join(', ')}\n`);
  });
});
