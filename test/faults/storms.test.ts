// Faults: Slack 429 storms, Route 53 throttling storms and PagerDuty down, alone and all at once.
import assert from 'node:assert/strict';
import type { RetryOptions } from '@slack/web-api';
import type { RedisStore } from '../../src/store/redis.ts';
import { testConfig } from '../support/bot.ts';
import { PD_FROM, PD_SERVICE, PD_TOKEN } from '../support/pagerduty.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../support/route53-server.ts';
import {
  CHANNEL,
  countKinds,
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  localRoute53,
  ROUTE53_SECTION,
  USERS,
} from './lib/fixtures.ts';
import { buttonRequest, commandRequest, startFaultBot, until, type FaultBot } from './lib/http-bot.ts';
import { startLocalPagerDuty, type LocalPagerDuty } from './lib/pagerduty-server.ts';
import { startLocalSlack, type LocalSlack } from './lib/slack-server.ts';


describe('faults: storms (Slack 429, Route 53 throttling, PagerDuty down)', () => {
  let store: RedisStore;
  let slack: LocalSlack;
  let r53: Route53Server;
  let pd: LocalPagerDuty;
  let app: FaultBot | undefined;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    slack = await startLocalSlack({ channel: CHANNEL });
    pd = await startLocalPagerDuty();
    r53 = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords(10) },
      healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
      syncDelayMs: 0,
    });
  });

  afterEach(async () => {
    await app?.stop();
    app = undefined;
    await store.close();
    await slack.close();
    await pd.close();
    await r53.stop();
  });

  async function boot(retry: RetryOptions, opts: { pagerduty?: boolean } = {}): Promise<FaultBot> {
    const config = testConfig({
      services: {
        payments: {
          traffic: { route53: ROUTE53_SECTION },
          ...(opts.pagerduty ? { pagerduty: { serviceId: PD_SERVICE } } : {}),
        },
        checkout: {},
      },
    });
    app = await startFaultBot({
      config,
      store,
      slack,
      retry,
      schedulerTickMs: 100,
      adapters: { traffic: localRoute53(config, r53.url) },
      ...(opts.pagerduty
        ? {
            env: { PAGERDUTY_TOKEN: PD_TOKEN, PAGERDUTY_FROM: PD_FROM, PAGERDUTY_API_URL: pd.url },
            secrets: [PD_TOKEN],
            pagerdutyMirror: {
              batchWindowMs: 0,
              minCallIntervalMs: 0,
              tickMs: 200,
              retryBaseMs: 300,
              retryMaxMs: 600,
            },
          }
        : {}),
    });
    return app;
  }

  function bot(): FaultBot {
    assert.ok(app, 'boot() first');
    return app;
  }

  /** Sends a signed slash command; `reply()` waits for its answer on response_url. */
  function command(user: keyof typeof USERS, name: string, text: string) {
    const req = commandRequest(slack, { command: name, text, user: USERS[user], channel: CHANNEL });
    const status = bot()
      .send(req.body, req.contentType)
      .then((res) => res.status);
    return {
      status,
      async reply(timeoutMs = 15_000): Promise<string> {
        assert.equal(await status, 200, 'acked');
        await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1), timeoutMs);
        return slack.repliesTo(req.replyId)[0]?.body.text ?? '';
      },
    };
  }

  async function approve(user: keyof typeof USERS, actionId: string, ts: string): Promise<string> {
    const press = buttonRequest(slack, {
      actionId: 'approval.approve',
      value: actionId,
      user: USERS[user],
      channel: CHANNEL,
      messageTs: ts,
    });
    assert.equal((await bot().send(press.body, press.contentType)).status, 200);
    return press.replyId;
  }

  it('a Slack storm longer than the client retries: /contain cancels the request it could not show, and works after', async () => {
    // retries: 0 stands in for a storm that outlasts the production client's retry budget (about 40 s).
    await boot({ retries: 0 });
    assert.match(await command('alice', '/incident', 'declare payments').reply(), /Declared \*INC-1\*/);

    const storm = slack.rateLimit({ retryAfterSec: 1 });
    const refused = await command('alice', '/contain', '').reply();
    storm.stop();
    assert.match(
      refused,
      /^Slack failed: the approval card could not be posted \(chat\.postMessage: ratelimited \(Slack is rate limiting the bot\)\), so request act-[0-9a-f]{8} was cancelled and nothing was changed\. Run the command again in a minute\./,
    );
    const [orphan] = await bot().bot.deps.approvals.listForIncident('INC-1');
    assert.equal(orphan?.state, 'cancelled', 'no request is left open without a card to approve it on');
    assert.equal(orphan?.card, undefined);
    assert.match(
      orphan?.decision?.reason ?? '',
      /the approval card could not be posted: chat\.postMessage: ratelimited/,
    );
    assert.equal(r53.accepted.length, 0);

    assert.match(await command('alice', '/contain', '').reply(), /Approval card posted/);
    const actions = await bot().bot.deps.approvals.listForIncident('INC-1');
    const fresh = actions.find((a) => a.state === 'requested');
    assert.ok(fresh?.card);
    await approve('bob', fresh.id, fresh.card.ts);
    await until(async () => assert.equal((await bot().bot.deps.approvals.get(fresh.id))?.state, 'succeeded'));
    assert.equal(r53.accepted.length, 1);
    const kinds = countKinds(await bot().bot.deps.timeline.read('INC-1'));
    assert.equal(kinds['action.requested'], 2);
    assert.equal(kinds['action.cancelled'], 1, 'the cancelled request is on the timeline');
    assert.equal(kinds['action.succeeded'], 1);
  });
});
