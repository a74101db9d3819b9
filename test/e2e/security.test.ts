// Tampering and leaks over Slack HTTP: signed requests through the real Bolt receiver, Slack's Web API on nock.
import assert from 'node:assert/strict';
import nock from 'nock';
import { isolatedRedisStore } from '../support/redis.ts';
import { useNock } from '../support/nock.ts';
import { testConfig } from '../support/bot.ts';
import {
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
const PASSWORD = 'pa@ss:w0rd@x';
const DB_URL = `postgres://ledger:${PASSWORD}@db.internal:5432/pay`;
const TOKEN = 'xoxb-777777777777-PINNEDSECRET';

interface Posted {
  channel: string;
  text: string;
  blocks: unknown[];
}

describe('tampering and leaks (signed Slack requests)', () => {
  useNock();
  let store: RedisStore;
  let app: HttpBot;
  let posted: Posted[];

  beforeEach(async () => {
    store = await isolatedRedisStore();
    nockAuthTest();
    posted = [];
    nock(SLACK_API)
      .post('/api/chat.postMessage', (body) => {
        posted.push(webApiBody<Posted>(body));
        return true;
      })
      .optionally()
      .reply(200, {
        ok: true,
        channel: CHANNEL,
        ts: '1764150000.000100',
        message: { ts: '1764150000.000100' },
      })
      .persist();
    nock(SLACK_API).post('/api/pins.add').optionally().reply(200, { ok: true }).persist();
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();
    app = await startHttpBot({ config: testConfig(), store });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
    nock.cleanAll();
  });

  async function command(name: string, text: string) {
    const req = commandBody({ command: name, text, userId: 'U0ALICE', userName: 'alice', channel: CHANNEL });
    const replies: { text: string; blocks?: unknown[] }[] = [];
    const scope = nock(RESPONSE_HOST)
      .post(req.responsePath, (body) => {
        replies.push(body);
        return true;
      })
      .reply(200, { ok: true });
    assert.equal((await app.send(req.body, req.contentType)).status, 200);
    await eventually(() => assert.ok(scope.isDone(), 'the reply was sent to response_url'));
    await app.bot.idle();
    return replies;
  }

  it('redacts ephemeral replies, and a pinned secret before it is stored', async () => {
    await command('/incident', `declare payments sev=1 db ${DB_URL} token ${TOKEN}`);
    nock(SLACK_API)
      .post('/api/conversations.history')
      .reply(200, {
        ok: true,
        messages: [
          { type: 'message', user: 'U0CAROL', text: `try ${DB_URL} with ${TOKEN}`, ts: '1764150123.000200' },
        ],
        has_more: false,
      });
    nock(SLACK_API)
      .post('/api/chat.getPermalink')
      .reply(200, { ok: true, channel: CHANNEL, permalink: 'https://acme.slack.com/archives/C0PAYMENTS/p1' });
    const pin = reactionBody({
      eventId: 'Ev0SECRET',
      reaction: 'pushpin',
      userId: 'U0ALICE',
      channel: CHANNEL,
      ts: '1764150123.000200',
    });
    assert.equal((await app.send(pin.body, pin.contentType)).status, 200);
    await eventually(async () =>
      assert.ok((await app.bot.deps.timeline.read('INC-1')).some((e) => e.kind === 'timeline.pinned')),
    );

    const status = await command('/incident', 'status');
    const timeline = await command('/timeline', '');

    for (const reply of [...status, ...timeline]) {
      const all = JSON.stringify(reply);
      assert.doesNotMatch(all, /PINNEDSECRET|pa@ss|w0rd/, 'no secret in a response_url body');
    }
    assert.match(JSON.stringify(timeline), /postgres:\/\/ledger:\[redacted\]@db\.internal:5432\/pay/);
    const stored = (await app.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'timeline.pinned');
    assert.ok(stored);
    assert.doesNotMatch(
      JSON.stringify(stored),
      /PINNEDSECRET|w0rd/,
      'the pinned text was redacted before storing',
    );
    assert.match(String(stored.data.text), /\[redacted\]/);
  });

  it('escapes user text in the fallback text and strips bidi and zero-width controls', async () => {
    await command(
      '/incident',
      'declare payments <!channel> read <https://evil.example|the runbook> \u202Egnp.exe\u200B',
    );
    const headline = posted[0];
    assert.ok(headline);
    assert.doesNotMatch(headline.text, /<!channel>|<https:/, 'no broadcast or link in the fallback');
    assert.match(headline.text, /&lt;!channel&gt; read &lt;https:\/\/evil\.example\|the runbook&gt;/);
    assert.doesNotMatch(JSON.stringify(posted), /\\u202e|\\u200b|\u202E|\u200B/i, 'no invisible controls');
  });

  it('answers a request signed with a timestamp more than 5 minutes in the future with 401', async () => {
    const req = commandBody({
      command: '/incident',
      text: 'status',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
    });
    let replied = 0;
    nock(RESPONSE_HOST)
      .post(req.responsePath, () => {
        replied += 1;
        return true;
      })
      .optionally()
      .reply(200, { ok: true });
    const future = Math.floor(Date.now() / 1000) + 6 * 60;

    const res = await app.send(req.body, req.contentType, sign(req.body, { timestamp: future }));
    await app.bot.idle();

    assert.equal(res.status, 401);
    assert.equal(replied, 0, 'the command never ran');
    const skewed = commandBody({
      command: '/incident',
      text: 'status',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
    });
    const answered = nock(RESPONSE_HOST).post(skewed.responsePath).reply(200, { ok: true });
    const ok = await app.send(
      skewed.body,
      skewed.contentType,
      sign(skewed.body, { timestamp: Math.floor(Date.now() / 1000) + 60 }),
    );
    assert.equal(ok.status, 200, 'a minute of clock skew is still accepted');
    await eventually(() => assert.ok(answered.isDone()));
  });

  it('shows who acted on the timeline by Slack user id, not by a name the user can set', async () => {
    // alice has renamed herself "bob" in Slack.
    const req = commandBody({
      command: '/incident',
      text: 'declare payments sev=2 checkout errors',
      userId: 'U0ALICE',
      userName: 'bob',
      channel: CHANNEL,
    });
    const declared = nock(RESPONSE_HOST).post(req.responsePath).reply(200, { ok: true });
    await app.send(req.body, req.contentType);
    await eventually(() => assert.ok(declared.isDone()));
    await app.bot.idle();

    const timeline = await command('/timeline', '');

    const lines = JSON.stringify(timeline[0]?.blocks ?? []);
    assert.match(lines, /Z {2}- {2}U0ALICE {2,}/, 'the actor column is the user id');
    assert.doesNotMatch(lines, /Z {2}- {2}bob {2,}/, 'never the self-chosen name');
  });
});
