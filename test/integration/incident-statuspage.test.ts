// `/incident update` opens, then updates, the service's Statuspage incident (real Redis, Statuspage by nock).
import assert from 'node:assert/strict';
import nock from 'nock';
import type { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const API = 'https://api.statuspage.io';
const PAGE = 'kctbh9vrtdwd';
const COMPONENT = '8kbf7d35c070';
const KEY = 'sp-test-key-1b2c3d';

/** An incident as POST/PATCH /v1/pages/{page}/incidents answer it. */
function spIncident(status: string, componentStatus: string, body: string) {
  return {
    id: 'p31zjtct2jer',
    components: [
      {
        id: COMPONENT,
        page_id: PAGE,
        group_id: null,
        created_at: '2026-11-20T10:00:00.000Z',
        updated_at: '2026-12-03T09:05:00.000Z',
        group: false,
        name: 'Payments API',
        description: null,
        position: 1,
        status: componentStatus,
        showcase: true,
        only_show_if_degraded: false,
        automation_email: `component+${COMPONENT}@notifications.statuspage.io`,
        start_date: '2026-11-20',
      },
    ],
    created_at: '2026-12-03T09:05:00.000Z',
    impact: 'critical',
    impact_override: null,
    incident_updates: [
      {
        id: 'upd0001abcd',
        incident_id: 'p31zjtct2jer',
        affected_components: [
          { code: COMPONENT, name: 'Payments API', old_status: 'operational', new_status: componentStatus },
        ],
        body,
        created_at: '2026-12-03T09:05:00.000Z',
        display_at: '2026-12-03T09:05:00.000Z',
        status,
        updated_at: '2026-12-03T09:05:00.000Z',
        deliver_notifications: true,
        wants_twitter_update: false,
        twitter_updated_at: null,
        custom_tweet: null,
      },
    ],
    metadata: {},
    monitoring_at: null,
    name: 'payments: Cloud pods OOMKilled',
    page_id: PAGE,
    postmortem_body: null,
    postmortem_body_last_updated_at: null,
    postmortem_ignored: false,
    postmortem_published_at: null,
    resolved_at: null,
    scheduled_auto_completed: false,
    scheduled_auto_in_progress: false,
    scheduled_for: null,
    scheduled_remind_prior: false,
    scheduled_reminded_at: null,
    scheduled_until: null,
    shortlink: 'http://stspg.io/xyz123',
    started_at: '2026-12-03T09:05:00.000Z',
    status,
    updated_at: '2026-12-03T09:05:00.000Z',
    reminder_intervals: null,
  };
}

describe('/incident update and Statuspage (real Redis, nock)', () => {
  useNock();
  let store: RedisStore;
  let t: TestBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    t = makeTestBot({
      store,
      config: testConfig({
        incident: {
          statuspage: {
            pageId: PAGE,
            apiKey: { env: 'STATUSPAGE_API_KEY' },
            components: { payments: COMPONENT },
          },
        },
      }),
      // Built from the config as in production: the key is read from the environment variable it names.
      env: { STATUSPAGE_API_KEY: KEY },
    });
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
    nock.cleanAll();
  });

  function sp() {
    return nock(API).matchHeader('authorization', `OAuth ${KEY}`);
  }

  /** GET /v1/pages/{page}/incidents/unresolved, as the bot asks it before a first create and after a failed one. */
  function unresolved(...incidents: unknown[]) {
    return sp()
      .get(`/v1/pages/${PAGE}/incidents/unresolved`)
      .query({ per_page: '100' })
      .reply(200, incidents);
  }

  it('the first update opens an incident with the component down, the next ones update it', async () => {
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    const bodies: unknown[] = [];
    unresolved();
    sp()
      .post(`/v1/pages/${PAGE}/incidents`, (b) => {
        bodies.push(b);
        return true;
      })
      .reply(201, spIncident('investigating', 'major_outage', 'Payments failing'));
    const first = await t.command(
      'alice',
      '/incident',
      'update Payments failing for cloud users; moving traffic back',
    );
    assert.match(
      textOf(first[0]),
      /Statuspage incident opened \(http:\/\/stspg\.io\/xyz123\), component major outage\./,
    );
    assert.deepEqual(bodies[0], {
      incident: {
        name: 'payments: Cloud pods OOMKilled',
        status: 'investigating',
        body: 'Payments failing for cloud users; moving traffic back',
        component_ids: [COMPONENT],
        components: { [COMPONENT]: 'major_outage' },
      },
    });

    await t.command('alice', '/incident', 'sev 3 only EU cards affected');
    sp()
      .patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`, (b) => {
        bodies.push(b);
        return true;
      })
      .reply(200, spIncident('identified', 'degraded_performance', 'Traffic on legacy'));
    const second = await t.command('alice', '/incident', 'update Traffic on legacy, EU cards still slow');
    assert.match(
      textOf(second[0]),
      /Statuspage updated \(http:\/\/stspg\.io\/xyz123\), component degraded performance\./,
    );
    assert.deepEqual(bodies[1], {
      incident: {
        status: 'identified',
        body: 'Traffic on legacy, EU cards still slow',
        component_ids: [COMPONENT],
        components: { [COMPONENT]: 'degraded_performance' },
      },
    });
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'statuspage.updated').length, 2);
  });

  it('Statuspage down: the update is still posted and recorded, and the reply says Statuspage was not updated', async () => {
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    unresolved();
    sp().post(`/v1/pages/${PAGE}/incidents`).reply(503, { error: 'Service Unavailable' });
    unresolved();
    const reply = await t.command('alice', '/incident', 'update Payments failing');
    assert.match(
      textOf(reply[0]),
      /Update posted in .*Statuspage was NOT updated \(.*503.*\); post it there by hand/s,
    );
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.ok(kinds.includes('incident.status_update'));
    assert.ok(!kinds.includes('statuspage.updated'));
  });

  it('a service without a component gets no Statuspage call', async () => {
    await t.command('alice', '/incident', 'declare checkout sev=1 Checkout slow');
    const reply = await t.command('alice', '/incident', 'update Checkout slow');
    assert.doesNotMatch(textOf(reply[0]), /Statuspage/);
  });

  it('a create answered 503 that Statuspage committed is adopted, and the next update edits it (no second incident)', async () => {
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    unresolved();
    sp().post(`/v1/pages/${PAGE}/incidents`).reply(503, { error: 'Service Unavailable' });
    unresolved(spIncident('investigating', 'major_outage', 'Payments failing'));
    sp()
      .get(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`)
      .reply(200, spIncident('investigating', 'major_outage', 'Payments failing'));
    const first = await t.command('alice', '/incident', 'update Payments failing');
    assert.match(
      textOf(first[0]),
      /Statuspage incident opened \(http:\/\/stspg\.io\/xyz123\), component major outage\. \(Statuspage answered .*503.*, but it is there\)/s,
    );
    const patched = sp()
      .patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`)
      .reply(200, spIncident('identified', 'major_outage', 'Traffic on legacy'));
    const second = await t.command('alice', '/incident', 'update Traffic on legacy');
    assert.match(textOf(second[0]), /Statuspage updated/);
    assert.ok(patched.isDone(), 'the second update edits the adopted incident');
    assert.ok(nock.isDone(), 'no other call (no second POST)');
  });

  it('an open incident of ours that the bot never remembered (died after the create) is updated, not opened again', async () => {
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    unresolved(
      { ...spIncident('investigating', 'operational', 'x'), id: 'someoneelse1', name: 'checkout: slow' },
      spIncident('investigating', 'major_outage', 'Payments failing'),
    );
    const patched = sp()
      .patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`)
      .reply(200, spIncident('identified', 'major_outage', 'Still failing'));
    const reply = await t.command('alice', '/incident', 'update Still failing');
    assert.match(textOf(reply[0]), /Statuspage updated/);
    assert.ok(patched.isDone());
  });

  it('an update answered 502 that landed is reported as there; one that did not land says so', async () => {
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    unresolved(spIncident('investigating', 'major_outage', 'Payments failing'));
    sp().patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`).reply(502, { error: 'Bad Gateway' });
    sp()
      .get(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`)
      .reply(200, spIncident('identified', 'major_outage', 'Traffic on legacy'));
    const landed = await t.command('alice', '/incident', 'update Traffic on legacy');
    assert.match(textOf(landed[0]), /Statuspage updated.*\(Statuspage answered .*502.*, but it is there\)/s);

    sp().patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`).reply(502, { error: 'Bad Gateway' });
    sp()
      .get(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`)
      .reply(200, spIncident('identified', 'major_outage', 'Traffic on legacy'));
    const lost = await t.command('alice', '/incident', 'update EU cards still slow');
    assert.match(
      textOf(lost[0]),
      /Statuspage was NOT updated \(.*502.*; read back: incident p31zjtct2jer still shows identified\); post it there by hand/s,
    );
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'statuspage.updated').length, 1);
  });

  it('/incident resolve resolves the Statuspage incident and sets the component operational', async () => {
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    unresolved();
    sp()
      .post(`/v1/pages/${PAGE}/incidents`)
      .reply(201, spIncident('investigating', 'major_outage', 'x'));
    await t.command('alice', '/incident', 'update Payments failing');
    let body: unknown;
    sp()
      .patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`, (b) => {
        body = b;
        return true;
      })
      .reply(200, spIncident('resolved', 'operational', 'Traffic on legacy, payments normal'));
    const reply = await t.command('alice', '/incident', 'resolve Traffic on legacy, payments normal');
    assert.match(
      textOf(reply[0]),
      /Resolved \*INC-1\*\..*Statuspage incident resolved \(http:\/\/stspg\.io\/xyz123\), component operational\./s,
    );
    assert.deepEqual(body, {
      incident: {
        status: 'resolved',
        body: 'Traffic on legacy, payments normal',
        component_ids: [COMPONENT],
        components: { [COMPONENT]: 'operational' },
      },
    });
  });

  it('resolving an incident that never opened one on Statuspage calls nothing there after looking', async () => {
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    unresolved();
    const reply = await t.command('alice', '/incident', 'resolve false alarm');
    assert.doesNotMatch(textOf(reply[0]), /Statuspage/);
    assert.ok(nock.isDone());
  });

  it('two updates at once open one Statuspage incident: the second waits and edits it', async () => {
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    unresolved();
    const posts = sp()
      .post(`/v1/pages/${PAGE}/incidents`)
      .delay(300)
      .reply(201, spIncident('investigating', 'major_outage', 'one'));
    const patch = sp()
      .patch(`/v1/pages/${PAGE}/incidents/p31zjtct2jer`)
      .reply(200, spIncident('identified', 'major_outage', 'two'));
    const [a, b] = await Promise.all([
      t.command('alice', '/incident', 'update one'),
      t.command('carol', '/incident', 'update two'),
    ]);
    const texts = [textOf(a[0]), textOf(b[0])].join('\n');
    assert.match(texts, /Statuspage incident opened/);
    assert.match(texts, /Statuspage updated/);
    assert.ok(posts.isDone() && patch.isDone());
  });
});
