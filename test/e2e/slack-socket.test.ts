// Socket Mode end to end: a local WebSocket server plays Slack, delivers a slash command envelope, and sees the ack.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { WebSocketServer, type WebSocket } from 'ws';
import { WebClient } from '@slack/web-api';
import { startSlack, type SlackTransport } from '../../src/chat/slack/app.ts';
import { SlackChat } from '../../src/chat/slack/chat.ts';
import { healthRoutes } from '../../src/http.ts';
import { buildBot } from '../../src/main.ts';
import { createMetrics } from '../../src/metrics.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { memoryLogger, testConfig } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import {
  BOT_TOKEN,
  eventually,
  nockAuthTest,
  RESPONSE_HOST,
  SLACK_API,
  SLACK_API_URL,
  TEAM,
} from '../support/slack.ts';

const APP_TOKEN = 'xapp-1-A0APP-1111-socketmodetesttoken';

describe('Slack Socket Mode (local WebSocket server)', () => {
  useNock();
  let wss: WebSocketServer;
  let transport: SlackTransport | undefined;
  const acks: { envelope_id: string }[] = [];
  let socket: WebSocket | undefined;

  beforeEach(async () => {
    acks.length = 0;
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    wss.on('connection', (ws) => {
      socket = ws;
      ws.on('message', (data) => acks.push(JSON.parse(String(data)) as { envelope_id: string }));
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: 1,
          debug_info: { host: 'applink-test', approximate_connection_time: 18060 },
          connection_info: { app_id: 'A0APP' },
        }),
      );
    });
  });

  afterEach(async () => {
    await transport?.stop();
    transport = undefined;
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  it('connects with the app token, acks a slash command envelope, and replies through response_url', async () => {
    const port = (wss.address() as AddressInfo).port;
    const open = nock(SLACK_API, { reqheaders: { authorization: `Bearer ${APP_TOKEN}` } })
      .post('/api/apps.connections.open')
      .reply(200, { ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=test-ticket&app_id=A0APP` });
    nockAuthTest();
    const replies: { text: string; response_type: string }[] = [];
    nock(RESPONSE_HOST)
      .post('/commands/T0TEAM/42/sock', (body) => {
        replies.push(body);
        return true;
      })
      .reply(200, { ok: true });
    const { log, redactor } = memoryLogger([APP_TOKEN, BOT_TOKEN]);
    const store = new MemoryStore();
    const metrics = createMetrics({ defaults: false });
    const bot = buildBot({
      config: testConfig(),
      store,
      chat: new SlackChat(
        new WebClient(BOT_TOKEN, { slackApiUrl: SLACK_API_URL, retryConfig: { retries: 0 } }),
      ),
      log,
      redactor,
      metrics,
      env: {},
    });
    transport = await startSlack(bot, {
      mode: 'socket',
      botToken: BOT_TOKEN,
      appToken: APP_TOKEN,
      port: 0,
      apiUrl: SLACK_API_URL,
      routes: healthRoutes({ store, metrics, mode: 'socket' }),
      log,
    });
    assert.ok(open.isDone());
    await eventually(() => assert.ok(socket));

    socket?.send(
      JSON.stringify({
        envelope_id: 'env-0001',
        type: 'slash_commands',
        accepts_response_payload: true,
        payload: {
          token: 'legacy',
          team_id: TEAM,
          team_domain: 'acme',
          channel_id: 'C0SOCKET',
          channel_name: 'inc',
          user_id: 'U0ALICE',
          user_name: 'alice',
          command: '/incident',
          text: 'status',
          api_app_id: 'A0APP',
          is_enterprise_install: 'false',
          response_url: `${RESPONSE_HOST}/commands/T0TEAM/42/sock`,
          trigger_id: '42.1.x',
        },
      }),
    );

    await eventually(() =>
      assert.deepEqual(
        acks.map((a) => a.envelope_id),
        ['env-0001'],
      ),
    );
    await eventually(() => assert.equal(replies.length, 1));
    await bot.idle();
    assert.equal(replies[0]?.response_type, 'ephemeral');
    assert.match(replies[0]?.text ?? '', /This channel has no active incident\. Declare one first/);
  });
});
