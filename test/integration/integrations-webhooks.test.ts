// Outbound webhooks on real Redis: signed, retried with back-off, at least once, never in the incident's way.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import nock from 'nock';
import { webhooksOf } from '../../flows/integrations/index.ts';
import { VISIBILITY_MS } from '../../flows/integrations/webhooks.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import type { TimelineEvent } from '../../src/timeline.ts';
import { makeTestBot, testConfig, type TestBot } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const SIEM = 'https://siem.example.test';
const SECRET = 'siem-webhook-secret-31a9';
const T0 = Date.parse('2026-12-03T09:00:00Z');

interface Delivered {
  headers: Record<string, string>;
  body: { id: string; webhook: string; event: TimelineEvent };
  raw: string;
}

describe('outbound webhooks (real Redis, nock receiver)', () => {
  useNock();
  let store: RedisStore;
  let t: TestBot;
  let clock: number;

  function start(kinds?: string[]) {
    t = makeTestBot({
      store,
      now: () => new Date(clock),
      env: { CS_API_TOKEN: 'api-token', SIEM_SECRET: SECRET },
      config: testConfig({
        integrations: {
          token: { env: 'CS_API_TOKEN' },
          webhooks: [
            {
              name: 'siem',
              url: `${SIEM}/cloud-safety/events`,
              secret: { env: 'SIEM_SECRET' },
              ...(kinds ? { kinds } : {}),
            },
          ],
          retryBase: '10s',
          retryMax: '1m',
          attempts: 3,
        },
      }),
    });
  }

  beforeEach(async () => {
    store = await isolatedRedisStore();
    clock = T0;
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
  });

  const HEADERS = [
    'content-type',
    'idempotency-key',
    'x-cloud-safety-event',
    'x-cloud-safety-attempt',
    'x-cloud-safety-timestamp',
    'x-cloud-safety-signature',
  ];

  /** One receiver answer; the request is captured with its headers and raw body. */
  function receive(status: number, into: Delivered[], replyHeaders: Record<string, string> = {}) {
    const headers: Record<string, string> = {};
    let scope = nock(SIEM);
    for (const name of HEADERS) {
      scope = scope.matchHeader(name, (value: string | null) => {
        headers[name] = value ?? '';
        return true;
      });
    }
    return scope
      .post('/cloud-safety/events', (body) => {
        into.push({ headers, body, raw: JSON.stringify(body) });
        return true;
      })
      .reply(status, status < 300 ? '' : '{"error":"busy"}', replyHeaders);
  }

  async function tick(ms = 0) {
    clock += ms;
    await t.bot.deps.scheduler.tick();
    await t.bot.idle();
  }

  it('POSTs each event once, signed over timestamp and body, with the event hash as idempotency key', async () => {
    start();
    const got: Delivered[] = [];
    receive(200, got);
    await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    await tick();
    assert.equal(got.length, 1);
    const [first] = got;
    assert.ok(first);
    assert.equal(first.body.event.kind, 'incident.declared');
    assert.equal(first.body.id, first.body.event.hash);
    assert.equal(first.headers['idempotency-key'], first.body.event.hash);
    assert.equal(first.headers['x-cloud-safety-event'], 'incident.declared');
    const ts = first.headers['x-cloud-safety-timestamp'] ?? '';
    assert.equal(ts, String(T0 / 1000));
    const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${first.raw}`).digest('hex')}`;
    assert.equal(first.headers['x-cloud-safety-signature'], expected);
    assert.deepEqual(await webhooksOf(t.bot.deps)?.pending(), []);
    await tick(60_000);
    assert.equal(got.length, 1, 'nothing is sent twice after success');
  });

  it('retries a failing receiver with back-off and the same idempotency key; the incident never waits', async () => {
    start();
    const got: Delivered[] = [];
    receive(503, got);
    const [reply] = await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    assert.ok(
      reply === undefined || !/webhook/i.test(reply.text),
      'the declare reply says nothing of webhooks',
    );
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.status, 'active');
    await tick();
    assert.equal(got.length, 1);
    await tick(9_000);
    assert.equal(got.length, 1, 'not before the back-off');
    nock(SIEM)
      .post('/cloud-safety/events')
      .replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await tick(1_000);
    receive(200, got);
    await tick(19_000);
    assert.equal(got.length, 1, 'second back-off is 20 s');
    await tick(1_000);
    assert.equal(got.length, 2);
    assert.equal(got[1]?.headers['idempotency-key'], got[0]?.body.event.hash);
    assert.equal(got[1]?.headers['x-cloud-safety-attempt'], '3');
    assert.deepEqual(await webhooksOf(t.bot.deps)?.pending(), []);
  });

  it('honours Retry-After on a 429', async () => {
    start();
    const got: Delivered[] = [];
    receive(429, got, { 'retry-after': '45' });
    await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    await tick();
    receive(200, got);
    await tick(44_000);
    assert.equal(got.length, 1);
    await tick(1_000);
    assert.equal(got.length, 2);
  });

  it('stops on a refusal (400) and reports it on the timeline, without sending the report itself', async () => {
    start();
    const got: Delivered[] = [];
    receive(400, got);
    await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    await tick();
    await tick(120_000);
    const events = await t.bot.deps.timeline.read('INC-1');
    const failed = events.find((e) => e.kind === 'webhook.failed');
    assert.ok(failed, 'the give-up is on the timeline');
    assert.match(
      failed.summary,
      /Webhook siem did not take the incident\.declared event after 1 attempt \(HTTP 400\)/,
    );
    assert.equal(got.length, 1, 'the webhook.failed event is not delivered');
    assert.deepEqual(await webhooksOf(t.bot.deps)?.pending(), []);
  });

  it('gives up after the configured attempts and says so', async () => {
    start();
    const got: Delivered[] = [];
    for (let i = 0; i < 3; i++) receive(500, got);
    await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    await tick();
    await tick(10_000);
    await tick(20_000);
    assert.equal(got.length, 3);
    const failed = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'webhook.failed');
    assert.match(failed?.summary ?? '', /after 3 attempts \(HTTP 500\); the bot gave up/);
    const data = failed?.data as { error: string; status: number };
    assert.equal(data.status, 500);
  });

  it('sends only the kinds asked for', async () => {
    start(['incident.resolved']);
    const got: Delivered[] = [];
    receive(200, got);
    await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    await t.command('alice', '/incident', 'resolve rolled back');
    await tick();
    assert.deepEqual(
      got.map((d) => d.body.event.kind),
      ['incident.resolved'],
    );
  });

  it('takes up a delivery whose replica died after claiming it', async () => {
    start();
    await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    // The claim is the scheduler removing the job; a replica that dies then leaves only the pending record.
    const [member] = (await webhooksOf(t.bot.deps)?.pending()) ?? [];
    assert.ok(member);
    assert.equal(await store.unschedule('schedule:webhooks', member), true);
    const got: Delivered[] = [];
    await tick(VISIBILITY_MS - 1000);
    assert.equal(got.length, 0);
    receive(200, got);
    await webhooksOf(t.bot.deps)?.sweep();
    clock += VISIBILITY_MS;
    await webhooksOf(t.bot.deps)?.sweep();
    await tick();
    assert.equal(got.length, 1);
    assert.equal(got[0]?.body.event.kind, 'incident.declared');
  });
});
