// Slack user groups over the wire: subteam_members_changed (signed event) makes a removal count at once.
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

/** usergroups.list?include_users=true as Slack answers it: one group, its members listed. */
function usergroupsList(users: string[]) {
  return {
    ok: true,
    usergroups: [
      {
        id: 'S0614TZR7',
        team_id: TEAM,
        is_usergroup: true,
        is_subteam: true,
        name: 'Payments on-call',
        description: 'Whoever carries the payments pager',
        handle: 'payments-oncall',
        is_external: false,
        date_create: 1446746793,
        date_update: 1764730800,
        date_delete: 0,
        auto_type: null,
        auto_provision: false,
        enterprise_subteam_id: '',
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

describe('Slack user groups (signed HTTP events)', () => {
  useNock();
  let store: RedisStore;
  let app: HttpBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    nockAuthTest();
    app = await startHttpBot({
      config: testConfig({
        access: { responders: ['@payments-oncall'], groups: { 'sre-leads': ['U0BOB'] } },
      }),
      store,
    });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
    nock.cleanAll();
  });

  async function list(userId: string, userName: string): Promise<string> {
    const req = commandBody({ command: '/incident', text: 'list', userId, userName, channel: CHANNEL });
    let text = '';
    const scope = nock(RESPONSE_HOST)
      .post(req.responsePath, (body: { text?: string }) => {
        text = body.text ?? '';
        return true;
      })
      .reply(200, { ok: true });
    const res = await app.send(req.body, req.contentType);
    assert.equal(res.status, 200);
    await eventually(() => assert.ok(scope.isDone(), 'the reply was sent to response_url'), 20_000);
    await app.bot.idle();
    return text;
  }

  it('subteam_members_changed drops the cached memberships: a removed responder is refused on the next command', async () => {
    const lists: number[] = [];
    nock(SLACK_API)
      .post('/api/usergroups.list', (b: { include_users?: string }) => {
        lists.push(1);
        return b.include_users === 'true';
      })
      .reply(200, usergroupsList(['U0ALICE', 'U0CAROL']));
    assert.doesNotMatch(await list('U0CAROL', 'carol'), /Only responders/);
    assert.doesNotMatch(await list('U0CAROL', 'carol'), /Only responders/, 'the second read is cached');
    assert.equal(lists.length, 1);

    nock(SLACK_API)
      .post('/api/usergroups.list')
      .reply(200, usergroupsList(['U0ALICE']));
    const now = Math.floor(Date.now() / 1000);
    const event = JSON.stringify({
      token: 'legacy-verification-token',
      team_id: TEAM,
      api_app_id: 'A0APP',
      event: {
        type: 'subteam_members_changed',
        subteam_id: 'S0614TZR7',
        team_id: TEAM,
        date_previous_update: 1446670362,
        date_update: now,
        added_users: [],
        added_users_count: '0',
        removed_users: ['U0CAROL'],
        removed_users_count: '1',
        event_ts: `${now}.000200`,
      },
      type: 'event_callback',
      event_id: 'Ev0GROUP1',
      event_time: now,
      authorizations: [
        { enterprise_id: null, team_id: TEAM, user_id: 'U0BOT', is_bot: true, is_enterprise_install: false },
      ],
    });
    const res = await app.send(event, 'application/json');
    assert.equal(res.status, 200, await res.text());

    // No clock moved: without the event, carol would still pass on the cached list for up to a minute.
    await eventually(
      async () => assert.match(await list('U0CAROL', 'carol'), /Only responders can run/),
      20_000,
    );
    assert.doesNotMatch(await list('U0ALICE', 'alice'), /Only responders/);
  });
});
