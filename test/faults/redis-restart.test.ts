// Fault: Redis (AOF on) restarts while a /contain approval is pending; the bot reconnects and executes it exactly once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { RedisStore } from '../../src/store/redis.ts';
import { startRedis, type RedisServer } from '../support/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
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

describe('faults: Redis restarted while an approval is pending (AOF on, real server)', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let store: RedisStore;
  let slack: LocalSlack;
  let r53: Route53Server;
  let app: FaultBot;

  before(async () => {
    redis = await startRedis({ appendonly: true });
  });

  after(async () => {
    await redis.stop();
    rmSync(redis.dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    store = new RedisStore(redis.url, { prefix: `faults:${randomUUID().slice(0, 8)}:` });
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
  });

  async function command(user: keyof typeof USERS, name: string, text: string): Promise<string> {
    const req = commandRequest(slack, { command: name, text, user: USERS[user], channel: CHANNEL });
    assert.equal((await app.send(req.body, req.contentType)).status, 200);
    await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1));
    return slack.repliesTo(req.replyId)[0]?.body.text ?? '';
  }

  async function readyz(): Promise<number> {
    return (await fetch(`${app.url}/readyz`)).status;
  }

  it('reports 503 on /readyz during the outage, reconnects, executes the approval clicked in the outage once', async () => {
    assert.match(
      await command('alice', '/incident', 'declare payments sev=1 cloud OOM'),
      /Declared \*INC-1\*/,
    );
    assert.match(await command('alice', '/contain', ''), /Approval card posted/);
    const [action] = await app.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(action?.card, 'the card was posted');
    assert.equal(action.state, 'requested');
    assert.equal(await readyz(), 200);

    await redis.stop();
    assert.equal(await readyz(), 503, '/readyz reports the outage');
    const body = await (await fetch(`${app.url}/readyz`)).json();
    assert.equal((body as { status: string }).status, 'unavailable');
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200, 'the process itself is alive');

    // bob approves while Redis is down: Slack gets its ack at once; the work waits in the client's queue.
    const approveValue = approveValueOn(slack, action.card.ts);
    const press = buttonRequest(slack, {
      actionId: 'approval.approve',
      value: approveValue,
      user: USERS.bob,
      channel: CHANNEL,
      messageTs: action.card.ts,
    });
    assert.equal((await app.send(press.body, press.contentType)).status, 200);
    // A command in the outage is acked too, and answered once Redis is back.
    const status = commandRequest(slack, {
      command: '/incident',
      text: 'status',
      user: USERS.carol,
      channel: CHANNEL,
    });
    assert.equal((await app.send(status.body, status.contentType)).status, 200);
    assert.equal(r53.accepted.length, 0, 'nothing is written while the state store is down');

    await redis.restart();
    await until(async () => assert.equal(await readyz(), 200), 15_000);
    await until(
      async () => assert.equal((await app.bot.deps.approvals.get(action.id))?.state, 'succeeded'),
      15_000,
    );
    await app.bot.idle();
    assert.equal(store.redis.status, 'ready', 'the client reconnected by itself');
    await until(() => assert.equal(slack.repliesTo(status.replyId).length, 1));
    assert.match(slack.repliesTo(status.replyId)[0]?.body.text ?? '', /INC-1/);

    // A late second approver is told it already ran; the change is not sent again.
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
    assert.deepEqual(
      r53
        .records(DRILL_ZONE)
        .filter((r) => r.setIdentifier)
        .map((r) => `${r.setIdentifier}=${r.weight}`),
      ['cloud=0', 'legacy=100'],
    );
    const done = await app.bot.deps.approvals.get(action.id);
    assert.deepEqual(
      done?.history.map((h) => `${h.state}:${h.actor.name}`),
      ['requested:alice', 'approved:bob', 'executing:cloud-safety', 'succeeded:cloud-safety'],
    );
    const { events, verification } = await app.bot.deps.timeline.verify('INC-1');
    assert.equal(verification.ok, true, 'the hash chain survived the restart');
    const kinds = countKinds(events);
    assert.equal(kinds['action.requested'], 1);
    assert.equal(kinds['action.approved'], 1);
    assert.equal(kinds['traffic.submitted'], 1);
    assert.equal(kinds['action.succeeded'], 1);
    await until(() => {
      const card = slack.messages.get(action.card?.ts ?? '');
      assert.match(JSON.stringify(card?.blocks), /Done: Shift payments to legacy 100%/);
    });
  });
});
