// Faults: Slack 429 storms, Route 53 throttling storms and PagerDuty down, alone and all at once.
import assert from 'node:assert/strict';
import type { RetryOptions } from '@slack/web-api';
import type { RedisStore } from '../../src/store/redis.ts';
import { testConfig } from '../support/bot.ts';
import { PD_FROM, PD_SERVICE, PD_TOKEN } from '../support/pagerduty.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
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
import { approveValueOn, startLocalSlack, type LocalSlack } from './lib/slack-server.ts';

/** src/main.ts's Web API retry policy with its backoff scaled down 10x; Slack's Retry-After is honoured as sent. */
const SLACK_RETRY: RetryOptions = { retries: 5, factor: 2, minTimeout: 100, maxTimeout: 3000 };

const THROTTLING = { code: 'Throttling', message: 'Rate exceeded' };
const PRIOR_REQUEST = {
  code: 'PriorRequestNotComplete',
  message: 'The request was rejected because Route 53 was still processing a prior request.',
};

describe('faults: storms (Slack 429, Route 53 throttling, PagerDuty down)', function () {
  this.timeout(60_000);
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

  async function boot(
    retry: RetryOptions,
    opts: { pagerduty?: boolean; now?: () => Date } = {},
  ): Promise<FaultBot> {
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
      ...(opts.now ? { now: opts.now } : {}),
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
      value: approveValueOn(slack, ts),
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
    // The state moves before its event is appended (executor.ts): wait for the event, not only the state.
    await until(async () =>
      assert.equal(countKinds(await bot().bot.deps.timeline.read('INC-1'))['action.succeeded'], 1),
    );
    const kinds = countKinds(await bot().bot.deps.timeline.read('INC-1'));
    assert.equal(kinds['action.requested'], 2);
    assert.equal(kinds['action.cancelled'], 1, 'the cancelled request is on the timeline');
    assert.equal(kinds['action.succeeded'], 1);
  });

  it('everything at once: commands answer, one ChangeBatch, card and headline catch up, PagerDuty gets every event once', async () => {
    await boot(SLACK_RETRY, { pagerduty: true });
    pd.down = true;

    // Phase 1: Slack refuses every Web API call (429, Retry-After: 1) and PagerDuty answers 503 pages.
    const storm = slack.rateLimit({ retryAfterSec: 1 });
    const declare = command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
    await until(async () => assert.ok(await bot().bot.deps.incidents.get('INC-1')));
    const contain = command('alice', '/contain', '');
    await until(() =>
      assert.ok(
        pd.requests.some((r) => r.down),
        'the mirror tried PagerDuty',
      ),
    );
    // Read-only commands answer at once: replies go to response_url, which is not the rate-limited Web API.
    const status = await command('carol', '/incident', 'status').reply();
    assert.match(status, /INC-1/);
    assert.equal(await declare.status, 200);
    assert.equal(await contain.status, 200);
    storm.stop();
    assert.match(await declare.reply(), /Declared \*INC-1\* for \*payments\*/);
    assert.match(
      await contain.reply(),
      /Approval card posted for \*Shift payments to legacy 100% \(Route 53\)\*/,
    );
    const [action] = await bot().bot.deps.approvals.listForIncident('INC-1');
    assert.ok(action?.card, 'the card was posted once Slack took it');

    // Phase 2: Slack rate-limits again while Route 53 throttles every operation the shift makes.
    const storm2 = slack.rateLimit({ retryAfterSec: 1 });
    r53.failNext('ListResourceRecordSets', 3, THROTTLING);
    r53.failNext('GetHealthCheckStatus', 2, THROTTLING);
    r53.failNext('ChangeResourceRecordSets', 2, THROTTLING);
    r53.failNext('ChangeResourceRecordSets', 2, PRIOR_REQUEST);
    r53.failNext('GetChange', 3, THROTTLING);
    const bobReply = await approve('bob', action.id, action.card.ts);
    const timeline = await command('carol', '/timeline', '').reply();
    assert.match(timeline, /INC-1/);
    await until(async () =>
      assert.equal((await bot().bot.deps.approvals.get(action.id))?.state, 'succeeded'),
    );
    const edits = slack.calls.filter((c) => c.method === 'chat.update');
    assert.ok(
      edits.some((c) => c.status === 429),
      'card and headline edits were refused during the storm',
    );
    storm2.stop();

    // Slack recovered: the card and the headline catch up to the final state.
    await until(() => {
      const card = slack.messages.get(action.card?.ts ?? '');
      assert.match(card?.text ?? '', /^Done: Shift payments to legacy 100%/);
      assert.match(JSON.stringify(card?.blocks), /after 5 tries/);
      assert.match(JSON.stringify(card?.blocks), /DNS in sync/);
    }, 15_000);
    const headlineTs = (await bot().bot.deps.incidents.get('INC-1'))?.headline?.ts ?? '';
    await until(() => {
      const headline = JSON.stringify(slack.messages.get(headlineTs)?.blocks);
      assert.match(headline, /:white_check_mark: \*C\* Contain the blast radius: done/);
    }, 15_000);
    assert.deepEqual(slack.repliesTo(bobReply), [], "bob's approval got no error");

    // Route 53: one ChangeBatch in all, after every throttled try.
    assert.equal(r53.accepted.length, 1, 'exactly one ChangeBatch');
    const refusedPosts = r53.requests.filter((r) => r.method === 'POST').length - 1;
    assert.equal(refusedPosts, 4, 'two Throttling and two PriorRequestNotComplete before it went through');

    // PagerDuty comes back: the incident is created once and every timeline event reaches it, once, in order.
    pd.down = false;
    const mirrored = (await bot().bot.deps.timeline.read('INC-1')).filter(
      (e) => !e.kind.startsWith('pagerduty.'),
    );
    await until(() => {
      const lines = pd.notes.flatMap((n) => n.content.split('\n').slice(1));
      assert.equal(lines.length, mirrored.length);
    }, 15_000);
    await bot().bot.idle();
    assert.equal(pd.creates.length, 1);
    const lines = pd.notes.flatMap((n) => n.content.split('\n').slice(1));
    assert.deepEqual(
      lines.map((l) => l.replace(/^\S+ \S+ [^:]+: /, '')),
      mirrored.map((e) => e.summary),
    );
    const { events, verification } = await bot().bot.deps.timeline.verify('INC-1');
    assert.equal(verification.ok, true);
    const kinds = countKinds(events);
    for (const kind of ['incident.declared', 'action.requested', 'action.approved', 'traffic.submitted']) {
      assert.equal(kinds[kind], 1, kind);
    }
    assert.equal(kinds['traffic.in_sync'], 1);
    assert.equal(kinds['action.succeeded'], 1);
    assert.equal(kinds['pagerduty.unavailable'], 1, 'the outage is on the timeline once');
    assert.equal(kinds['pagerduty.created'], 1);
  });

  it('GetChange throttled past every retry: the write stands, a durable follow-up reports INSYNC later', async () => {
    let skew = 0;
    await boot({ retries: 0 }, { now: () => new Date(Date.now() + skew) });
    await command('alice', '/incident', 'declare payments').reply();
    await command('alice', '/contain', '').reply();
    const [action] = await bot().bot.deps.approvals.listForIncident('INC-1');
    assert.ok(action?.card);
    r53.failNext('GetChange', 5, THROTTLING);
    await approve('bob', action.id, action.card.ts);
    await until(async () =>
      assert.equal((await bot().bot.deps.approvals.get(action.id))?.state, 'succeeded'),
    );
    const done = await bot().bot.deps.approvals.get(action.id);
    assert.match(
      done?.result?.summary ?? '',
      /written \(change C[0-9A-F]+\), but polling it failed \(GetChange was throttled 5 times \(Throttling: Rate exceeded\); nothing was changed by this call\. Wait a minute and run it again\.\); the bot keeps following it/,
    );
    let kinds = countKinds(await bot().bot.deps.timeline.read('INC-1'));
    assert.equal(kinds['traffic.in_sync'], undefined, 'not claimed in sync yet');

    skew = 6000; // the follow-up is due 5 s later on the bot's clock
    await until(async () => {
      kinds = countKinds(await bot().bot.deps.timeline.read('INC-1'));
      assert.equal(kinds['traffic.in_sync'], 1);
    });
    await until(() =>
      assert.match(JSON.stringify(slack.messages.get(action.card?.ts ?? '')?.blocks), /DNS in sync/),
    );
    assert.equal(r53.accepted.length, 1);
    assert.equal(r53.requests.filter((r) => r.method === 'POST').length, 1, 'the write was never repeated');
  });
});
