// Approver groups through Slack's usergroups.list: a removal counts within 60 s, across both caches.
import assert from 'node:assert/strict';
import nock from 'nock';
import { LogLevel, WebClient } from '@slack/web-api';
import { Access } from '../../src/access.ts';
import { SlackChat } from '../../src/chat/slack/chat.ts';
import { useNock } from '../support/nock.ts';
import { testConfig } from '../support/bot.ts';
import { SLACK_API, SLACK_API_URL } from '../support/slack.ts';

function leads(users: string[]) {
  return {
    ok: true,
    usergroups: [{ id: 'S0LEADS', team_id: 'T0TEAM', handle: 'sre-leads', users, user_count: users.length }],
  };
}

describe('access: approver groups from Slack', () => {
  useNock();

  it('stops letting a removed member approve within 60 s', async () => {
    let now = Date.parse('2026-11-26T10:00:00Z');
    const clock = () => now;
    const client = new WebClient('xoxb-test-0000000000', {
      slackApiUrl: SLACK_API_URL,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });
    const chat = new SlackChat(client, { now: clock });
    const config = testConfig({ access: { groups: {} } }).access;
    const access = new Access(config, (handle) => chat.groupMembers(handle), { now: clock });
    nock(SLACK_API)
      .post('/api/usergroups.list')
      .reply(200, leads(['U0BOB', 'U0DAVE']));
    assert.equal(await access.isApprover('U0BOB'), true);

    // bob is removed from @sre-leads in Slack; Slack answers the new list from now on.
    nock(SLACK_API)
      .post('/api/usergroups.list')
      .reply(200, leads(['U0DAVE']))
      .persist();
    now += 20_000;
    const cached = await access.isApprover('U0BOB');
    now += 40_000;

    assert.equal(cached, true, 'a cached answer may be up to a minute old');
    assert.equal(await access.isApprover('U0BOB'), false, 'removed within 60 s');
    assert.equal(await access.isApprover('U0DAVE'), true);
  });
});
