// Faults: response_url takes five replies within thirty minutes; later replies go through the Web API (issue 14, item 5).
import assert from 'node:assert/strict';
import pg from 'pg';
import type { RedisStore } from '../../src/store/redis.ts';
import { testConfig } from '../support/bot.ts';
import { dropPair, ledgerSection, seedIdenticalPair, type SeededPair } from '../support/ledger-seed.ts';
import { testPostgres, type PgServer } from '../support/postgres.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { CHANNEL, USERS } from './lib/fixtures.ts';
import { commandRequest, startFaultBot, until, type FaultBot } from './lib/http-bot.ts';
import { startLocalSlack, type LocalSlack } from './lib/slack-server.ts';

const MINUTE = 60_000;

describe('faults: response_url expires (https://api.slack.com/interactivity/handling#message_responses: five uses within 30 minutes)', function () {
  this.timeout(60_000);
  let server: PgServer;
  let pair: SeededPair;
  let store: RedisStore;
  let slack: LocalSlack;
  let app: FaultBot | undefined;
  /** The injected clock: the bot and the local Slack both read it. */
  let offsetMs = 0;
  const now = () => new Date(Date.now() + offsetMs);

  before(async () => {
    server = await testPostgres();
    pair = await seedIdenticalPair(server, 400, 'cs_respurl');
  });

  after(async () => {
    await dropPair(server, pair);
  });

  beforeEach(async () => {
    offsetMs = 0;
    store = await isolatedRedisStore();
    slack = await startLocalSlack({ channel: CHANNEL, now: () => now().getTime() });
    const config = testConfig({
      services: {
        payments: {
          ledger: ledgerSection(server.url(pair.legacy), server.url(pair.cloud), { lockTimeout: '2s' }),
        },
      },
    });
    app = await startFaultBot({ config, store, slack, now });
  });

  afterEach(async () => {
    await app?.bot.deps.adapters.ledger?.close();
    await app?.stop();
    app = undefined;
    await store.close();
    await slack.close();
  });

  function bot(): FaultBot {
    assert.ok(app);
    return app;
  }

  async function send(text: string, command: string) {
    const req = commandRequest(slack, { command, text, user: USERS.alice, channel: CHANNEL });
    assert.equal((await bot().send(req.body, req.contentType)).status, 200);
    return req.replyId;
  }

  /** Replies that reached alice through the Web API (chat.postEphemeral), by text. */
  function ephemeralTexts(): string[] {
    return slack.calls
      .filter((c) => c.method === 'chat.postEphemeral' && c.status === 200 && c.body.user === USERS.alice.id)
      .map((c) => String(c.body.text ?? ''));
  }

  it('an audit that ends 31 simulated minutes after the command still reaches the person who ran it', async () => {
    const declared = await send('declare payments', '/incident');
    await until(() => assert.equal(slack.repliesTo(declared).length, 1));

    // A migration holds the cloud table: the audit waits on the lock, then fails.
    const holder = new pg.Client({
      connectionString: server.url(pair.cloud),
      application_name: 'cs-migration-ddl',
    });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE public.ledger_entries IN ACCESS EXCLUSIVE MODE');
      const audit = await send('audit', '/ledger');
      await until(() =>
        assert.match(slack.repliesTo(audit)[0]?.body.text ?? '', /^Auditing payments's ledger/),
      );
      // Thirty-one minutes pass while the audit waits (the injected clock, read by the bot and by Slack).
      offsetMs += 31 * MINUTE;

      await until(() => assert.ok(ephemeralTexts().some((t) => /The audit FAILED/.test(t))), 20_000);
      assert.equal(slack.repliesTo(audit).length, 1, 'only the quick reply went to response_url');
      assert.deepEqual(
        slack.replies.filter((r) => r.status === 404),
        [],
        'the bot never sent to a response_url Slack no longer takes',
      );
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('a sixth reply to one command does not use its response_url: it goes through chat.postEphemeral', async () => {
    // A command whose handler answers six times (the transport and Bolt are real; only the bot's handler is not).
    const handler = bot().bot;
    const real = handler.handleCommand.bind(handler);
    handler.handleCommand = async (inv) => {
      for (let i = 1; i <= 6; i++) await inv.respond({ text: `reply ${i}` });
      return real({ ...inv, text: 'help', respond: async () => {} });
    };
    const id = await send('status', '/incident');
    await until(() => assert.deepEqual(ephemeralTexts(), ['reply 6']));
    assert.deepEqual(
      slack.repliesTo(id).map((r) => r.body.text),
      ['reply 1', 'reply 2', 'reply 3', 'reply 4', 'reply 5'],
    );
    assert.deepEqual(
      slack.replies.filter((r) => r.status === 404).map((r) => r.error),
      [],
      'Slack never had to answer used_url',
    );
  });

  it('the local Slack refuses a response_url like Slack: 404 used_url after five, 404 expired_url after 30 minutes', async () => {
    const used = slack.responseUrl('double-used');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await fetch(used, { method: 'POST', body: '{}' })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 404]);
    const expired = slack.responseUrl('double-expired');
    offsetMs += 30 * MINUTE + 1000;
    const res = await fetch(expired, { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    assert.equal(await res.text(), 'expired_url');
    assert.equal(slack.replies.at(-2)?.error, 'used_url');
  });
});
