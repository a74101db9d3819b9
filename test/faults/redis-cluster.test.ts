// The whole bot on a Redis Cluster (three masters): declare, /contain, approve; every script's keys in one slot.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { RedisStore } from '../../src/store/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
import { startCluster, type RedisCluster } from '../support/redis-topologies.ts';
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

describe('Redis Cluster (three masters): the bot end to end', function () {
  this.timeout(60_000);
  let cluster: RedisCluster;
  let store: RedisStore;
  let slack: LocalSlack;
  let r53: Route53Server;
  let app: FaultBot;

  before(async () => {
    cluster = await startCluster();
  });

  after(async () => {
    await cluster.stop();
  });

  beforeEach(async () => {
    store = new RedisStore(
      { kind: 'cluster', nodes: cluster.nodes, waitReplicas: 0 },
      { prefix: `cluster:${randomUUID().slice(0, 8)}:` },
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
  });

  async function command(user: keyof typeof USERS, name: string, text: string): Promise<string> {
    const req = commandRequest(slack, { command: name, text, user: USERS[user], channel: CHANNEL });
    assert.equal((await app.send(req.body, req.contentType)).status, 200);
    await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1), 15_000);
    return slack.repliesTo(req.replyId)[0]?.body.text ?? '';
  }

  it('declares, posts the card, executes the approval once, and keeps a verified chain across slots', async () => {
    assert.match(
      await command('alice', '/incident', 'declare payments sev=1 cloud OOM'),
      /Declared \*INC-1\*/,
    );
    assert.match(await command('alice', '/contain', ''), /Approval card posted/);
    const [action] = await app.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(action?.card, 'the card was posted');

    const approveValue = approveValueOn(slack, action.card.ts);
    const clicks = ['bob', 'dave'].map((user) =>
      buttonRequest(slack, {
        actionId: 'approval.approve',
        value: approveValue,
        user: USERS[user as 'bob' | 'dave'],
        channel: CHANNEL,
        messageTs: action.card?.ts ?? '',
      }),
    );
    await Promise.all(clicks.map((c) => app.send(c.body, c.contentType)));
    await until(
      async () => assert.equal((await app.bot.deps.approvals.get(action.id))?.state, 'succeeded'),
      20_000,
    );
    await app.bot.idle();
    assert.equal(r53.accepted.length, 1, 'two approvers at once, one ChangeBatch');

    const { events, verification } = await app.bot.deps.timeline.verify('INC-1');
    assert.equal(verification.ok, true);
    const kinds = countKinds(events);
    assert.equal(kinds['action.approved'], 1);
    assert.equal(kinds['traffic.submitted'], 1);
    assert.equal(kinds['action.succeeded'], 1);

    // The keys really are spread over the three masters, and each head sits in its stream's slot.
    const masters = await Promise.all(
      cluster.masters.map(async (m) => {
        const { Redis } = await import('ioredis');
        const client = new Redis(m.url);
        try {
          return await client.keys(`*${store.prefix}*`);
        } finally {
          client.disconnect();
        }
      }),
    );
    assert.ok(masters.filter((keys) => keys.length > 0).length >= 2, 'keys live on more than one master');
    const stream = `${store.prefix}timeline:INC-1`;
    const head = `{${stream}}:head`;
    const holder = masters.findIndex((keys) => keys.includes(stream));
    assert.ok(holder >= 0 && masters[holder]?.includes(head), 'the head is on the stream’s master');
  });
});
