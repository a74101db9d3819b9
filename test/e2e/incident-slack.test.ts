// The incident lifecycle over the wire: signed slash commands into Bolt, Slack's Web API answered by nock.
import assert from 'node:assert/strict';
import nock from 'nock';
import { isolatedRedisStore } from '../support/redis.ts';
import { useNock } from '../support/nock.ts';
import { testConfig } from '../support/bot.ts';
import {
  commandBody,
  eventually,
  nockAuthTest,
  RESPONSE_HOST,
  SLACK_API,
  startHttpBot,
  type HttpBot,
  webApiBody,
} from '../support/slack.ts';
import type { RedisStore } from '../../src/store/redis.ts';

const WAR_ROOM = 'C0WARROOM';
const NEW_CHANNEL = 'C0INC1PAY';

interface Reply {
  response_type: string;
  text: string;
  blocks?: unknown[];
}

describe('incident lifecycle over Slack HTTP (signed requests)', () => {
  useNock();
  let store: RedisStore;
  let app: HttpBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    nockAuthTest();
    app = await startHttpBot({
      config: testConfig({
        services: { payments: { announce: 'C0STATUS', responders: ['U0DAVE'] }, checkout: {} },
        incident: { channels: { create: true } },
      }),
      store,
    });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
    nock.cleanAll();
  });

  async function command(text: string, channel: string, user = { id: 'U0ALICE', name: 'alice' }) {
    const req = commandBody({ command: '/incident', text, userId: user.id, userName: user.name, channel });
    const replies: Reply[] = [];
    const scope = nock(RESPONSE_HOST)
      .post(req.responsePath, (body: Reply) => {
        replies.push(body);
        return true;
      })
      .reply(200, { ok: true });
    const res = await app.send(req.body, req.contentType);
    assert.equal(res.status, 200);
    await eventually(() => assert.ok(scope.isDone(), 'the reply was sent to response_url'), 20_000);
    await app.bot.idle();
    return replies;
  }

  function channelObject(id: string, name: string) {
    return {
      id,
      name,
      is_channel: true,
      is_group: false,
      is_im: false,
      created: 1764730800,
      creator: 'U0BOT',
      is_archived: false,
      is_general: false,
      name_normalized: name,
      is_member: true,
      is_private: false,
      topic: { value: '', creator: '', last_set: 0 },
      purpose: { value: '', creator: '', last_set: 0 },
      previous_names: [],
    };
  }

  it('declares into a new channel: name_taken, then created, invited, headline pinned, links posted', async () => {
    const created: Record<string, unknown>[] = [];
    nock(SLACK_API)
      .post('/api/conversations.create', (body) => {
        created.push(body);
        return body.name === 'inc-1-payments';
      })
      .reply(200, { ok: false, error: 'name_taken' });
    nock(SLACK_API)
      .post('/api/conversations.create', (body) => {
        created.push(body);
        return body.name === 'inc-1-payments-2';
      })
      .reply(200, { ok: true, channel: channelObject(NEW_CHANNEL, 'inc-1-payments-2') });
    const invite = nock(SLACK_API)
      .post(
        '/api/conversations.invite',
        (body) => body.channel === NEW_CHANNEL && body.users === 'U0ALICE,U0DAVE',
      )
      .reply(200, { ok: true, channel: channelObject(NEW_CHANNEL, 'inc-1-payments-2') });
    const headline = nock(SLACK_API)
      .post(
        '/api/chat.postMessage',
        (body) => body.channel === NEW_CHANNEL && /^INC-1 payments SEV1 \(active\)/.test(body.text),
      )
      .reply(200, { ok: true, channel: NEW_CHANNEL, ts: '1764730800.000100', message: {} });
    const links = [WAR_ROOM, 'C0STATUS'].map((channel) =>
      nock(SLACK_API)
        .post(
          '/api/chat.postMessage',
          (body) =>
            body.channel === channel &&
            /^INC-1 declared on payments \(SEV1\)/.test(body.text) &&
            JSON.stringify(webApiBody(body).blocks).includes('<#C0INC1PAY>'),
        )
        .reply(200, { ok: true, channel, ts: '1764730800.000200', message: {} }),
    );
    const pin = nock(SLACK_API)
      .post('/api/pins.add', (body) => body.channel === NEW_CHANNEL)
      .reply(200, { ok: true });
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();

    const replies = await command('declare payments sev=1 Cloud pods OOMKilled', WAR_ROOM);

    assert.deepEqual(
      created.map((b) => [b.name, b.is_private]),
      [
        ['inc-1-payments', 'false'],
        ['inc-1-payments-2', 'false'],
      ],
    );
    assert.ok(invite.isDone(), 'declarer and responders invited');
    assert.ok(headline.isDone(), 'headline posted in the new channel');
    assert.ok(pin.isDone(), 'headline pinned in the new channel');
    assert.ok(
      links.every((l) => l.isDone()),
      'a link where it was declared and in the announcement channel',
    );
    assert.match(replies[0]?.text ?? '', /in its own channel <#C0INC1PAY>/);
  });

  it('hands commander over with an escaped mention, checked with users.info; refuses an unknown user', async () => {
    nock(SLACK_API)
      .post('/api/chat.postMessage')
      .reply(200, { ok: true, channel: WAR_ROOM, ts: '1764730800.000100', message: {} });
    nock(SLACK_API).post('/api/pins.add').reply(200, { ok: true });
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();
    await command('declare payments channel=here Cloud pods OOMKilled', WAR_ROOM);

    nock(SLACK_API)
      .post('/api/users.info', (body) => body.user === 'U0GHOST')
      .reply(200, { ok: false, error: 'user_not_found' });
    const refused = await command('role commander <@U0GHOST|ghost>', WAR_ROOM);
    assert.match(refused[0]?.text ?? '', /is not a person in this workspace/);
    assert.equal((await app.bot.deps.incidents.get('INC-1'))?.commander.id, 'U0ALICE');

    nock(SLACK_API)
      .post('/api/users.info', (body) => body.user === 'U0BOB')
      .reply(200, {
        ok: true,
        user: { id: 'U0BOB', team_id: 'T0TEAM', name: 'bob', deleted: false, is_bot: false },
      });
    const replies = await command('role commander <@U0BOB|bob>', WAR_ROOM);

    assert.match(replies[0]?.text ?? '', /<@U0BOB> is now commander of \*INC-1\*/);
    assert.equal((await app.bot.deps.incidents.get('INC-1'))?.commander.id, 'U0BOB');
    const events = await app.bot.deps.timeline.read('INC-1');
    assert.equal(events.at(-1)?.kind, 'incident.role_assigned');
  });
});
