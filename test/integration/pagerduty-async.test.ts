// PagerDuty as it really behaves (real Redis, nock): the Events API is asynchronous, and a second create with an open
// incident's key is refused with 400 code 2002. Neither may page on-call twice, nor read as a configuration error.
import assert from 'node:assert/strict';
import nock from 'nock';
import type { MirrorOptions } from '../../flows/pagerduty/mirror.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, testConfig, textOf } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { DUPLICATE_KEY, pagerDutyDouble } from '../support/pagerduty-double.ts';
import {
  PD_API,
  PD_FROM,
  PD_SERVICE,
  PD_TOKEN,
  ROUTING_KEY,
  pdIncident,
  pdIncidentList,
  pdNote,
} from '../support/pagerduty.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const ENV = { PAGERDUTY_TOKEN: PD_TOKEN, PAGERDUTY_FROM: PD_FROM, PAYMENTS_PD_ROUTING_KEY: ROUTING_KEY };
const OPTIONS: Partial<MirrorOptions> = { batchWindowMs: 0, minCallIntervalMs: 0, retryBaseMs: 5000 };
const T0 = Date.parse('2026-11-26T09:00:00Z');
const BREAKER_KEY = 'cloud-safety/payments/breaker';

describe('PagerDuty, asynchronous events and duplicate keys (real Redis, nock)', () => {
  useNock();
  let store: RedisStore;
  let clock: number;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    clock = T0;
  });

  afterEach(async () => {
    await store.close();
  });

  function bot() {
    return makeTestBot({
      store,
      config: testConfig({
        services: {
          payments: {
            pagerduty: { serviceId: PD_SERVICE, routingKey: { env: 'PAYMENTS_PD_ROUTING_KEY' } },
          },
          checkout: {},
        },
      }),
      env: ENV,
      now: () => new Date(clock),
      pagerdutyMirror: OPTIONS,
    });
  }

  it(
    'waits for the breaker’s page to become an incident instead of paging twice ' +
      '(developer.pagerduty.com/docs/events-API-v2/overview: the Events API is an asynchronous API; 202 is "accepted", not an incident)',
    async () => {
      const pd = pagerDutyDouble({ now: () => clock, ingestionMs: 20_000 });
      const t = bot();
      const paged = await t.bot.deps.pagerduty.triggerForBreaker({
        service: 'payments',
        summary: 'payments breaker tripped: memory 0.97 > 0.90',
      });
      assert.deepEqual(paged, { paged: true, dedupKey: BREAKER_KEY });

      // Declared one second later: PagerDuty has accepted the event but has no incident for it yet.
      clock += 1000;
      await t.command('alice', '/incident', 'declare payments sev=2 breaker tripped');
      await t.bot.idle();
      assert.deepEqual(
        pd.pages().map((p) => p.via),
        ['events'],
        'no REST incident while the page is being ingested',
      );
      assert.ok(pd.requests.includes(`GET /incidents?incident_key=${BREAKER_KEY}`));
      const waiting = textOf((await t.command('alice', '/incident', 'status'))[0]);
      assert.match(
        waiting,
        /waiting for the breaker's page \(dedup key cloud-safety\/payments\/breaker\) to become a PagerDuty incident, until 2026-11-26 09:02:00Z; only then is one created/,
      );

      // Still not there 10 s later; there 21 s after the trigger.
      clock += 10_000;
      await t.bot.deps.pagerduty.tick();
      await t.bot.idle();
      assert.equal((await t.bot.deps.incidents.get('INC-1'))?.pagerduty, undefined);
      clock += 10_000;
      await t.bot.deps.pagerduty.tick();
      await t.bot.idle();

      const [page] = pd.pages();
      assert.equal(pd.pages().length, 1, 'on-call was paged once');
      assert.equal(pd.requests.filter((r) => r === 'POST /incidents').length, 0);
      assert.equal((await t.bot.deps.incidents.get('INC-1'))?.pagerduty?.id, page?.id);
      const linked = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'pagerduty.linked');
      assert.match(linked?.summary ?? '', /opened by the breaker's page/);
      assert.ok(pd.notes.some((n) => n.incident === page?.id && /declared INC-1/.test(n.content)));
      assert.equal((await t.bot.deps.pagerduty.state('INC-1')).awaitingPage, undefined);
    },
  );

  it('creates one after the wait when the breaker’s page never became an incident, and says so', async () => {
    const pd = pagerDutyDouble({ now: () => clock, ingestionMs: 10 * 60_000 });
    const t = bot();
    await t.bot.deps.pagerduty.triggerForBreaker({
      service: 'payments',
      summary: 'payments breaker tripped',
    });
    await t.command('alice', '/incident', 'declare payments sev=2 breaker tripped');
    await t.bot.idle();
    assert.equal(pd.pages().filter((p) => p.via === 'rest').length, 0);

    clock += 121_000;
    await t.bot.deps.pagerduty.tick();
    await t.bot.idle();
    assert.deepEqual(
      pd.pages().map((p) => p.via),
      ['events', 'rest'],
    );
    const created = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'pagerduty.created');
    assert.match(
      created?.summary ?? '',
      /the breaker's page \(dedup key cloud-safety\/payments\/breaker\) had not become an incident 120 s after it was sent/,
    );
  });

  it(
    'treats 400 code 2002 "Open incident with matching dedup key already exists" as found, not a configuration error ' +
      '(developer.pagerduty.com/api-reference: POST /incidents, Error Responses: incident_key of an open incident)',
    async () => {
      const t = bot();
      const api = () => nock(PD_API).matchHeader('from', PD_FROM);
      const key = `cloud-safety/INC-1/${T0}`;
      // The create goes through but its answer is lost (502).
      api()
        .post('/incidents')
        .reply(502, { error: { message: 'Bad Gateway', code: 2000 } });
      await t.command('alice', '/incident', 'declare payments');
      await t.bot.idle();

      // Next pass: the list does not show it yet, so the bot creates again and PagerDuty refuses the duplicate key.
      clock += 60_000;
      api().get('/incidents').query({ incident_key: key, date_range: 'all' }).reply(200, pdIncidentList([]));
      api().post('/incidents').reply(400, DUPLICATE_KEY);
      api()
        .get('/incidents')
        .query({ incident_key: key, date_range: 'all' })
        .reply(200, pdIncidentList([pdIncident({ incidentKey: key })]));
      api().post('/incidents/PT4KHLK/notes').reply(201, pdNote('timeline'));
      await t.bot.deps.pagerduty.tick();
      await t.bot.idle();

      assert.equal((await t.bot.deps.incidents.get('INC-1'))?.pagerduty?.id, 'PT4KHLK');
      const state = await t.bot.deps.pagerduty.state('INC-1');
      assert.equal(state.failure, undefined);
      const summaries = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.summary).join('\n');
      assert.doesNotMatch(summaries, /serviceId|cloud-safety\.yml/);
      assert.match(summaries, /PagerDuty incident #1234 \(PT4KHLK\) found on service PWIXJZS/);
    },
  );
});
