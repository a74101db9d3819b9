// Fault: the Redis master fails over (Sentinel) while a /contain approval is pending; nothing is lost or doubled.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { RedisStore } from '../../src/store/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
import { awaitFailover, startSentinels, type RedisSentinelSetup } from '../support/redis-topologies.ts';
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

describe('faults: Redis Sentinel fails over while an approval is pending (master, replica, three sentinels)', function () {
  this.timeout(90_000);
  let sentinel: RedisSentinelSetup;
  let store: RedisStore;
  let slack: LocalSlack;
  let r53: Route53Server;
  let app: FaultBot;

  beforeEach(async () => {
    sentinel = await startSentinels();
    store = new RedisStore(
      { kind: 'sentinel', sentinels: sentinel.nodes, name: sentinel.name, waitReplicas: 1 },
      { prefix: `faults:${randomUUID().slice(0, 8)}:` },
    );
    slack = await startLocalSlack({ channel: CHANNEL });
    r53 = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords(60) },
      healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
      syncDelayMs: 0,
    });
    const config = faultConfig();
    app = await startFaultBot({ config, store, slack, adapters: { traffic: localRoute53(config, r53.url) } });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
    await slack.close();
    await r53.stop();
    await sentinel.stop();
  });

  async function command(user: keyof typeof USERS, name: string, text: string): Promise<string> {
    const req = commandRequest(slack, { command: name, text, user: USERS[user], channel: CHANNEL });
    assert.equal((await app.send(req.body, req.contentType)).status, 200);
    await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1), 15_000);
    return slack.repliesTo(req.replyId)[0]?.body.text ?? '';
  }

  async function approveAfter(failover: () => Promise<void>): Promise<void> {
    assert.match(
      await command('alice', '/incident', 'declare payments sev=1 cloud OOM'),
      /Declared \*INC-1\*/,
    );
    assert.match(await command('alice', '/contain', ''), /Approval card posted/);
    const [action] = await app.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(action?.card, 'the card was posted');
    assert.equal(action.state, 'requested');
    const before = await app.bot.deps.timeline.verify('INC-1');

    const oldMaster = await sentinel.masterPort();
    await failover();
    assert.equal(await awaitFailover(sentinel, oldMaster), sentinel.replica.port, 'the replica was promoted');

    // The pending approval, its card and the timeline came through on the promoted replica.
    assert.equal((await app.bot.deps.approvals.get(action.id))?.state, 'requested');
    const after = await app.bot.deps.timeline.verify('INC-1');
    assert.equal(after.verification.ok, true);
    assert.equal(after.events.length, before.events.length, 'no timeline event was lost');

    const approveValue = approveValueOn(slack, action.card.ts);
    const press = buttonRequest(slack, {
      actionId: 'approval.approve',
      value: approveValue,
      user: USERS.bob,
      channel: CHANNEL,
      messageTs: action.card.ts,
    });
    assert.equal((await app.send(press.body, press.contentType)).status, 200);
    await until(
      async () => assert.equal((await app.bot.deps.approvals.get(action.id))?.state, 'succeeded'),
      20_000,
    );
    await app.bot.idle();

    // A second approver is told it already ran; the change is not sent again.
    const late = buttonRequest(slack, {
      actionId: 'approval.approve',
      value: approveValue,
      user: USERS.dave,
      channel: CHANNEL,
      messageTs: action.card.ts,
    });
    await app.send(late.body, late.contentType);
    await until(() => assert.equal(slack.repliesTo(late.replyId).length, 1));
    assert.match(slack.repliesTo(late.replyId)[0]?.body.text ?? '', /already executed \(by bob\)/);
    assert.deepEqual(slack.repliesTo(press.replyId), [], "bob's click that executed gets no error");

    assert.equal(r53.accepted.length, 1, 'exactly one ChangeBatch reached Route 53');
    const done = await app.bot.deps.approvals.get(action.id);
    assert.deepEqual(
      done?.history.map((h) => `${h.state}:${h.actor.name}`),
      ['requested:alice', 'approved:bob', 'executing:cloud-safety', 'succeeded:cloud-safety'],
    );
    const { events, verification } = await app.bot.deps.timeline.verify('INC-1');
    assert.equal(verification.ok, true, 'the hash chain survived the failover');
    const kinds = countKinds(events);
    assert.equal(kinds['action.requested'], 1);
    assert.equal(kinds['action.approved'], 1);
    assert.equal(kinds['traffic.submitted'], 1);
    assert.equal(kinds['action.succeeded'], 1);
  }

  it('SENTINEL FAILOVER: the approve after it executes exactly once', async () => {
    await approveAfter(async () => {
      const port = sentinel.sentinels[0]?.port ?? 0;
      const client = new (await import('ioredis')).Redis({ port, host: '127.0.0.1' });
      try {
        assert.equal(await client.call('SENTINEL', 'FAILOVER', sentinel.name), 'OK');
      } finally {
        client.disconnect();
      }
    });
  });

  it('the master is killed (SIGKILL): every acknowledged write was on the replica, the approve runs once', async () => {
    await approveAfter(async () => {
      const child = sentinel.master.process;
      assert.ok(child);
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
      sentinel.master.process = undefined;
    });
  });
});
