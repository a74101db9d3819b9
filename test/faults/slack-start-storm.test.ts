// Fault: the bot starts while Slack rate-limits every Web API call (auth.test too); commands are still acked and answered.
import assert from 'node:assert/strict';
import type { RedisStore } from '../../src/store/redis.ts';
import { testConfig } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { CHANNEL, USERS } from './lib/fixtures.ts';
import { commandRequest, startFaultBot, until, type FaultBot } from './lib/http-bot.ts';
import { startLocalSlack, type LocalSlack } from './lib/slack-server.ts';

describe('faults: bot started during a Slack rate-limit storm', () => {
  let store: RedisStore;
  let slack: LocalSlack;
  let app: FaultBot | undefined;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    slack = await startLocalSlack({ channel: CHANNEL });
  });

  afterEach(async () => {
    await app?.stop();
    await store.close();
    await slack.close();
  });

  async function help(): Promise<{ status: number; reply: string }> {
    const req = commandRequest(slack, {
      command: '/incident',
      text: 'help',
      user: USERS.alice,
      channel: CHANNEL,
    });
    const res = await app?.send(req.body, req.contentType);
    await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1));
    return { status: res?.status ?? 0, reply: slack.repliesTo(req.replyId)[0]?.body.text ?? '' };
  }

  it('acks and answers while auth.test is refused, and learns its identity once Slack recovers', async () => {
    const storm = slack.rateLimit({ retryAfterSec: 1 });
    app = await startFaultBot({ config: testConfig(), store, slack });
    // Bolt's own authorization made every request wait for auth.test (not acked within 3 s: HTTP 404), and cached
    // a failed auth.test forever, so the bot never ran a listener again after the storm.
    const during = await help();
    assert.equal(during.status, 200);
    assert.match(during.reply, /\/incident declare &lt;service&gt;/);
    assert.ok(
      slack.calls.some((c) => c.method === 'auth.test' && c.status === 429),
      'auth.test was refused meanwhile',
    );
    storm.stop();

    await until(async () => {
      const after = await help();
      assert.equal(after.status, 200);
      assert.ok(slack.calls.some((c) => c.method === 'auth.test' && c.status === 200));
    }, 15_000);
  });
});
