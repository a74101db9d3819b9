// Slack for tests: the app in HTTP mode with signed requests (slack-app.ts), and the Web API answered by nock.
import nock from 'nock';
import { SLACK_API, TEAM } from './slack-app.ts';

export * from './slack-app.ts';

/** auth.test as Slack answers it for a bot token (Bolt calls it once to learn who it is). */
export function nockAuthTest(): void {
  nock(SLACK_API)
    .post('/api/auth.test')
    .reply(200, {
      ok: true,
      url: 'https://acme.slack.com/',
      team: 'Acme',
      user: 'cloud-safety',
      team_id: TEAM,
      user_id: 'U0BOT',
      bot_id: 'B0BOT',
      is_enterprise_install: false,
    })
    .persist();
}
