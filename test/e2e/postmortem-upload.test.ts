// /postmortem in HTTP mode: signed requests through Bolt, files.uploadV2's three steps answered by nock, bodies asserted.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import type { RedisStore } from '../../src/store/redis.ts';
import { testConfig } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import {
  commandBody,
  eventually,
  nockAuthTest,
  RESPONSE_HOST,
  SLACK_API,
  startHttpBot,
  type HttpBot,
} from '../support/slack.ts';

const CHANNEL = 'C0PAYMENTS';
const UPLOAD_HOST = 'https://files.slack.test';

/** A file object as files.completeUploadExternal returns it. */
function slackFile(id: string, name: string, title: string, size: number) {
  return {
    id,
    created: 1795685100,
    timestamp: 1795685100,
    name,
    title,
    mimetype: '',
    filetype: '',
    pretty_type: '',
    user: 'U0BOT',
    user_team: 'T0TEAM',
    editable: false,
    size,
    mode: 'hosted',
    is_external: false,
    external_type: '',
    is_public: false,
    public_url_shared: false,
    display_as_bot: false,
    username: '',
    url_private: `https://files.slack.com/files-pri/T0TEAM-${id}/${name}`,
    url_private_download: `https://files.slack.com/files-pri/T0TEAM-${id}/download/${name}`,
    permalink: `https://acme.slack.com/files/U0BOT/${id}/${name}`,
    permalink_public: `https://slack-files.com/T0TEAM-${id}-0a1b2c3d4e`,
    comments_count: 0,
    is_starred: false,
    shares: {},
    channels: [],
    groups: [],
    ims: [],
    has_more_shares: false,
    has_rich_preview: false,
    file_access: 'visible',
  };
}

describe('/postmortem upload over the Slack Web API (HTTP mode)', () => {
  useNock();
  let store: RedisStore;
  let app: HttpBot;
  let dir: string;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    dir = mkdtempSync(join(tmpdir(), 'cs-evidence-'));
    nockAuthTest();
    app = await startHttpBot({ config: testConfig({ evidence: { dir } }), store });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
    nock.cleanAll();
    rmSync(dir, { recursive: true, force: true });
  });

  async function command(name: string, text: string) {
    const req = commandBody({ command: name, text, userId: 'U0ALICE', userName: 'alice', channel: CHANNEL });
    const replies: { text: string }[] = [];
    const scope = nock(RESPONSE_HOST)
      .post(req.responsePath, (body) => {
        replies.push(body);
        return true;
      })
      .reply(200, { ok: true });
    assert.equal((await app.send(req.body, req.contentType)).status, 200);
    await eventually(() => assert.ok(scope.isDone(), 'the reply was sent to response_url'));
    await app.bot.idle();
    return replies;
  }

  /** The three calls filesUploadV2 makes for one file; returns what each received. */
  function expectUpload(fileId: string, filename: string) {
    const seen: { get?: Record<string, string>; upload?: string; complete?: Record<string, string> } = {};
    nock(SLACK_API)
      .post('/api/files.getUploadURLExternal', (body) => {
        seen.get = body;
        return body.filename === filename;
      })
      .reply(200, { ok: true, upload_url: `${UPLOAD_HOST}/upload/v1/${fileId}`, file_id: fileId });
    nock(UPLOAD_HOST)
      .post(`/upload/v1/${fileId}`, (body) => {
        seen.upload = String(body);
        return true;
      })
      .reply(200, `OK - ${fileId}`);
    nock(SLACK_API)
      .post('/api/files.completeUploadExternal', (body) => {
        seen.complete = body;
        return JSON.parse(body.files)[0]?.id === fileId;
      })
      .reply(200, () => {
        const [file] = JSON.parse(seen.complete?.files ?? '[]') as { id: string; title: string }[];
        return {
          ok: true,
          files: [slackFile(fileId, filename, file?.title ?? '', Number(seen.get?.length))],
        };
      });
    return seen;
  }

  it('uploads the Markdown and its JSON twin with files.uploadV2 and writes both under the evidence dir', async () => {
    nock(SLACK_API)
      .post('/api/chat.postMessage')
      .reply(200, {
        ok: true,
        channel: CHANNEL,
        ts: '1795683600.000100',
        message: { ts: '1795683600.000100' },
      });
    nock(SLACK_API).post('/api/pins.add').reply(200, { ok: true });
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();
    await command('/incident', 'declare payments sev=1 Cloud pods OOMKilled');

    nock(SLACK_API)
      .post(
        '/api/chat.getPermalink',
        (body) => body.channel === CHANNEL && body.message_ts === '1795683600.000100',
      )
      .reply(200, {
        ok: true,
        channel: CHANNEL,
        permalink: 'https://acme.slack.com/archives/C0PAYMENTS/p1795683600000100',
      });
    const md = expectUpload('F0MARKDOWN1', 'postmortem-INC-1.md');
    const json = expectUpload('F0JSONTWIN1', 'postmortem-INC-1.json');

    const replies = await command('/postmortem', '');

    const mdFile = readFileSync(join(dir, 'INC-1', 'postmortem-INC-1.md'), 'utf8');
    const jsonFile = readFileSync(join(dir, 'INC-1', 'postmortem-INC-1.json'), 'utf8');
    // Step 1: the upload URL is asked for with the exact byte length.
    assert.equal(md.get?.length, String(Buffer.byteLength(mdFile)));
    assert.equal(json.get?.length, String(Buffer.byteLength(jsonFile)));
    // Step 2: the bytes themselves go to the upload URL.
    assert.ok(md.upload?.includes('# Post-mortem (DRAFT, incident still open): INC-1 · payments · SEV1'));
    assert.ok(
      md.upload?.includes('[C0PAYMENTS](https://acme.slack.com/archives/C0PAYMENTS/p1795683600000100)'),
    );
    assert.ok(json.upload?.includes('"schema": "cloud-safety.postmortem/v1"'));
    // Step 3: shared in the incident channel, the Markdown with its comment.
    assert.equal(md.complete?.channel_id, CHANNEL);
    assert.deepEqual(JSON.parse(md.complete?.files ?? '[]'), [
      { id: 'F0MARKDOWN1', title: 'Post-mortem draft INC-1 (payments)' },
    ]);
    assert.match(
      md.complete?.initial_comment ?? '',
      /Post-mortem draft \(incident still open\) for INC-1, generated from 1 timeline events \(hash chain verified\)/,
    );
    assert.equal(json.complete?.channel_id, CHANNEL);
    assert.equal(json.complete?.initial_comment, undefined);

    assert.match(replies[0]?.text ?? '', /Post-mortem draft for INC-1: .*postmortem-INC-1.md/);
    const generated = (await app.bot.deps.timeline.read('INC-1')).find(
      (e) => e.kind === 'postmortem.generated',
    );
    assert.equal(
      (generated?.data as { markdown: { permalink: string } }).markdown.permalink,
      'https://acme.slack.com/files/U0BOT/F0MARKDOWN1/postmortem-INC-1.md',
    );
  });

  it('still writes the files and says so when Slack refuses the upload', async () => {
    nock(SLACK_API)
      .post('/api/chat.postMessage')
      .reply(200, { ok: true, channel: CHANNEL, ts: '1795683600.000100' });
    nock(SLACK_API).post('/api/pins.add').reply(200, { ok: true });
    nock(SLACK_API).post('/api/chat.update').optionally().reply(200, { ok: true }).persist();
    await command('/incident', 'declare payments');
    nock(SLACK_API).post('/api/chat.getPermalink').reply(200, {
      ok: true,
      channel: CHANNEL,
      permalink: 'https://acme.slack.com/archives/C0PAYMENTS/p1795683600000100',
    });
    nock(SLACK_API).post('/api/files.getUploadURLExternal').reply(200, {
      ok: false,
      error: 'missing_scope',
      needed: 'files:write',
      provided: 'chat:write,commands',
    });

    const replies = await command('/postmortem', '');

    readFileSync(join(dir, 'INC-1', 'postmortem-INC-1.md'), 'utf8');
    assert.match(replies[0]?.text ?? '', /Post-mortem draft for INC-1/);
    const blocks = JSON.stringify((replies[0] as { blocks?: unknown }).blocks);
    assert.match(
      blocks,
      /Upload to the channel failed: files.uploadV2: missing_scope \(add the scope files:write to the Slack app and reinstall it\)/,
    );
    const generated = (await app.bot.deps.timeline.read('INC-1')).find(
      (e) => e.kind === 'postmortem.generated',
    );
    assert.match(generated?.summary ?? '', /upload failed: files.uploadV2: missing_scope/);
  });
});
