// The PagerDuty incident follows the Slack one (real Redis, PagerDuty by nock): a commander handover reassigns it,
// a severity change moves its urgency and priority; once per change, retried after an outage.
import assert from 'node:assert/strict';
import nock from 'nock';
import type { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, testConfig, type TestBot } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { PD_API, PD_FROM, PD_SERVICE, PD_TOKEN, pdIncident, pdNote } from '../support/pagerduty.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const ENV = { PAGERDUTY_TOKEN: PD_TOKEN, PAGERDUTY_FROM: PD_FROM };
const T0 = Date.parse('2026-11-26T09:00:00Z');

function pd() {
  return nock(PD_API)
    .matchHeader('authorization', `Token token=${PD_TOKEN}`)
    .matchHeader('from', PD_FROM)
    .matchHeader('accept', 'application/vnd.pagerduty+json;version=2');
}

/** The incident as PUT /incidents/{id} answers it, with the assignee and priority it now has. */
function updated(fields: { assignee?: string; priority?: string; urgency?: 'high' | 'low' }) {
  return {
    incident: {
      ...pdIncident({ title: '[INC-1] payments: Cloud pods OOMKilled', urgency: fields.urgency ?? 'high' }),
      assignments: fields.assignee
        ? [
            {
              at: '2026-11-26T09:05:00Z',
              assignee: {
                id: fields.assignee,
                type: 'user_reference',
                summary: 'Bob',
                self: `${PD_API}/users/${fields.assignee}`,
                html_url: `https://subdomain.pagerduty.com/users/${fields.assignee}`,
              },
            },
          ]
        : [],
      priority: fields.priority
        ? {
            id: fields.priority,
            type: 'priority',
            summary: 'P3',
            self: `${PD_API}/priorities/${fields.priority}`,
            html_url: null,
            name: 'P3',
            description: 'Minor',
          }
        : null,
    },
  };
}

describe('PagerDuty follows handover and severity (real Redis, nock)', () => {
  useNock();
  let store: RedisStore;
  let clock: number;
  const unexpected: string[] = [];
  const onNoMatch = (req: { method?: string; path?: string }) => unexpected.push(`${req.method} ${req.path}`);

  beforeEach(async () => {
    store = await isolatedRedisStore();
    clock = T0;
    unexpected.length = 0;
    nock.emitter.on('no match', onNoMatch);
  });

  afterEach(async () => {
    nock.emitter.removeListener('no match', onNoMatch);
    nock.cleanAll();
    await store.close();
  });

  function bot(): TestBot {
    return makeTestBot({
      store,
      config: testConfig({
        access: { pagerdutyUsers: { PBOB123: 'U0BOB', 'dave@example.com': 'U0DAVE' } },
        services: {
          payments: {
            pagerduty: { serviceId: PD_SERVICE, priorities: { SEV1: 'PSEV1AA', SEV3: 'PSEV3CC' } },
          },
          checkout: {},
        },
      }),
      env: ENV,
      now: () => new Date(clock),
      pagerdutyMirror: { batchWindowMs: 0, minCallIntervalMs: 0, retryBaseMs: 60_000, retryMaxMs: 600_000 },
    });
  }

  async function declared(): Promise<{ t: TestBot; puts: unknown[] }> {
    pd()
      .post('/incidents')
      .reply(201, { incident: pdIncident({ title: '[INC-1] payments: Cloud pods OOMKilled' }) });
    pd()
      .post('/incidents/PT4KHLK/notes')
      // nock 15 hands the reply function the Fetch Request.
      .reply(201, async (request: Request) =>
        pdNote(((await request.json()) as { note: { content: string } }).note.content),
      )
      .persist();
    const t = bot();
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    await settle(t);
    return { t, puts: [] };
  }

  /** Lets the mirror's background passes finish, then runs one more. */
  async function settle(t: TestBot): Promise<void> {
    await t.bot.idle();
    await t.bot.deps.pagerduty.sync('INC-1');
    await t.bot.idle();
  }

  function expectPut(puts: unknown[], reply: ReturnType<typeof updated>, status = 200) {
    pd()
      .put('/incidents/PT4KHLK', (body) => {
        puts.push(body);
        return true;
      })
      .reply(status, status === 200 ? reply : { error: { message: 'Service Unavailable', code: 2001 } });
  }

  it('a handover assigns the PagerDuty incident to the new commander; a severity change sets urgency and priority', async () => {
    const { t, puts } = await declared();
    assert.equal(puts.length, 0, 'declaring changes nothing there: its escalation policy chose the assignee');

    expectPut(puts, updated({ assignee: 'PBOB123' }));
    clock += 60_000;
    await t.command('alice', '/incident', 'role commander <@U0BOB|bob>');
    await settle(t);
    assert.deepEqual(puts, [
      {
        incident: {
          type: 'incident_reference',
          assignments: [{ assignee: { id: 'PBOB123', type: 'user_reference' } }],
        },
      },
    ]);

    expectPut(puts, updated({ assignee: 'PBOB123', priority: 'PSEV3CC', urgency: 'low' }));
    clock += 60_000;
    await t.command('bob', '/incident', 'sev 3 only EU cards affected');
    await settle(t);
    assert.deepEqual(puts[1], {
      incident: {
        type: 'incident_reference',
        urgency: 'low',
        priority: { id: 'PSEV3CC', type: 'priority_reference' },
      },
    });
    await settle(t);
    assert.equal(puts.length, 2, 'once per change');
    const summaries = (await t.bot.deps.timeline.read('INC-1'))
      .filter((e) => e.kind === 'pagerduty.updated')
      .map((e) => e.summary);
    assert.deepEqual(summaries, [
      'PagerDuty #1234 (PT4KHLK): assigned to bob (PBOB123), the new commander',
      'PagerDuty #1234 (PT4KHLK): urgency low; priority PSEV3CC (SEV3)',
    ]);
    assert.deepEqual(unexpected, []);
    await t.bot.stop();
  });

  it('a commander without a PagerDuty user id is not reassigned, and the timeline says how to map them', async () => {
    const { t, puts } = await declared();
    clock += 60_000;
    await t.command('alice', '/incident', 'role commander <@U0CAROL|carol>');
    await settle(t);
    assert.deepEqual(puts, []);
    const event = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'pagerduty.updated');
    assert.match(
      event?.summary ?? '',
      /not reassigned: carol has no PagerDuty user id in access\.pagerdutyUsers \(add "<PagerDuty user id>: U0CAROL"\)/,
    );
    assert.deepEqual(unexpected, []);
    await t.bot.stop();
  });

  /** GET /users?query=<email>, as PagerDuty answers it: `query` also matches by prefix, so a near miss comes too. */
  function usersByEmail(email: string, users: { id: string; name: string; email: string }[]) {
    pd()
      .get('/users')
      .query({ query: email, limit: '25' })
      .reply(200, {
        users: users.map((u) => ({
          ...u,
          type: 'user',
          summary: u.name,
          self: `${PD_API}/users/${u.id}`,
          html_url: `https://subdomain.pagerduty.com/users/${u.id}`,
          time_zone: 'Europe/London',
          color: 'green',
          role: 'user',
          avatar_url: 'https://secure.gravatar.com/avatar/x.png',
          description: null,
          invitation_sent: false,
          job_title: null,
          teams: [],
          contact_methods: [],
          notification_rules: [],
        })),
        limit: 25,
        offset: 0,
        total: null,
        more: false,
      });
  }

  it('a commander mapped only by email is found in PagerDuty by that email and assigned', async () => {
    const { t, puts } = await declared();
    usersByEmail('dave@example.com', [
      { id: 'PDAVEXX', name: 'Dave Oldaccount', email: 'dave@example.com.old' },
      { id: 'PDAVE42', name: 'Dave', email: 'Dave@Example.com' },
    ]);
    expectPut(puts, updated({ assignee: 'PDAVE42' }));
    clock += 60_000;
    await t.command('alice', '/incident', 'role commander <@U0DAVE|dave>');
    await settle(t);
    assert.deepEqual(puts, [
      {
        incident: {
          type: 'incident_reference',
          assignments: [{ assignee: { id: 'PDAVE42', type: 'user_reference' } }],
        },
      },
    ]);
    const event = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'pagerduty.updated');
    assert.equal(
      event?.summary,
      'PagerDuty #1234 (PT4KHLK): assigned to dave (PDAVE42, found by dave@example.com), the new commander',
    );
    assert.deepEqual(unexpected, []);
    await t.bot.stop();
  });

  it('an email that is no PagerDuty login is not guessed at: the timeline says so', async () => {
    const { t, puts } = await declared();
    usersByEmail('dave@example.com', [{ id: 'PDAVEXX', name: 'Dave', email: 'dave@example.com.old' }]);
    clock += 60_000;
    await t.command('alice', '/incident', 'role commander <@U0DAVE|dave>');
    await settle(t);
    assert.deepEqual(puts, []);
    const event = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'pagerduty.updated');
    assert.match(
      event?.summary ?? '',
      /not reassigned: no PagerDuty user has the login email dave@example\.com that access\.pagerdutyUsers gives dave/,
    );
    assert.deepEqual(unexpected, []);
    await t.bot.stop();
  });

  it('a failed update pauses the mirror and is sent again, once, when PagerDuty is back', async () => {
    const { t, puts } = await declared();
    expectPut(puts, updated({}), 503);
    clock += 60_000;
    await t.command('alice', '/incident', 'sev 3 narrower than thought');
    await settle(t);
    assert.equal(puts.length, 1);
    assert.equal((await t.bot.deps.pagerduty.state('INC-1')).failure?.during, 'update');

    expectPut(puts, updated({ urgency: 'low', priority: 'PSEV3CC' }));
    clock += 61_000;
    await settle(t);
    assert.equal(puts.length, 2);
    assert.deepEqual(puts[1], puts[0]);
    await settle(t);
    assert.equal(puts.length, 2, 'sent again once, not on every pass');
    assert.equal((await t.bot.deps.pagerduty.state('INC-1')).failure, undefined);
    await t.bot.stop();
  });
});
