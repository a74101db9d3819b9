// A new incident channel invites the service's PagerDuty on-call: /oncalls (nock, shaped like PagerDuty) matched to
// Slack users by users.lookupByEmail, over signed slash commands.
import assert from 'node:assert/strict';
import nock from 'nock';
import { PdjsPagerDuty } from '../../src/adapters/pagerduty.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { testConfig } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { PD_API, PD_FROM, PD_TOKEN } from '../support/pagerduty.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import {
  commandBody,
  eventually,
  nockAuthTest,
  RESPONSE_HOST,
  SLACK_API,
  startHttpBot,
  TEAM,
  type HttpBot,
} from '../support/slack.ts';

const WAR_ROOM = 'C0WARROOM';
const NEW_CHANNEL = 'C0INC1PAY';

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
    schedule: null,
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

function slackUser(id: string, name: string, email: string) {
  return {
    ok: true,
    user: {
      id,
      team_id: TEAM,
      name,
      deleted: false,
      real_name: name,
      tz: 'Europe/London',
      is_admin: false,
      is_bot: false,
      profile: { email, real_name: name, display_name: name },
    },
  };
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

describe('incident channel invites the PagerDuty on-call (signed requests, nock)', () => {
  useNock();
  let store: RedisStore;
  let app: HttpBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    nockAuthTest();
    app = await startHttpBot({
      config: testConfig({
        access: { pagerdutyUsers: { PCAROL1: 'U0CAROL' } },
        services: { payments: { responders: ['U0DAVE', 'oncall:PANZZEQ'] }, checkout: {} },
        incident: { channels: { create: true } },
      }),
      store,
      adapters: { pagerduty: new PdjsPagerDuty({ token: PD_TOKEN, from: PD_FROM, retryTimeoutMs: 0 }) },
      // The timeline mirror's 2 s note window is not what these tests check; idle() would wait it out.
      pagerdutyMirror: { batchWindowMs: 0, minCallIntervalMs: 0 },
    });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
    nock.cleanAll();
  });

  async function declare(): Promise<string> {
    const req = commandBody({
      command: '/incident',
      text: 'declare payments sev=1 channel=new Cloud pods OOMKilled',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: WAR_ROOM,
    });
    let text = '';
    const scope = nock(RESPONSE_HOST)
      .post(req.responsePath, (body: { text: string }) => {
        text = body.text;
        return true;
      })
      .reply(200, { ok: true });
    const res = await app.send(req.body, req.contentType);
    assert.equal(res.status, 200);
    await eventually(() => assert.ok(scope.isDone(), 'the reply was sent to response_url'), 20_000);
    await app.bot.idle();
    return text;
  }

  function channelCalls(invited: string[]) {
    nock(SLACK_API)
      .post('/api/conversations.create', (b) => b.name === 'inc-1-payments')
      .reply(200, { ok: true, channel: channelObject(NEW_CHANNEL, 'inc-1-payments') });
    nock(SLACK_API)
      .post('/api/conversations.invite', (b) => {
        invited.push(String(b.users));
        return b.channel === NEW_CHANNEL;
      })
      .reply(200, { ok: true, channel: channelObject(NEW_CHANNEL, 'inc-1-payments') });
    nock(SLACK_API)
      .post('/api/chat.postMessage')
      .reply(200, { ok: true, channel: NEW_CHANNEL, ts: '1764730800.000100', message: {} })
      .persist();
    nock(SLACK_API).post('/api/pins.add').reply(200, { ok: true });
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();
  }

  it('invites whoever PagerDuty has on call: by access.pagerdutyUsers, else by email in Slack', async () => {
    const seen: Record<string, unknown>[] = [];
    nock(PD_API)
      .matchHeader('authorization', `Token token=${PD_TOKEN}`)
      .get('/oncalls')
      .query((q) => {
        seen.push({ ...q });
        return true;
      })
      .reply(200, {
        oncalls: [
          oncallEntry({ id: 'PBOB123', name: 'Bob', email: 'bob@example.com' }, 1),
          oncallEntry({ id: 'PCAROL1', name: 'Carol', email: 'carol@example.com' }, 2),
          oncallEntry({ id: 'PGHOST9', name: 'Ghost', email: 'ghost@example.com' }, 3),
        ],
        limit: 100,
        offset: 0,
        more: false,
        total: null,
      });
    const lookups: string[] = [];
    nock(SLACK_API)
      .post('/api/users.lookupByEmail', (b) => {
        lookups.push(String(b.email));
        return b.email === 'bob@example.com';
      })
      .reply(200, slackUser('U0BOB', 'bob', 'bob@example.com'));
    nock(SLACK_API)
      .post('/api/users.lookupByEmail', (b) => {
        lookups.push(String(b.email));
        return b.email === 'ghost@example.com';
      })
      .reply(200, { ok: false, error: 'users_not_found' });
    const invited: string[] = [];
    channelCalls(invited);

    const reply = await declare();

    assert.deepEqual(seen, [{ 'escalation_policy_ids[]': 'PANZZEQ', 'include[]': 'users', limit: '100' }]);
    assert.deepEqual(lookups, ['bob@example.com', 'ghost@example.com'], 'carol is mapped in the config');
    assert.deepEqual(invited, ['U0ALICE,U0DAVE,U0BOB,U0CAROL']);
    assert.match(reply, /in its own channel <#C0INC1PAY>/);
    assert.match(
      reply,
      /Not invited \(invite them by hand\): Ghost \(on call, ghost@example\.com\) has no Slack account with that email; map PGHOST9 to their Slack id in access\.pagerdutyUsers\./,
    );
  });

  it('declares anyway when PagerDuty is down, inviting the rest and saying who could not be looked up', async () => {
    nock(PD_API)
      .get('/oncalls')
      .query(true)
      .reply(503, { error: { message: 'Service Unavailable', code: 2001 } });
    const invited: string[] = [];
    channelCalls(invited);

    const reply = await declare();

    assert.deepEqual(invited, ['U0ALICE,U0DAVE']);
    assert.match(reply, /Declared \*INC-1\*/);
    assert.match(reply, /Not invited \(invite them by hand\): oncall:PANZZEQ: .*PagerDuty/);
    assert.ok(await app.bot.deps.incidents.active(NEW_CHANNEL));
  });
});
