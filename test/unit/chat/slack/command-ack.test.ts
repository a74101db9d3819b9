// The HTTP receiver acks a signed slash command before Bolt processes it, and checks the signature before anything.
import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import nock from 'nock';
import { signatureProblem } from '../../../../src/chat/slack/command-ack.ts';
import { MemoryStore } from '../../../../src/store/memory.ts';
import { testConfig } from '../../../support/bot.ts';
import { useNock } from '../../../support/nock.ts';
import {
  buttonBody,
  commandBody,
  eventually,
  nockAuthTest,
  RESPONSE_HOST,
  sign,
  SIGNING_SECRET,
  startHttpBot,
  type HttpBot,
} from '../../../support/slack.ts';

const CHANNEL = 'C0PAYMENTS';

describe('slash commands acked by the receiver', () => {
  useNock();
  let app: HttpBot;
  /** Bolt's global middleware runs before any listener: holding it holds Bolt's processing of every request. */
  let hold: Promise<void>;
  let release: () => void;
  let processed: string[];

  beforeEach(async () => {
    nockAuthTest();
    app = await startHttpBot({ config: testConfig(), store: new MemoryStore() });
    processed = [];
    hold = new Promise((resolve) => (release = resolve));
    app.transport.app.use(async ({ body, next }) => {
      processed.push(String((body as { command?: string; type?: string }).command ?? body.type));
      await hold;
      await next();
    });
  });

  afterEach(async () => {
    release();
    await app.stop();
    nock.cleanAll();
  });

  function commandReq(command = '/incident', text = 'status') {
    return commandBody({ command, text, userId: 'U0ALICE', userName: 'alice', channel: CHANNEL });
  }

  /** Slack's response_url for `req`, keeping what the bot posts there. */
  function replyUrl(req: { responsePath: string }) {
    const replies: { text: string }[] = [];
    const scope = nock(RESPONSE_HOST)
      .post(req.responsePath, (body: { text: string }) => replies.push(body) > 0)
      .reply(200, 'ok');
    return {
      replies,
      sent: () => eventually(() => assert.ok(scope.isDone(), 'a reply went to response_url')),
    };
  }

  /** Sends `req`, expects the 200, and returns the reply posted to its response_url once the bot is idle. */
  async function sendForReply(req: { body: string; contentType: string; responsePath: string }) {
    const url = replyUrl(req);
    const res = await app.send(req.body, req.contentType);
    assert.equal(res.status, 200);
    await url.sent();
    await app.bot.idle();
    return url.replies[0]?.text ?? '';
  }

  it('answers 200 without waiting for Bolt, then runs the command and replies', async () => {
    const req = commandReq();
    const url = replyUrl(req);

    const res = await Promise.race([
      app.send(req.body, req.contentType),
      new Promise<'no ack'>((resolve) => setTimeout(() => resolve('no ack'), 2000)),
    ]);

    assert.notEqual(res, 'no ack', 'the ack waited for Bolt');
    assert.equal((res as Response).status, 200);
    assert.equal(await (res as Response).text(), '');
    await url.sent();
    await app.bot.idle();
    assert.match(url.replies[0]?.text ?? '', /has no active incident/);
    assert.deepEqual(processed, [], "Bolt's processing is skipped for a command");
  });

  it('answers a command the bot does not have with how to find the ones it has', async () => {
    const text = await sendForReply(commandReq('/nope', ''));
    assert.match(text, /\/nope is not a cloud-safety command. Try \/incident help/);
  });

  it('answers a body changed after signing with 401, and Bolt never sees it', async () => {
    const req = commandReq();
    const headers = sign(req.body);
    const res = await app.send(
      req.body.replace('text=status', 'text=declare+payments'),
      req.contentType,
      headers,
    );
    assert.equal(res.status, 401);
    await app.bot.idle();
    assert.deepEqual(processed, []);
  });

  it('leaves a button press to Bolt, which still gets the body the receiver read', async () => {
    release();
    const req = buttonBody({
      actionId: 'no-such-button',
      value: 'x',
      userId: 'U0ALICE',
      userName: 'alice',
      channel: CHANNEL,
      messageTs: '1764150000.000100',
    });
    const text = await sendForReply(req);
    assert.deepEqual(processed, ['block_actions']);
    assert.match(text, /no longer handled/);
  });
});

describe('signatureProblem', () => {
  const key = createSecretKey(Buffer.from(SIGNING_SECRET));
  const body = Buffer.from('command=%2Fincident&text=status');
  const now = 1_764_150_000;
  const signed = (timestamp = now) => sign(body.toString(), { timestamp });

  it('accepts a body signed with the secret within five minutes', () => {
    const h = signed(now - 299);
    assert.equal(
      signatureProblem(key, body, h['x-slack-request-timestamp'], h['x-slack-signature'], now),
      undefined,
    );
  });

  it('refuses a stale or a future timestamp, a malformed signature, another secret, a changed body', () => {
    const stale = signed(now - 301);
    const future = signed(now + 301);
    const ok = signed();
    const other = sign(body.toString(), { timestamp: now, secret: 'another-secret' });
    const check = (b: Buffer, h: Record<string, string>) =>
      signatureProblem(key, b, h['x-slack-request-timestamp'], h['x-slack-signature'], now);
    assert.match(check(body, stale) ?? '', /more than 5 minutes/);
    assert.match(check(body, future) ?? '', /more than 5 minutes/);
    assert.match(check(body, { ...ok, 'x-slack-signature': 'v0=abc' }) ?? '', /v0=<64 hex digits>/);
    assert.match(check(body, { ...ok, 'x-slack-request-timestamp': 'soon' }) ?? '', /not a number/);
    assert.equal(check(body, other), 'signature mismatch');
    assert.equal(check(Buffer.from(`${body.toString()}&x=1`), ok), 'signature mismatch');
    assert.match(signatureProblem(key, body, undefined, undefined, now) ?? '', /timestamp is missing/);
  });
});
