// The whole app in HTTP mode against the local Slack, and signed command/button requests whose response_url is local.
import { LogLevel, WebClient, type RetryOptions } from '@slack/web-api';
import type { Bot } from '../../../src/bot.ts';
import { startSlack, type SlackTransport } from '../../../src/chat/slack/app.ts';
import { SlackChat } from '../../../src/chat/slack/chat.ts';
import type { Config } from '../../../src/config.ts';
import type { Adapters } from '../../../src/deps.ts';
import { healthRoutes } from '../../../src/http.ts';
import { buildBot } from '../../../src/main.ts';
import { createMetrics, type Metrics } from '../../../src/metrics.ts';
import type { Store } from '../../../src/store/store.ts';
import type { MirrorOptions } from '../../../flows/pagerduty.ts';
import { memoryLogger } from '../../support/bot.ts';
import { BOT_TOKEN, SIGNING_SECRET, sign } from '../../support/slack.ts';
import type { LocalSlack } from './slack-server.ts';

export const TEAM = 'T0TEAM';

/** The Web API retry policy src/main.ts uses in production. */
export const PRODUCTION_SLACK_RETRY: RetryOptions = {
  retries: 5,
  factor: 2,
  minTimeout: 1000,
  maxTimeout: 30_000,
};

export interface FaultBot {
  bot: Bot;
  port: number;
  url: string;
  metrics: Metrics;
  logLines: string[];
  transport: SlackTransport;
  /** POSTs a body to /slack/events, signed unless `headers` says otherwise. */
  send(body: string, contentType: string, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

export async function startFaultBot(opts: {
  config: Config;
  store: Store;
  slack: LocalSlack;
  adapters?: Partial<Adapters>;
  instanceId?: string;
  env?: NodeJS.ProcessEnv;
  retry?: RetryOptions;
  editIntervalMs?: number;
  schedulerTickMs?: number;
  now?: () => Date;
  pagerdutyMirror?: Partial<MirrorOptions>;
  secrets?: string[];
}): Promise<FaultBot> {
  const { log, lines, redactor } = memoryLogger([BOT_TOKEN, SIGNING_SECRET, ...(opts.secrets ?? [])]);
  const metrics = createMetrics({ defaults: false });
  const client = new WebClient(BOT_TOKEN, {
    slackApiUrl: opts.slack.apiUrl,
    retryConfig: opts.retry ?? { retries: 0 },
    // The client's own console lines ("Will retry in 1 seconds") would drown the test output.
    logLevel: LogLevel.ERROR,
  });
  const bot = buildBot({
    config: opts.config,
    store: opts.store,
    chat: new SlackChat(client),
    log,
    redactor,
    metrics,
    editIntervalMs: opts.editIntervalMs ?? 0,
    ...(opts.schedulerTickMs ? { schedulerTickMs: opts.schedulerTickMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    env: opts.env ?? {},
    ...(opts.adapters ? { adapters: opts.adapters } : {}),
    ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
    ...(opts.pagerdutyMirror ? { pagerdutyMirror: opts.pagerdutyMirror } : {}),
  });
  await bot.start();
  const transport = await startSlack(bot, {
    mode: 'http',
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    port: 0,
    apiUrl: opts.slack.apiUrl,
    routes: healthRoutes({ store: opts.store, metrics, mode: 'http' }),
    log,
  });
  const url = `http://127.0.0.1:${transport.port}`;
  return {
    bot,
    port: transport.port,
    url,
    metrics,
    logLines: lines,
    transport,
    send(body, contentType, headers = sign(body)) {
      return fetch(`${url}/slack/events`, {
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

export interface SlackRequest {
  body: string;
  contentType: string;
  /** The response_url id (LocalSlack.repliesTo(id)). */
  replyId: string;
}

let seq = 0;

/** The form body Slack sends for a slash command. */
export function commandRequest(
  slack: LocalSlack,
  args: { command: string; text: string; user: { id: string; name: string }; channel: string },
): SlackRequest {
  seq += 1;
  const replyId = `cmd-${seq}`;
  const body = new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: TEAM,
    team_domain: 'acme',
    channel_id: args.channel,
    channel_name: 'inc-payments',
    user_id: args.user.id,
    user_name: args.user.name,
    command: args.command,
    text: args.text,
    api_app_id: 'A0APP',
    is_enterprise_install: 'false',
    response_url: slack.responseUrl(replyId),
    trigger_id: `${seq}.1.abc`,
  }).toString();
  return { body, contentType: 'application/x-www-form-urlencoded', replyId };
}

/** The block_actions payload Slack sends for a button press on a message. */
export function buttonPayload(
  slack: LocalSlack,
  args: {
    actionId: string;
    value: string;
    user: { id: string; name: string };
    channel: string;
    messageTs: string;
  },
): { payload: Record<string, unknown>; replyId: string } {
  seq += 1;
  const replyId = `act-${seq}`;
  return {
    replyId,
    payload: {
      type: 'block_actions',
      user: { id: args.user.id, username: args.user.name, name: args.user.name, team_id: TEAM },
      api_app_id: 'A0APP',
      token: 'legacy-verification-token',
      container: {
        type: 'message',
        message_ts: args.messageTs,
        channel_id: args.channel,
        is_ephemeral: false,
      },
      trigger_id: `${seq}.1.def`,
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
      response_url: slack.responseUrl(replyId),
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
    },
  };
}

export function formOf(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export function buttonRequest(slack: LocalSlack, args: Parameters<typeof buttonPayload>[1]): SlackRequest {
  const { payload, replyId } = buttonPayload(slack, args);
  return { body: formOf(payload), contentType: 'application/x-www-form-urlencoded', replyId };
}

/** Waits until `check` passes, failing with its last error. */
export async function until(check: () => void | Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
