// Drives the real Bolt HTTP receiver with signed requests. No nock here: benchmarks use it too, and importing
// nock patches every HTTP client in the process.
import { createHmac } from 'node:crypto';
import { LogLevel, type RetryOptions } from '@slack/web-api';
import type { Bot } from '../../src/bot.ts';
import { SlackChat, slackWebClient } from '../../src/chat/slack/chat.ts';
import type { BudgetOptions } from '../../src/chat/slack/budget.ts';
import { startSlack, type SlackTransport } from '../../src/chat/slack/app.ts';
import type { Config } from '../../src/config.ts';
import type { Adapters } from '../../src/deps.ts';
import type { MirrorOptions } from '../../flows/pagerduty/mirror.ts';
import { healthRoutes } from '../../src/http.ts';
import { buildBot, type BuildOptions } from '../../src/main.ts';
import { integrationRoutes } from '../../flows/integrations/routes.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import type { Store } from '../../src/store/store.ts';
import { memoryLogger } from './bot.ts';

export const SIGNING_SECRET = 'test-signing-secret-5f2b8c';
export const BOT_TOKEN = 'xoxb-1111-2222-test-bot-token';
export const SLACK_API = 'https://slack.test';
export const SLACK_API_URL = `${SLACK_API}/api/`;
export const RESPONSE_HOST = 'https://hooks.slack.test';
export const TEAM = 'T0TEAM';

export function sign(
  body: string,
  opts: { secret?: string; timestamp?: number } = {},
): Record<string, string> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', opts.secret ?? SIGNING_SECRET)
    .update(`v0:${timestamp}:${body}`)
    .digest('hex');
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': `v0=${signature}` };
}

let responseSeq = 0;

/** The form fields Slack sends for a slash command. */
export function commandForm(args: {
  command: string;
  text: string;
  userId: string;
  userName: string;
  channel: string;
  responseUrl: string;
  triggerId: string;
}): string {
  return new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: TEAM,
    team_domain: 'acme',
    channel_id: args.channel,
    channel_name: 'inc-payments',
    user_id: args.userId,
    user_name: args.userName,
    command: args.command,
    text: args.text,
    api_app_id: 'A0APP',
    is_enterprise_install: 'false',
    response_url: args.responseUrl,
    trigger_id: args.triggerId,
  }).toString();
}

/** The form body Slack sends for a slash command; response_url points at the nock'd hooks host. */
export function commandBody(args: {
  command: string;
  text: string;
  userId: string;
  userName: string;
  channel: string;
}) {
  responseSeq += 1;
  const responsePath = `/commands/${TEAM}/${responseSeq}/resp${responseSeq}`;
  const body = commandForm({
    ...args,
    responseUrl: `${RESPONSE_HOST}${responsePath}`,
    triggerId: `${responseSeq}.1.abc`,
  });
  return { body, responsePath, contentType: 'application/x-www-form-urlencoded' };
}

/** The block_actions payload Slack sends when a button on a message is pressed. */
export function buttonPayload(args: {
  actionId: string;
  value: string;
  userId: string;
  userName: string;
  channel: string;
  messageTs: string;
  responseUrl: string;
  triggerId: string;
}): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: { id: args.userId, username: args.userName, name: args.userName, team_id: TEAM },
    api_app_id: 'A0APP',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: args.messageTs, channel_id: args.channel, is_ephemeral: false },
    trigger_id: args.triggerId,
    team: { id: TEAM, domain: 'acme' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: args.channel, name: 'inc-payments' },
    message: {
      type: 'message',
      user: 'U0BOT',
      ts: args.messageTs,
      bot_id: 'B0BOT',
      text: 'approval',
      blocks: [],
    },
    state: { values: {} },
    response_url: args.responseUrl,
    actions: [
      {
        type: 'button',
        block_id: 'approval',
        action_id: args.actionId,
        text: { type: 'plain_text', text: 'Approve', emoji: true },
        value: args.value,
        style: 'primary',
        action_ts: `${Math.floor(Date.now() / 1000)}.000200`,
      },
    ],
  };
}

/** Interactivity payloads arrive as a form with one `payload` field of JSON. */
export function payloadForm(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** The interactivity request Slack sends when a button is pressed; response_url on the nock'd hooks host. */
export function buttonBody(args: {
  actionId: string;
  value: string;
  userId: string;
  userName: string;
  channel: string;
  messageTs: string;
}) {
  responseSeq += 1;
  const responsePath = `/actions/${TEAM}/${responseSeq}/act${responseSeq}`;
  const payload = buttonPayload({
    ...args,
    responseUrl: `${RESPONSE_HOST}${responsePath}`,
    triggerId: `${responseSeq}.1.def`,
  });
  return { body: payloadForm(payload), responsePath, contentType: 'application/x-www-form-urlencoded' };
}

/** The Events API envelope for reaction_added. */
export function reactionBody(args: {
  eventId: string;
  reaction: string;
  userId: string;
  channel: string;
  ts: string;
}) {
  const body = JSON.stringify({
    token: 'legacy-verification-token',
    team_id: TEAM,
    api_app_id: 'A0APP',
    event: {
      type: 'reaction_added',
      user: args.userId,
      reaction: args.reaction,
      item_user: 'U0ALICE',
      item: { type: 'message', channel: args.channel, ts: args.ts },
      event_ts: `${Math.floor(Date.now() / 1000)}.000300`,
    },
    type: 'event_callback',
    event_id: args.eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [
      { enterprise_id: null, team_id: TEAM, user_id: 'U0BOT', is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
    event_context: '4-eyJldCI6InJlYWN0aW9uX2FkZGVkIn0',
  });
  return { body, contentType: 'application/json' };
}

export interface HttpBot {
  bot: Bot;
  /** The Chat the bot was built on (its budget's backlog). */
  slackChat: SlackChat;
  port: number;
  url: string;
  metrics: Metrics;
  logLines: string[];
  transport: SlackTransport;
  send(body: string, contentType: string, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

export interface HttpBotOptions {
  config: Config;
  store: Store;
  adapters?: Partial<Adapters>;
  instanceId?: string;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  pagerdutyMirror?: Partial<MirrorOptions>;
  /** Drills' ledger fallback, heartbeat and exec start (buildBot's `drills`). */
  drills?: BuildOptions['drills'];
  /** The Web API base (default SLACK_API_URL, answered by nock). */
  apiUrl?: string;
  /** The Web API client's retry policy (default none, so a nock'd failure shows at once). */
  retry?: RetryOptions;
  /** The per-method rate budget (default: a minute of 600 ms; tests of the tiers set the local Slack's scale). */
  budget?: BudgetOptions;
  editIntervalMs?: number;
  schedulerTickMs?: number;
  /** More values the logger must hide. */
  secrets?: string[];
  /** Default debug, kept in memory for assertions; benchmarks pass 'silent'. */
  logLevel?: string;
}

/** The whole app in HTTP mode, on a free port, with the Web API at `apiUrl`. */
export async function startHttpBot(opts: HttpBotOptions): Promise<HttpBot> {
  const { log, lines, redactor } = memoryLogger(
    [BOT_TOKEN, SIGNING_SECRET, ...(opts.secrets ?? [])],
    opts.logLevel,
  );
  const metrics = createMetrics({ defaults: false });
  const apiUrl = opts.apiUrl ?? SLACK_API_URL;
  const retry = opts.retry ?? { retries: 0 };
  const client = slackWebClient(BOT_TOKEN, {
    apiUrl,
    retry,
    // The client's own console lines ("Will retry in 1 seconds") would drown the test output.
    logLevel: LogLevel.ERROR,
  });
  // As in production, a 429 is waited out as often as the retry policy allows other failures to be. The nock'd
  // Web API and the bench stub model no tiers, so Slack's minute lasts 600 ms here unless a test sets its own.
  const chat = new SlackChat(client, {
    budget: { retries: retry.retries ?? 0, timeScale: 0.01, ...opts.budget },
  });
  const bot = buildBot({
    config: opts.config,
    store: opts.store,
    chat,
    log,
    redactor,
    metrics,
    editIntervalMs: opts.editIntervalMs ?? 0,
    ...(opts.schedulerTickMs ? { schedulerTickMs: opts.schedulerTickMs } : {}),
    env: opts.env ?? {},
    ...(opts.adapters ? { adapters: opts.adapters } : {}),
    ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.pagerdutyMirror ? { pagerdutyMirror: opts.pagerdutyMirror } : {}),
    ...(opts.drills ? { drills: opts.drills } : {}),
  });
  await bot.start();
  const transport = await startSlack(bot, {
    mode: 'http',
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    port: 0,
    apiUrl,
    // As main.ts wires them: the integration routes are there when the config has an integrations section.
    routes: [
      ...healthRoutes({ store: opts.store, metrics, mode: 'http' }),
      ...integrationRoutes(bot.deps, opts.env ?? {}),
    ],
    log,
  });
  const port = transport.port;
  return {
    bot,
    slackChat: chat,
    port,
    url: `http://127.0.0.1:${port}`,
    metrics,
    logLines: lines,
    transport,
    send(body, contentType, headers = sign(body)) {
      return fetch(`http://127.0.0.1:${port}/slack/events`, {
        method: 'POST',
        headers: { 'content-type': contentType, ...headers },
        body,
      });
    },
    async stop() {
      await transport.stop();
      await bot.stop();
    },
  };
}

/** Waits until `check` passes (background work after the ack), failing with its last error. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The Web API client form-encodes arrays as JSON strings: parse them back so tests assert real blocks. */
export function webApiBody<T = Record<string, unknown>>(body: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...body };
  for (const key of ['blocks', 'attachments']) {
    if (typeof out[key] === 'string') out[key] = JSON.parse(out[key] as string);
  }
  return out as T;
}
