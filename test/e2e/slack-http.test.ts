// The whole app in HTTP mode: signed requests into the real Bolt receiver, Slack's Web API answered by nock.
import assert from 'node:assert/strict';
import nock from 'nock';
import { isolatedRedisStore } from '../support/redis.ts';
import { useNock } from '../support/nock.ts';
import { testConfig } from '../support/bot.ts';
import {
  buttonBody,
  commandBody,
  eventually,
  nockAuthTest,
  reactionBody,
  RESPONSE_HOST,
  sign,
  SLACK_API,
  startHttpBot,
  type HttpBot,
  webApiBody,
} from '../support/slack.ts';
import type { RedisStore } from '../../src/store/redis.ts';

const CHANNEL = 'C0PAYMENTS';

interface PostedBody {
  channel: string;
  text: string;
  blocks: { type: string; text?: { text: string }; elements?: { text: string }[] }[];
}

function blocksText(body: PostedBody): string {
  return JSON.stringify(body.blocks);
}

describe('Slack HTTP mode (signed requests through Bolt)', () => {
  useNock();
  let store: RedisStore;
  let app: HttpBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    nockAuthTest();
    app = await startHttpBot({ config: testConfig(), store });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
    nock.cleanAll();
  });

  async function command(text: string, user = { id: 'U0ALICE', name: 'alice' }, name = '/incident') {
    const req = commandBody({ command: name, text, userId: user.id, userName: user.name, channel: CHANNEL });
    const replies: { response_type: string; text: string; blocks?: unknown[] }[] = [];
    const scope = nock(RESPONSE_HOST)
      .post(req.responsePath, (body) => {
        replies.push(body);
        return true;
      })
      .reply(200, { ok: true });
    const res = await app.send(req.body, req.contentType);
    assert.equal(res.status, 200);
    await eventually(() => assert.ok(scope.isDone(), 'the reply was sent to response_url'));
    await app.bot.idle();
    return replies;
  }

  it('declares an incident: posts the headline with the checklist, pins it, replies ephemerally', async () => {
    const posted: PostedBody[] = [];
    const updates: PostedBody[] = [];
    nock(SLACK_API)
      .post('/api/chat.postMessage', (body) => {
        posted.push(webApiBody<PostedBody>(body));
        return true;
      })
      .reply(200, {
        ok: true,
        channel: CHANNEL,
        ts: '1764150000.000100',
        message: { ts: '1764150000.000100' },
      });
    const pin = nock(SLACK_API)
      .post('/api/pins.add', (body) => body.channel === CHANNEL && body.timestamp === '1764150000.000100')
      .reply(200, { ok: true });
    nock(SLACK_API)
      .post('/api/chat.update', (body) => {
        updates.push(webApiBody<PostedBody>(body));
        return true;
      })
      .optionally()
      .reply(200, { ok: true, channel: CHANNEL, ts: '1764150000.000100' })
      .persist();

    const replies = await command('declare payments sev=1 Cloud pods OOMKilled, payments failing');

    assert.equal(posted.length, 1);
    const headline = posted[0];
    assert.ok(headline);
    assert.equal(headline.channel, CHANNEL);
    assert.match(headline.text, /INC-1 payments SEV1 \(active\): Cloud pods OOMKilled, payments failing/);
    assert.equal(headline.blocks[0]?.type, 'header');
    const text = blocksText(headline);
    for (const step of [
      'Contain the blast radius',
      'Log telemetry',
      'Orchestrate clean-state rollback',
      'Uncover the root cause offline',
      'Develop automated circuit breakers',
    ]) {
      assert.ok(text.includes(step), `checklist lists ${step}`);
    }
    assert.match(text, /<@U0ALICE>/, 'commander is the declarer');
    assert.ok(pin.isDone(), 'headline pinned');
    assert.equal(replies[0]?.response_type, 'ephemeral');
    assert.match(replies[0]?.text ?? '', /Declared \*INC-1\*/);
    const events = await app.bot.deps.timeline.read('INC-1');
    assert.equal(events[0]?.kind, 'incident.declared');
    assert.equal(events[0]?.actor.id, 'U0ALICE');
  });

  it('answers a forged signature with 401 and does nothing', async () => {
    const req = commandBody({
      command: '/incident',
      text: 'declare payments',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
    });
    const res = await app.send(req.body, req.contentType, sign(req.body, { secret: 'not-the-secret' }));
    assert.equal(res.status, 401);
    await app.bot.idle();
    assert.equal(await app.bot.deps.incidents.active(CHANNEL), null);
  });

  it('answers a signature older than five minutes with 401 and does nothing', async () => {
    const req = commandBody({
      command: '/incident',
      text: 'declare payments',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
    });
    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    const res = await app.send(req.body, req.contentType, sign(req.body, { timestamp: stale }));
    assert.equal(res.status, 401);
    await app.bot.idle();
    assert.equal(await app.bot.deps.incidents.active(CHANNEL), null);
  });

  it('refuses a user who is not a responder, ephemerally, and writes nothing', async () => {
    const replies = await command('declare payments', { id: 'U0MALLORY', name: 'mallory' });
    assert.equal(replies[0]?.response_type, 'ephemeral');
    assert.match(replies[0]?.text ?? '', /Only responders can run cloud-safety commands/);
    assert.equal(await app.bot.deps.incidents.active(CHANNEL), null);
    assert.deepEqual(await app.bot.deps.incidents.listAll(), []);
  });

  it('rejects an unknown service with the configured ones and the usage', async () => {
    const replies = await command('declare paymnts');
    assert.match(
      replies[0]?.text ?? '',
      /Unknown service "paymnts"\. Configured services: payments, checkout\./,
    );
    assert.match(replies[0]?.text ?? '', /\/incident declare &lt;service&gt;/);
    assert.deepEqual(await app.bot.deps.incidents.listAll(), []);
  });

  it('puts a reacted message on the timeline once, even when Slack retries the event', async () => {
    nock(SLACK_API)
      .post('/api/chat.postMessage')
      .reply(200, { ok: true, channel: CHANNEL, ts: '1764150000.000100' });
    nock(SLACK_API).post('/api/pins.add').reply(200, { ok: true });
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();
    await command('declare payments');
    const history = nock(SLACK_API)
      .post(
        '/api/conversations.history',
        (body) => body.channel === CHANNEL && body.latest === '1764150123.000200',
      )
      .reply(200, {
        ok: true,
        messages: [
          {
            type: 'message',
            user: 'U0CAROL',
            text: 'heap at 97% on payments-7f9c, OOMKilled x3',
            ts: '1764150123.000200',
          },
        ],
        has_more: false,
      });
    const permalink = nock(SLACK_API).post('/api/chat.getPermalink').reply(200, {
      ok: true,
      channel: CHANNEL,
      permalink: 'https://acme.slack.com/archives/C0PAYMENTS/p1764150123000200',
    });

    const event = reactionBody({
      eventId: 'Ev0PIN1',
      reaction: 'pushpin',
      userId: 'U0ALICE',
      channel: CHANNEL,
      ts: '1764150123.000200',
    });
    assert.equal((await app.send(event.body, event.contentType)).status, 200);
    await eventually(() => assert.ok(permalink.isDone() && history.isDone()));
    await app.bot.idle();
    // Slack's retry of the same delivery, and a second person's pushpin on the same message.
    await app.send(event.body, event.contentType, {
      ...sign(event.body),
      'x-slack-retry-num': '1',
      'x-slack-retry-reason': 'http_timeout',
    });
    const again = reactionBody({
      eventId: 'Ev0PIN2',
      reaction: 'pushpin',
      userId: 'U0CAROL',
      channel: CHANNEL,
      ts: '1764150123.000200',
    });
    await app.send(again.body, again.contentType);
    await app.bot.idle();

    const pins = (await app.bot.deps.timeline.read('INC-1')).filter((e) => e.kind === 'timeline.pinned');
    assert.equal(pins.length, 1);
    assert.equal(pins[0]?.data.permalink, 'https://acme.slack.com/archives/C0PAYMENTS/p1764150123000200');
    assert.equal(pins[0]?.data.originalAt, new Date(1764150123000).toISOString());
    assert.match(pins[0]?.summary ?? '', /heap at 97%/);
  });

  it('serves /healthz, /readyz and /metrics on the same port', async () => {
    const health = await fetch(`http://127.0.0.1:${app.port}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`http://127.0.0.1:${app.port}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { store: string }).store, 'redis');
    await command('status');
    const metrics = await (await fetch(`http://127.0.0.1:${app.port}/metrics`)).text();
    assert.match(metrics, /cloud_safety_commands_total\{command="\/incident",outcome="usage"\} 1/);
    assert.match(metrics, /cloud_safety_ack_seconds_count\{kind="command"\} 1/);
  });

  it('tells a button press from a non-approver why it did nothing', async () => {
    const req = buttonBody({
      actionId: 'approval.approve',
      value: 'act-0000beef',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
      messageTs: '1764150000.000900',
    });
    const replies: { text: string }[] = [];
    nock(RESPONSE_HOST)
      .post(req.responsePath, (body) => {
        replies.push(body);
        return true;
      })
      .reply(200, { ok: true });
    assert.equal((await app.send(req.body, req.contentType)).status, 200);
    await eventually(() => assert.equal(replies.length, 1));
    assert.match(replies[0]?.text ?? '', /There is no request act-0000beef/);
  });
});

describe('Slack user groups in access lists', () => {
  useNock();

  it('resolves @handles through usergroups.list, once, and lets members in', async () => {
    const store = await isolatedRedisStore();
    nockAuthTest();
    const list = nock(SLACK_API)
      .post('/api/usergroups.list', (body) => body.include_users === 'true')
      .reply(200, {
        ok: true,
        usergroups: [
          {
            id: 'S0ONCALL',
            team_id: 'T0TEAM',
            is_usergroup: true,
            name: 'SRE on-call',
            handle: 'sre-oncall',
            users: ['U0ERIN'],
            user_count: 1,
          },
          {
            id: 'S0LEADS',
            team_id: 'T0TEAM',
            is_usergroup: true,
            name: 'SRE leads',
            handle: 'sre-leads',
            users: ['U0FRANK'],
            user_count: 1,
          },
        ],
      });
    const config = testConfig({ access: { groups: {} } });
    const app = await startHttpBot({ config, store });
    try {
      for (const user of [
        { id: 'U0ERIN', name: 'erin' },
        { id: 'U0MALLORY', name: 'mallory' },
      ]) {
        const req = commandBody({
          command: '/incident',
          text: 'status',
          userId: user.id,
          userName: user.name,
          channel: 'C0GROUPS',
        });
        const replies: { text: string }[] = [];
        nock(RESPONSE_HOST)
          .post(req.responsePath, (b) => {
            replies.push(b);
            return true;
          })
          .reply(200, { ok: true });
        await app.send(req.body, req.contentType);
        await eventually(() => assert.equal(replies.length, 1));
        if (user.id === 'U0ERIN') assert.match(replies[0]?.text ?? '', /This channel has no active incident/);
        else assert.match(replies[0]?.text ?? '', /Only responders can run cloud-safety commands/);
      }
      assert.ok(list.isDone());
    } finally {
      await app.stop();
      await store.close();
    }
  });
});
