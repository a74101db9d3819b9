// The declare modal and the App Home over the wire: signed view_submission and app_home_opened into Bolt.
import assert from 'node:assert/strict';
import nock from 'nock';
import { isolatedRedisStore } from '../support/redis.ts';
import { useNock } from '../support/nock.ts';
import { testConfig } from '../support/bot.ts';
import {
  commandBody,
  eventually,
  nockAuthTest,
  payloadForm,
  RESPONSE_HOST,
  SLACK_API,
  startHttpBot,
  TEAM,
  type HttpBot,
} from '../support/slack.ts';
import type { RedisStore } from '../../src/store/redis.ts';

const CHANNEL = 'C0WARROOM';

interface ViewBody {
  trigger_id?: string;
  user_id?: string;
  view: string;
}

/** The view_submission payload Slack sends when the declare modal is submitted. */
function submission(
  values: Record<string, Record<string, unknown>>,
  metadata = JSON.stringify({ channel: CHANNEL }),
) {
  return payloadForm({
    type: 'view_submission',
    team: { id: TEAM, domain: 'acme' },
    user: { id: 'U0ALICE', username: 'alice', name: 'alice', team_id: TEAM },
    api_app_id: 'A0APP',
    token: 'legacy-verification-token',
    trigger_id: '12345.98765.abcd',
    view: {
      id: 'V0DECLARE',
      team_id: TEAM,
      type: 'modal',
      blocks: [],
      private_metadata: metadata,
      callback_id: 'incident.declare',
      state: { values },
      hash: '1764730800.abcd',
      title: { type: 'plain_text', text: 'Declare an incident' },
      clear_on_close: false,
      notify_on_close: false,
      close: { type: 'plain_text', text: 'Cancel' },
      submit: { type: 'plain_text', text: 'Declare' },
      previous_view_id: null,
      root_view_id: 'V0DECLARE',
      app_id: 'A0APP',
      external_id: '',
      app_installed_team_id: TEAM,
      bot_id: 'B0BOT',
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  });
}

function values(fields: {
  service?: string;
  severity?: string;
  title?: string;
  commander?: string;
  channel?: string[];
}) {
  const select = (v?: string) => ({
    type: 'static_select',
    selected_option: v ? { text: { type: 'plain_text', text: v }, value: v } : null,
  });
  return {
    service: { value: select(fields.service) },
    severity: { value: select(fields.severity) },
    title: { value: { type: 'plain_text_input', value: fields.title ?? null } },
    commander: { value: { type: 'users_select', selected_user: fields.commander ?? null } },
    channel: {
      value: {
        type: 'checkboxes',
        selected_options: (fields.channel ?? []).map((v) => ({
          text: { type: 'plain_text', text: v },
          value: v,
        })),
      },
    },
  };
}

describe('declare modal and App Home over Slack HTTP (signed requests)', () => {
  useNock();
  let store: RedisStore;
  let app: HttpBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    nockAuthTest();
    app = await startHttpBot({ config: testConfig(), store });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
    nock.cleanAll();
  });

  it('/incident declare with no arguments opens the form with views.open and the trigger_id', async () => {
    let opened: ViewBody | undefined;
    nock(SLACK_API)
      .post('/api/views.open', (body: ViewBody) => {
        opened = body;
        return true;
      })
      .reply(200, { ok: true, view: { id: 'V0DECLARE' } });
    const req = commandBody({
      command: '/incident',
      text: 'declare',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
    });

    const res = await app.send(req.body, req.contentType);
    assert.equal(res.status, 200);
    await eventually(() => assert.ok(opened, 'views.open called'), 20_000);

    assert.match(opened?.trigger_id ?? '', /\.1\.abc$/);
    const view = JSON.parse(opened?.view ?? '{}') as {
      type: string;
      callback_id: string;
      private_metadata: string;
      title: { text: string };
      blocks: { type: string; block_id: string; element: { type: string; initial_user?: string } }[];
    };
    assert.equal(view.type, 'modal');
    assert.equal(view.callback_id, 'incident.declare');
    assert.ok(view.title.text.length <= 24, 'Slack caps a modal title at 24 characters');
    assert.deepEqual(JSON.parse(view.private_metadata), { channel: CHANNEL });
    assert.deepEqual(
      view.blocks.map((b) => [b.type, b.block_id, b.element.type]),
      [
        ['input', 'service', 'static_select'],
        ['input', 'severity', 'static_select'],
        ['input', 'title', 'plain_text_input'],
        ['input', 'commander', 'users_select'],
        ['input', 'channel', 'checkboxes'],
      ],
    );
    assert.equal(view.blocks[3]?.element.initial_user, 'U0ALICE');
  });

  it('a submission with missing fields is answered with errors beside them, and nothing is declared', async () => {
    const body = submission(values({ severity: 'SEV1', channel: ['private'] }));

    const res = await app.send(body, 'application/x-www-form-urlencoded');

    assert.equal(res.status, 200);
    const answer = (await res.json()) as { response_action: string; errors: Record<string, string> };
    assert.equal(answer.response_action, 'errors');
    assert.deepEqual(Object.keys(answer.errors).sort(), ['channel', 'service', 'title']);
    assert.equal(answer.errors.service, 'Pick the service.');
    await app.bot.idle();
    assert.deepEqual(await app.bot.deps.incidents.listAll(), []);
  });

  it('a valid submission declares (commander from the form) and tells the declarer ephemerally', async () => {
    nock(SLACK_API)
      .post('/api/users.info', (b) => b.user === 'U0BOB')
      .reply(200, { ok: true, user: { id: 'U0BOB', name: 'bob', deleted: false } });
    const headline = nock(SLACK_API)
      .post('/api/chat.postMessage', (b) => b.channel === CHANNEL && /^INC-1 payments SEV1/.test(b.text))
      .reply(200, { ok: true, channel: CHANNEL, ts: '1764730800.000100', message: {} });
    nock(SLACK_API).post('/api/pins.add').reply(200, { ok: true });
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();
    const told = nock(SLACK_API)
      .post(
        '/api/chat.postEphemeral',
        (b) => b.channel === CHANNEL && b.user === 'U0ALICE' && /Declared \*INC-1\*/.test(b.text),
      )
      .reply(200, { ok: true, message_ts: '1764730800.000200' });

    const res = await app.send(
      submission(
        values({ service: 'payments', severity: 'SEV1', title: 'Cloud pods OOMKilled', commander: 'U0BOB' }),
      ),
      'application/x-www-form-urlencoded',
    );

    assert.equal(res.status, 200);
    assert.equal(await res.text(), '', 'an empty ack closes the modal');
    await eventually(() => assert.ok(told.isDone(), 'the declarer was told'), 20_000);
    await app.bot.idle();
    assert.ok(headline.isDone());
    const incident = await app.bot.deps.incidents.get('INC-1');
    assert.equal(incident?.commander.id, 'U0BOB');
    assert.equal(incident?.severity, 'SEV1');
    assert.equal(incident?.title, 'Cloud pods OOMKilled');
  });

  it('app_home_opened publishes the open incidents with views.publish, and republishes when they change', async () => {
    nock(SLACK_API)
      .post('/api/chat.postMessage')
      .reply(200, { ok: true, channel: CHANNEL, ts: '1764730800.000100', message: {} });
    nock(SLACK_API).post('/api/pins.add').reply(200, { ok: true });
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();
    const req = commandBody({
      command: '/incident',
      text: 'declare payments sev=1 Cloud pods OOMKilled',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
    });
    const reply = nock(RESPONSE_HOST).post(req.responsePath).reply(200, { ok: true });
    await app.send(req.body, req.contentType);
    await eventually(() => assert.ok(reply.isDone()), 20_000);
    await app.bot.idle();

    const published: { user_id: string; view: { type: string; blocks: unknown[] } }[] = [];
    nock(SLACK_API)
      .post('/api/views.publish', (b: ViewBody) => {
        published.push({ user_id: b.user_id ?? '', view: JSON.parse(b.view) });
        return true;
      })
      .times(2)
      .reply(200, { ok: true, view: { id: 'V0HOME' } });
    const event = JSON.stringify({
      token: 'legacy-verification-token',
      team_id: TEAM,
      api_app_id: 'A0APP',
      event: {
        type: 'app_home_opened',
        user: 'U0CAROL',
        channel: 'D0CAROL',
        tab: 'home',
        event_ts: `${Math.floor(Date.now() / 1000)}.000100`,
      },
      type: 'event_callback',
      event_id: 'Ev0HOME1',
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [
        { enterprise_id: null, team_id: TEAM, user_id: 'U0BOT', is_bot: true, is_enterprise_install: false },
      ],
    });

    const res = await app.send(event, 'application/json');
    assert.equal(res.status, 200);
    await eventually(() => assert.equal(published.length, 1), 20_000);
    assert.equal(published[0]?.user_id, 'U0CAROL');
    assert.equal(published[0]?.view.type, 'home');
    assert.match(
      JSON.stringify(published[0]?.view.blocks),
      /INC-1\* · payments · SEV1 · commander <@U0ALICE>/,
    );

    // Resolving changes the list; carol's tab follows.
    const resolve = commandBody({
      command: '/incident',
      text: 'resolve',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
    });
    const resolved = nock(RESPONSE_HOST).post(resolve.responsePath).reply(200, { ok: true });
    await app.send(resolve.body, resolve.contentType);
    await eventually(() => assert.ok(resolved.isDone()), 20_000);
    await eventually(() => assert.equal(published.length, 2), 20_000);
    assert.match(JSON.stringify(published[1]?.view.blocks), /Open incidents \(0\)/);
  });
});
