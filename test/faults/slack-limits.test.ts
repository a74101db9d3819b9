// Faults: Slack's per-method rate limits while many cards are live (issue 14, item 4).
import assert from 'node:assert/strict';
import type { MessageRef } from '../../src/chat/chat.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { testConfig } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
import {
  CHANNEL,
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  localRoute53,
  ROUTE53_SECTION,
  USERS,
} from './lib/fixtures.ts';
import { commandRequest, startFaultBot, until, type FaultBot } from './lib/http-bot.ts';
import { TierLimits } from './lib/slack-limits.ts';
import { startLocalSlack, type LocalSlack, type SlackCall } from './lib/slack-server.ts';

/** Slack's minute lasts 6 s on both sides: the local Slack's tiers and the bot's budget. */
const TIME_SCALE = 0.1;
const CARDS = 12;

/** The most calls of `method` Slack accepted in any window of one (scaled) minute. */
function peakPerMinute(calls: SlackCall[], method: string): number {
  const times = calls.filter((c) => c.method === method && c.status === 200).map((c) => c.at);
  const window = 60_000 * TIME_SCALE;
  let peak = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while ((times[j] ?? 0) - (times[i] ?? 0) >= window) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return peak;
}

describe('faults: Slack rate limits per method (https://docs.slack.dev/apis/web-api/rate-limits)', function () {
  this.timeout(60_000);
  let store: RedisStore;
  let slack: LocalSlack;
  let r53: Route53Server;
  let app: FaultBot | undefined;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    slack = await startLocalSlack({ channel: CHANNEL, tiers: { timeScale: TIME_SCALE } });
    r53 = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords(10) },
      healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
      syncDelayMs: 0,
    });
    const config = testConfig({ services: { payments: { traffic: { route53: ROUTE53_SECTION } } } });
    app = await startFaultBot({
      config,
      store,
      slack,
      retry: { retries: 5, factor: 2, minTimeout: 100, maxTimeout: 3000 },
      budget: { timeScale: TIME_SCALE },
      // Slack's one edit per second per message, on the same scale.
      editIntervalMs: 1000 * TIME_SCALE,
      schedulerTickMs: 100,
      adapters: { traffic: localRoute53(config, r53.url) },
    });
  });

  afterEach(async () => {
    await app?.stop();
    app = undefined;
    await store.close();
    await slack.close();
    await r53.stop();
  });

  function bot(): FaultBot {
    assert.ok(app);
    return app;
  }

  async function command(name: string, text: string): Promise<string> {
    const req = commandRequest(slack, { command: name, text, user: USERS.alice, channel: CHANNEL });
    assert.equal((await bot().send(req.body, req.contentType)).status, 200);
    await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1), 20_000);
    return slack.repliesTo(req.replyId)[0]?.body.text ?? '';
  }

  /** 12 progress cards, each edited through the bot's throttle every few milliseconds, as captures and audits do. */
  async function liveCards(): Promise<{ refs: MessageRef[]; edit(state: string): void }> {
    const { chat, throttle } = bot().bot.deps;
    const refs: MessageRef[] = [];
    for (let i = 0; i < CARDS; i++) refs.push(await chat.post(CHANNEL, { text: `card ${i}: starting` }));
    const edit = (state: string) =>
      refs.forEach((ref, i) =>
        throttle.schedule(`test-card:${ref.ts}`, async () => {
          await chat.update(ref, { text: `card ${i}: ${state}` }).catch(() => {});
        }),
      );
    return { refs, edit };
  }

  it('12 live cards: an approval card goes out before the backlog of edits, no method exceeds its tier, every card ends on its latest state', async () => {
    assert.match(await command('/incident', 'declare payments'), /Declared \*INC-1\*/);
    const cards = await liveCards();
    let step = 0;
    const ticker = setInterval(() => cards.edit(`step ${(step += 1)}`), 15);
    // Long enough that chat.update's burst is spent and edits wait for their budget.
    await until(() => assert.ok(peakPerMinute(slack.calls, 'chat.update') >= 30), 20_000);

    const posted = command('/contain', '');
    await until(() => {
      const card = [...slack.messages.values()].find((m) =>
        /approval|Approve/i.test(JSON.stringify(m.blocks)),
      );
      assert.ok(card, 'the approval card is in the channel');
    }, 20_000);
    // Edits were still waiting when the card went out: it did not queue behind them.
    const backlogAtCard = bot().slackChat.backlog;
    clearInterval(ticker);
    cards.edit('final');
    assert.match(await posted, /Approval card posted/);

    // Only the latest state of each card is sent, and it arrives.
    await until(() => {
      for (const ref of cards.refs) assert.match(slack.messages.get(ref.ts)?.text ?? '', /: final$/);
    }, 30_000);

    const refused = slack.calls.filter((c) => c.status === 429);
    assert.deepEqual(
      refused.map((c) => c.method),
      [],
      'Slack never had to refuse a call: the bot stayed within every tier',
    );
    for (const method of new Set(slack.calls.map((c) => c.method))) {
      const tier = TierLimits.tierOf(method);
      if (tier !== undefined && method !== 'chat.postMessage') {
        assert.ok(peakPerMinute(slack.calls, method) <= tier, `${method} stayed within ${tier}/min`);
      }
    }
    assert.ok(backlogAtCard > 0, `edits were waiting when the approval card was posted (${backlogAtCard})`);
    const edits = slack.calls.filter((c) => c.method === 'chat.update').length;
    console.log(
      `      chat.update: ${step * CARDS} asked, ${edits} sent, peak ${peakPerMinute(slack.calls, 'chat.update')}/min (tier 50); ` +
        `${backlogAtCard} waiting when the approval card went out`,
    );
    assert.ok(edits < step * CARDS, `edits coalesced: ${edits} sent for ${step * CARDS} asked`);
  });

  it('a 429 on chat.update holds back chat.update only: chat.postMessage goes out meanwhile', async () => {
    const cards = await liveCards();
    // Slack refuses every chat.update for 10 s; the old client paused its whole queue for that long.
    const storm = slack.rateLimit({ retryAfterSec: 10, methods: ['chat.update'] });
    cards.edit('during the storm');
    await until(() => assert.ok(slack.calls.some((c) => c.method === 'chat.update' && c.status === 429)));

    assert.match(await command('/incident', 'declare payments'), /Declared \*INC-1\*/);
    const headline = [...slack.messages.values()].find((m) => /INC-1/.test(m.text));
    assert.ok(headline, 'the incident headline was posted while chat.update waited out its Retry-After');
    // The refusal taught the budget: no edit was sent again before Retry-After (only those already in flight met it).
    const updates = slack.calls.filter((c) => c.method === 'chat.update');
    assert.ok(updates.every((c) => c.status === 429));
    assert.ok(updates.length <= 8, `${updates.length} edits refused, none sent again`);
    storm.stop();
  });
});
