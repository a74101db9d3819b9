// /postmortem out (real Redis): follow-ups filed in GitHub, Jira and Linear once; the page in Confluence and Notion,
// updated in place on re-run; every SaaS API answered by nock with its documented response shapes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { postmortemOutOf } from '../../flows/integrations/index.ts';
import { followUpKey, markerFor } from '../../flows/integrations/postmortem-out.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, testConfig, type TestBot } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const GH_TOKEN = 'ghp_followups0123456789abcdef';
const JIRA_TOKEN = 'ATATT3xFfGF0-jira-token';
const LINEAR_KEY = 'lin_api_0123456789abcdef';
const CONF_TOKEN = 'ATATT3xFfGF0-confluence-token';
const NOTION_TOKEN = 'secret_notionintegration0123';
const ENV = {
  GH_TOKEN,
  JIRA_EMAIL: 'bot@acme.example',
  JIRA_TOKEN,
  LINEAR_KEY,
  CONF_EMAIL: 'bot@acme.example',
  CONF_TOKEN,
  NOTION_TOKEN,
};
const TEAM = '9cfb482a-81e3-4154-b5b9-2c805e70a02d';
const NOTION_PARENT = '59833787-2cf9-4fdf-8782-e53db20768a5';
const FOLLOW_UPS = [
  'Containment was never recorded: check how traffic left the failing stack',
  'Arm the circuit breaker before resuming the migration (/breaker arm)',
];

describe('post-mortem out: follow-ups and the page (real Redis, nock SaaS APIs)', () => {
  useNock();
  let store: RedisStore;
  let dir: string;
  let t: TestBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    dir = mkdtempSync(join(tmpdir(), 'cs-pm-out-'));
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(integrations: Record<string, unknown>) {
    t = makeTestBot({
      store,
      env: ENV,
      config: testConfig({
        evidence: { dir },
        integrations: { publicUrl: 'https://cloud-safety.acme.example', ...integrations },
      }),
    });
  }

  async function incidentAndPostmortem() {
    await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    await t.command('alice', '/incident', 'resolve rolled back');
    const replies = await t.command('alice', '/postmortem');
    await t.bot.idle();
    return replies;
  }

  async function kinds(): Promise<string[]> {
    return (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
  }

  it('files each follow-up as a GitHub issue linking back, once, even when /postmortem runs again', async () => {
    start({ followUps: { github: { repo: 'acme/payments', token: { env: 'GH_TOKEN' } } } });
    const bodies: { title: string; body: string; labels: string[] }[] = [];
    for (const [n, title] of FOLLOW_UPS.entries()) {
      nock('https://api.github.com')
        .matchHeader('authorization', `Bearer ${GH_TOKEN}`)
        .matchHeader('x-github-api-version', '2022-11-28')
        .post('/repos/acme/payments/issues', (body) => {
          bodies.push(body);
          return body.title === title;
        })
        .reply(201, {
          id: 1296269 + n,
          node_id: 'MDU6SXNzdWUx',
          url: `https://api.github.com/repos/acme/payments/issues/${1347 + n}`,
          html_url: `https://github.com/acme/payments/issues/${1347 + n}`,
          number: 1347 + n,
          state: 'open',
          title,
          body: bodies[n]?.body ?? '',
          labels: [{ id: 208045946, name: 'postmortem' }],
        });
    }
    await incidentAndPostmortem();
    assert.equal(bodies.length, 2);
    const marker = markerFor('INC-1', followUpKey({ title: FOLLOW_UPS[0] ?? '' }));
    assert.match(bodies[0]?.body ?? '', new RegExp(`<!-- ${marker} -->`));
    assert.match(
      bodies[0]?.body ?? '',
      /Incident: https:\/\/example\.slack\.com\/archives\/C0INCIDENT\/p1700000000000001/,
    );
    assert.deepEqual(bodies[0]?.labels, ['postmortem']);
    const filed = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'followups.filed');
    assert.match(
      filed?.summary ?? '',
      /Filed 2 follow-ups: #1347 https:\/\/github\.com\/acme\/payments\/issues\/1347/,
    );
    assert.ok(
      t.chat
        .texts('post')
        .some((text) => text.includes('github #1348: https://github.com/acme/payments/issues/1348')),
      'the links are posted in the channel',
    );

    // Re-running /postmortem files nothing again: no request is mocked, so any would fail the pass.
    await t.command('alice', '/postmortem');
    await t.bot.idle();
    const all = await kinds();
    assert.equal(all.filter((k) => k === 'followups.filed').length, 1);
    assert.equal(all.filter((k) => k === 'postmortem.out_failed').length, 0);
    assert.ok(!t.logLines.join('\n').includes(GH_TOKEN), 'the token never reaches the logs');
  });

  it('reports a Jira refusal on the timeline, never failing /postmortem, and files on the retry', async () => {
    start({
      followUps: {
        jira: {
          site: 'https://acme.atlassian.net',
          project: 'OPS',
          email: { env: 'JIRA_EMAIL' },
          token: { env: 'JIRA_TOKEN' },
        },
      },
    });
    const basic = `Basic ${Buffer.from(`bot@acme.example:${JIRA_TOKEN}`).toString('base64')}`;
    nock('https://acme.atlassian.net')
      .post('/rest/api/3/issue')
      .reply(401, {
        errorMessages: ['You do not have permission to create issues in this project.'],
        errors: {},
      });
    const replies = await incidentAndPostmortem();
    assert.match(replies[0]?.text ?? '', /[Pp]ost-mortem/);
    const failed = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'postmortem.out_failed');
    assert.match(
      failed?.summary ?? '',
      /Retrying in 30 s: Jira refused to create an issue in project OPS \(HTTP 401: You do not have permission.*\); check the Jira email and API token/,
    );
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.status, 'resolved');

    // The retry: the first create was sent, so it looks for it by its marker label before creating.
    const created: { fields: { summary: string; labels: string[]; description: { type: string } } }[] = [];
    const jql = (title: string) =>
      `project = "OPS" AND labels = "${markerFor('INC-1', followUpKey({ title }))}"`;
    nock('https://acme.atlassian.net')
      .matchHeader('authorization', basic)
      .get('/rest/api/3/search/jql')
      .query({ jql: jql(FOLLOW_UPS[0] ?? ''), fields: 'key', maxResults: '1' })
      .reply(200, { issues: [], isLast: true });
    for (const [n] of FOLLOW_UPS.entries()) {
      nock('https://acme.atlassian.net')
        .matchHeader('authorization', basic)
        .post('/rest/api/3/issue', (body) => {
          created.push(body);
          return true;
        })
        .reply(201, {
          id: String(10000 + n),
          key: `OPS-${24 + n}`,
          self: `https://acme.atlassian.net/rest/api/3/issue/${10000 + n}`,
        });
    }
    await postmortemOutOf(t.bot.deps)?.run('INC-1');
    assert.equal(created.length, 2);
    assert.equal(created[0]?.fields.summary, FOLLOW_UPS[0]);
    assert.equal(created[0]?.fields.description.type, 'doc');
    assert.deepEqual(created[0]?.fields.labels, [
      'postmortem',
      markerFor('INC-1', followUpKey({ title: FOLLOW_UPS[0] ?? '' })),
    ]);
    const filed = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'followups.filed');
    assert.match(filed?.summary ?? '', /OPS-24 https:\/\/acme\.atlassian\.net\/browse\/OPS-24, OPS-25/);
  });

  it('finds a Linear issue whose create answered 500 instead of filing it twice', async () => {
    start({ followUps: { linear: { teamId: TEAM, apiKey: { env: 'LINEAR_KEY' } } } });
    // The create got through but the answer was lost (their 500 after the write).
    nock('https://api.linear.app')
      .matchHeader('authorization', LINEAR_KEY)
      .post('/graphql', (body) => /issueCreate/.test(body.query) && body.variables.input.teamId === TEAM)
      .reply(500, { errors: [{ message: 'Internal server error' }] });
    await incidentAndPostmortem();
    assert.ok((await kinds()).includes('postmortem.out_failed'));

    const marker0 = markerFor('INC-1', followUpKey({ title: FOLLOW_UPS[0] ?? '' }));
    nock('https://api.linear.app')
      .post('/graphql', (body) => /issues\(filter/.test(body.query) && body.variables.marker === marker0)
      .reply(200, {
        data: {
          issues: {
            nodes: [
              { id: 'a1b2', identifier: 'ENG-7', url: 'https://linear.app/acme/issue/ENG-7/containment' },
            ],
          },
        },
      });
    nock('https://api.linear.app')
      .post(
        '/graphql',
        (body) => /issueCreate/.test(body.query) && body.variables.input.title === FOLLOW_UPS[1],
      )
      .reply(200, {
        data: {
          issueCreate: {
            success: true,
            issue: {
              id: 'c3d4',
              identifier: 'ENG-8',
              url: 'https://linear.app/acme/issue/ENG-8/arm-the-breaker',
            },
          },
        },
      });
    await postmortemOutOf(t.bot.deps)?.run('INC-1');
    const filed = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'followups.filed');
    assert.match(filed?.summary ?? '', /ENG-7 .*ENG-8/);
    const state = await postmortemOutOf(t.bot.deps)?.state('INC-1');
    assert.deepEqual(
      Object.values(state?.issues ?? {}).map((i) => i.issue?.key),
      ['ENG-7', 'ENG-8'],
    );
  });

  it('tells a Linear authentication error from an outage', async () => {
    start({ followUps: { linear: { teamId: TEAM, apiKey: { env: 'LINEAR_KEY' } } } });
    nock('https://api.linear.app')
      .post('/graphql')
      .reply(400, {
        errors: [
          {
            message: 'Authentication required, not authenticated',
            extensions: {
              type: 'authentication error',
              userPresentableMessage: 'You need to authenticate to access this operation.',
            },
          },
        ],
      });
    await incidentAndPostmortem();
    const failed = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'postmortem.out_failed');
    assert.match(
      failed?.summary ?? '',
      /Linear could not create an issue \(HTTP 400: Authentication required/,
    );
  });

  it('publishes to Confluence, and updates the same page with the next version on re-run', async () => {
    start({
      publish: {
        confluence: {
          site: 'https://acme.atlassian.net',
          spaceKey: 'OPS',
          parentId: '123456',
          email: { env: 'CONF_EMAIL' },
          token: { env: 'CONF_TOKEN' },
        },
      },
    });
    const basic = `Basic ${Buffer.from(`bot@acme.example:${CONF_TOKEN}`).toString('base64')}`;
    const page = {
      id: '98765',
      type: 'page',
      status: 'current',
      title: 'Post-mortem INC-1: OOM on cloud (payments)',
      version: { number: 1, minorEdit: false },
      _links: { webui: '/spaces/OPS/pages/98765/Post-mortem+INC-1', base: 'https://acme.atlassian.net/wiki' },
    };
    let created:
      | {
          title: string;
          space: { key: string };
          ancestors: { id: string }[];
          body: { storage: { value: string; representation: string } };
        }
      | undefined;
    nock('https://acme.atlassian.net')
      .matchHeader('authorization', basic)
      .post('/wiki/rest/api/content', (body) => {
        created = body;
        return true;
      })
      .reply(200, page);
    await incidentAndPostmortem();
    assert.equal(created?.title, 'Post-mortem INC-1: OOM on cloud (payments)');
    assert.deepEqual(created?.ancestors, [{ id: '123456' }]);
    assert.equal(created?.body.storage.representation, 'storage');
    assert.match(created?.body.storage.value ?? '', /^<h1>Post-mortem: INC-1 · payments · SEV1<\/h1>/);
    assert.match(created?.body.storage.value ?? '', /<h2>Summary<\/h2>/);

    let updated: { version: { number: number }; body: { storage: { value: string } } } | undefined;
    nock('https://acme.atlassian.net')
      .get('/wiki/rest/api/content/98765')
      .query({ expand: 'version' })
      .reply(200, page);
    nock('https://acme.atlassian.net')
      .put('/wiki/rest/api/content/98765', (body) => {
        updated = body;
        return true;
      })
      .reply(200, { ...page, version: { number: 2, minorEdit: false } });
    await t.command('alice', '/postmortem');
    await t.bot.idle();
    assert.equal(updated?.version.number, 2);
    const published = (await t.bot.deps.timeline.read('INC-1')).filter(
      (e) => e.kind === 'postmortem.published',
    );
    assert.deepEqual(
      published.map((e) => e.summary),
      [
        'Post-mortem published to confluence (version 1): https://acme.atlassian.net/wiki/spaces/OPS/pages/98765/Post-mortem+INC-1',
        'Post-mortem published to confluence (version 2): https://acme.atlassian.net/wiki/spaces/OPS/pages/98765/Post-mortem+INC-1',
      ],
    );
  });

  it('updates the Confluence page a lost create made, instead of failing on its title', async () => {
    start({
      publish: {
        confluence: {
          site: 'https://acme.atlassian.net',
          spaceKey: 'OPS',
          email: { env: 'CONF_EMAIL' },
          token: { env: 'CONF_TOKEN' },
        },
      },
    });
    const title = 'Post-mortem INC-1: OOM on cloud (payments)';
    const page = {
      id: '98766',
      type: 'page',
      status: 'current',
      title,
      version: { number: 1 },
      _links: { webui: '/spaces/OPS/pages/98766', base: 'https://acme.atlassian.net/wiki' },
    };
    nock('https://acme.atlassian.net')
      .post('/wiki/rest/api/content')
      .reply(400, {
        statusCode: 400,
        data: { authorized: true, valid: true, errors: [], successful: false },
        message:
          'com.atlassian.confluence.api.service.exceptions.BadRequestException: A page with this title already exists: A page already exists with the same TITLE in this space',
      });
    nock('https://acme.atlassian.net')
      .get('/wiki/rest/api/content')
      .query({ spaceKey: 'OPS', title, expand: 'version' })
      .reply(200, { results: [page], start: 0, limit: 25, size: 1, _links: {} });
    nock('https://acme.atlassian.net')
      .get('/wiki/rest/api/content/98766')
      .query({ expand: 'version' })
      .reply(200, page);
    let version = 0;
    nock('https://acme.atlassian.net')
      .put('/wiki/rest/api/content/98766', (body) => {
        version = body.version.number;
        return true;
      })
      .reply(200, { ...page, version: { number: 2 } });
    await incidentAndPostmortem();
    assert.equal(version, 2);
    const state = await postmortemOutOf(t.bot.deps)?.state('INC-1');
    assert.equal(state?.pages.confluence?.id, '98766');
    assert.ok(!(await kinds()).includes('postmortem.out_failed'));
  });

  it('publishes to Notion as a child page, and replaces its blocks on re-run', async () => {
    start({ publish: { notion: { parentPageId: NOTION_PARENT, token: { env: 'NOTION_TOKEN' } } } });
    const pageId = 'b55c9c91-384d-452b-81db-d1ef79372b75';
    const url = 'https://www.notion.so/Post-mortem-INC-1-b55c9c91384d452b81dbd1ef79372b75';
    let created:
      | {
          parent: { page_id: string };
          properties: { title: { title: { text: { content: string } }[] } };
          children: { type: string }[];
        }
      | undefined;
    nock('https://api.notion.com')
      .matchHeader('authorization', `Bearer ${NOTION_TOKEN}`)
      .matchHeader('notion-version', '2022-06-28')
      .post('/v1/pages', (body) => {
        created = body;
        return true;
      })
      .reply(200, { object: 'page', id: pageId, url, parent: { type: 'page_id', page_id: NOTION_PARENT } });
    await incidentAndPostmortem();
    assert.equal(created?.parent.page_id, NOTION_PARENT);
    assert.equal(
      created?.properties.title.title[0]?.text.content,
      'Post-mortem INC-1: OOM on cloud (payments)',
    );
    assert.equal(created?.children[0]?.type, 'heading_1');
    assert.ok(created?.children.some((b) => b.type === 'table'));

    nock('https://api.notion.com')
      .patch(`/v1/pages/${pageId}`)
      .reply(200, { object: 'page', id: pageId, url });
    nock('https://api.notion.com')
      .get(`/v1/blocks/${pageId}/children`)
      .query({ page_size: '100' })
      .reply(200, {
        object: 'list',
        results: [
          { object: 'block', id: 'old-1' },
          { object: 'block', id: 'old-2' },
        ],
        next_cursor: null,
        has_more: false,
        type: 'block',
        block: {},
      });
    nock('https://api.notion.com')
      .delete('/v1/blocks/old-1')
      .reply(200, { object: 'block', id: 'old-1', archived: true });
    nock('https://api.notion.com')
      .delete('/v1/blocks/old-2')
      .reply(200, { object: 'block', id: 'old-2', archived: true });
    let appended = 0;
    nock('https://api.notion.com')
      .patch(`/v1/blocks/${pageId}/children`, (body) => {
        appended = body.children.length;
        return true;
      })
      .reply(200, { object: 'list', results: [], next_cursor: null, has_more: false });
    await t.command('alice', '/postmortem');
    await t.bot.idle();
    assert.equal(appended, created?.children.length);
    const state = await postmortemOutOf(t.bot.deps)?.state('INC-1');
    assert.equal(state?.pages.notion?.id, pageId);
  });
});
