// The App Home's viewers are pruned (signed Slack events, Web API by nock): not opened for 30 days, no longer a
// responder, or gone from the workspace; the rest keep getting the tab republished.
import assert from 'node:assert/strict';
import nock from 'nock';
import type { RedisStore } from '../../src/store/redis.ts';
import { testConfig } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
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

const CHANNEL = 'C0WARROOM';
const DAY = 24 * 60 * 60_000;

function usergroups(users: string[]) {
  return {
    ok: true,
    usergroups: [
      {
        id: 'S0614TZR7',
        team_id: TEAM,
        is_usergroup: true,
        name: 'Payments on-call',
        description: '',
        handle: 'payments-oncall',
        is_external: false,
        date_create: 1446746793,
        date_update: 1764730800,
        date_delete: 0,
        auto_type: null,
        created_by: 'U0ALICE',
        updated_by: 'U0ALICE',
        deleted_by: null,
        prefs: { channels: [], groups: [] },
        users,
        user_count: users.length,
      },
    ],
  };
}

describe('App Home viewers are pruned (signed HTTP events)', () => {
  useNock();
  let store: RedisStore;
  let app: HttpBot;
  let clock: number;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    clock = Date.parse('2026-11-01T09:00:00Z');
    nockAuthTest();
    app = await startHttpBot({
      config: testConfig({
        access: { responders: ['@payments-oncall'], groups: { 'sre-leads': ['U0BOB'] } },
      }),
      store,
      now: () => new Date(clock),
    });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
    nock.cleanAll();
  });

  async function opened(user: string, published: string[]): Promise<void> {
    const event = JSON.stringify({
      token: 'legacy-verification-token',
      team_id: TEAM,
      api_app_id: 'A0APP',
      event: {
        type: 'app_home_opened',
        user,
        channel: `D${user}`,
        tab: 'home',
        event_ts: `${clock / 1000}.000100`,
      },
      type: 'event_callback',
      event_id: `Ev${user}${clock}`,
      event_time: Math.floor(clock / 1000),
      authorizations: [
        { enterprise_id: null, team_id: TEAM, user_id: 'U0BOT', is_bot: true, is_enterprise_install: false },
      ],
    });
    const before = published.length;
    assert.equal((await app.send(event, 'application/json')).status, 200);
    await eventually(() => assert.equal(published.length, before + 1), 20_000);
  }

  it('drops viewers unseen for 30 days, no longer responders, or gone; republishes to the rest', async () => {
    const published: string[] = [];
    let frankGone = false;
    // nock 15 hands the reply function the Fetch Request; the Web API client posts a form.
    nock(SLACK_API)
      .post('/api/views.publish')
      .reply(200, async (request: Request) => {
        const user = new URLSearchParams(await request.text()).get('user_id') ?? '';
        published.push(user);
        return user === 'U0FRANK' && frankGone
          ? { ok: false, error: 'user_not_found' }
          : { ok: true, view: { id: 'V0HOME' } };
      })
      .persist();
    nock(SLACK_API)
      .post('/api/usergroups.list')
      .reply(200, usergroups(['U0ALICE', 'U0CAROL', 'U0ERIN', 'U0FRANK']));
    await opened('U0ERIN', published);

    clock += 20 * DAY;
    for (const user of ['U0ALICE', 'U0CAROL', 'U0FRANK']) await opened(user, published);

    clock += 11 * DAY;
    nock(SLACK_API)
      .post('/api/usergroups.list')
      .reply(200, usergroups(['U0ALICE', 'U0ERIN', 'U0FRANK']))
      .persist();
    // Slack tells the app carol left the group.
    const changed = JSON.stringify({
      token: 'legacy-verification-token',
      team_id: TEAM,
      api_app_id: 'A0APP',
      event: {
        type: 'subteam_members_changed',
        subteam_id: 'S0614TZR7',
        team_id: TEAM,
        date_previous_update: 1446670362,
        date_update: Math.floor(clock / 1000),
        added_users: [],
        added_users_count: '0',
        removed_users: ['U0CAROL'],
        removed_users_count: '1',
        event_ts: `${clock / 1000}.000300`,
      },
      type: 'event_callback',
      event_id: 'Ev0GROUPCHANGE',
      event_time: Math.floor(clock / 1000),
      authorizations: [
        { enterprise_id: null, team_id: TEAM, user_id: 'U0BOT', is_bot: true, is_enterprise_install: false },
      ],
    });
    assert.equal((await app.send(changed, 'application/json')).status, 200);
    await app.bot.idle();
    // Frank's account was deactivated: Slack answers views.publish with user_not_found.
    frankGone = true;
    nock(SLACK_API)
      .post('/api/chat.postMessage')
      .reply(200, { ok: true, channel: CHANNEL, ts: '1764730800.000100', message: {} });
    nock(SLACK_API).post('/api/pins.add').reply(200, { ok: true });
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();
    published.length = 0;
    const req = commandBody({
      command: '/incident',
      text: 'declare payments channel=here Cloud pods OOMKilled',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
    });
    const reply = nock(RESPONSE_HOST).post(req.responsePath).reply(200, { ok: true });
    await app.send(req.body, req.contentType);
    await eventually(() => assert.ok(reply.isDone()), 20_000);
    await app.bot.idle();
    await eventually(async () => {
      assert.deepEqual((await store.members('app-home:viewers')).sort(), ['U0ALICE']);
    }, 20_000);
    assert.ok(!published.includes('U0ERIN'), 'erin has not opened it for 31 days');
    assert.ok(!published.includes('U0CAROL'), 'carol left the responders');
    assert.ok(published.includes('U0ALICE'));

    // Opening it again brings a viewer back.
    clock += DAY;
    await opened('U0ERIN', published);
    assert.deepEqual((await store.members('app-home:viewers')).sort(), ['U0ALICE', 'U0ERIN']);
  });
});
