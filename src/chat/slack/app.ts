// Bolt wiring: translates slash commands, button presses and reaction events into Bot calls. No logic here.
import { performance } from 'node:perf_hooks';
import bolt from '@slack/bolt';
import type { AuthorizeResult, Logger as BoltLogger, LogLevel } from '@slack/bolt';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type { Bot } from '../../bot.ts';
import type { Logger } from '../../log.ts';
import type { Route } from '../../http.ts';
import type { Message } from '../chat.ts';
import { reply, ResponseUrls } from './replies.ts';
import { postResponseUrl } from './response-url.ts';

const { App, HTTPReceiver } = bolt;

export interface SlackTransportOptions {
  mode: 'socket' | 'http';
  botToken: string;
  appToken?: string;
  signingSecret?: string;
  port: number;
  apiUrl?: string;
  routes: Route[];
  log: Logger;
}

export interface SlackTransport {
  app: InstanceType<typeof App>;
  port: number;
  stop(): Promise<void>;
}

/** Bolt's Logger interface over pino. */
function boltLogger(log: Logger): BoltLogger {
  let level = 'info';
  const child = log.child({ component: 'bolt' });
  return {
    debug: (...msg: unknown[]) => child.debug(msg.map(String).join(' ')),
    info: (...msg: unknown[]) => child.info(msg.map(String).join(' ')),
    warn: (...msg: unknown[]) => child.warn(msg.map(String).join(' ')),
    error: (...msg: unknown[]) => child.error(msg.map(String).join(' ')),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level as LogLevel,
    setName: () => {},
  };
}

function ephemeral(message: Message) {
  return {
    response_type: 'ephemeral' as const,
    replace_original: false,
    text: message.text,
    ...(message.blocks ? { blocks: message.blocks } : {}),
  };
}

/**
 * Bolt's own authorization calls auth.test once and caches the answer forever, a failure included: a bot started
 * while Slack rate-limited or could not be reached never ran a listener again (every request: "Authorization of
 * incoming event did not succeed"), and a request arriving while that first auth.test was waiting out a 429 was
 * not acked in time. This one never makes a request wait for Slack: it hands Bolt the bot token at once, and learns
 * the bot's user and bot ids (used to ignore the bot's own events) in the background until auth.test succeeds.
 */
function botAuthorize(
  botToken: string,
  clientOptions: WebClientOptions,
  log: Logger,
): () => Promise<AuthorizeResult> {
  const client = new WebClient(botToken, clientOptions);
  let identity: { botUserId?: string; botId?: string } | undefined;
  let asking: Promise<void> | undefined;
  const learn = () => {
    asking ??= client.auth.test().then(
      (res) => {
        identity = {
          ...(res.user_id ? { botUserId: res.user_id } : {}),
          ...(res.bot_id ? { botId: res.bot_id } : {}),
        };
      },
      (err: unknown) => {
        asking = undefined;
        const code = (err as { data?: { error?: string } }).data?.error;
        log.warn(
          { err, code },
          code === 'invalid_auth' || code === 'not_authed' || code === 'account_inactive'
            ? 'slack auth.test refused the bot token; check SLACK_BOT_TOKEN'
            : 'slack auth.test failed; asking again on the next request',
        );
      },
    );
  };
  learn();
  return async () => {
    if (!identity) learn();
    return { botToken, ...identity };
  };
}

/** How far ahead of our clock a signed request may claim to be (Slack allows five minutes of skew). */
const MAX_FUTURE_SEC = 5 * 60;

/**
 * Bolt rejects a request timestamped more than five minutes in the past but accepts any future one, so a request
 * captured with a forged-forward timestamp could be replayed for as long as that stamp is "fresh". This answers
 * such requests 401 before Bolt sees them.
 */
function refuseFutureTimestamps(receiver: InstanceType<typeof HTTPReceiver>, log: Logger): void {
  const inner = receiver.requestListener;
  receiver.requestListener = (req, res) => {
    const header = req.headers['x-slack-request-timestamp'];
    const stamp = Number(Array.isArray(header) ? header[0] : header);
    if (Number.isFinite(stamp) && stamp > Date.now() / 1000 + MAX_FUTURE_SEC) {
      log.warn({ path: req.url, timestamp: stamp }, 'refused a signed request timestamped in the future');
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('x-slack-request-timestamp is more than 5 minutes in the future\n');
      return;
    }
    inner(req, res);
  };
}

export async function startSlack(bot: Bot, opts: SlackTransportOptions): Promise<SlackTransport> {
  const { metrics, tasks } = bot.deps;
  // response_url's five uses in thirty minutes are counted on the bot's clock (tests move it).
  const urls = new ResponseUrls(() => bot.deps.now().getTime());
  const replyDeps = { urls, chat: bot.deps.chat, log: opts.log };
  const logger = boltLogger(opts.log);
  const clientOptions = {
    ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {}),
    retryConfig: { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 5000 },
  };
  const receiver =
    opts.mode === 'http'
      ? new HTTPReceiver({
          signingSecret: opts.signingSecret ?? '',
          endpoints: '/slack/events',
          customRoutes: opts.routes,
          processBeforeResponse: false,
          logger,
        })
      : undefined;
  if (receiver) refuseFutureTimestamps(receiver, opts.log);
  const app =
    opts.mode === 'socket' || !receiver
      ? new App({
          authorize: botAuthorize(opts.botToken, { ...clientOptions, logger }, opts.log),
          appToken: opts.appToken,
          socketMode: true,
          logger,
          clientOptions,
          convoStore: false,
        })
      : new App({
          authorize: botAuthorize(opts.botToken, { ...clientOptions, logger }, opts.log),
          logger,
          // We keep no conversation state in Bolt; skipping its store saves work on every request.
          convoStore: false,
          clientOptions,
          receiver,
        });

  // Runs first on every request: the clock for the ack-latency histogram.
  app.use(async ({ context, next }) => {
    context.receivedAt = performance.now();
    await next();
  });

  function ackTimer(context: Record<string, unknown>, kind: string): void {
    const receivedAt = typeof context.receivedAt === 'number' ? context.receivedAt : performance.now();
    metrics.ackSeconds.observe({ kind }, (performance.now() - receivedAt) / 1000);
  }

  for (const name of bot.commandNames) {
    app.command(name, async ({ ack, command, context }) => {
      await ack();
      ackTimer(context, 'command');
      if (command.response_url) urls.issue(command.response_url);
      const target = { url: command.response_url, channel: command.channel_id, user: command.user_id };
      tasks.run(
        `command:${name}`,
        () =>
          bot.handleCommand({
            command: command.command,
            text: command.text ?? '',
            user: { id: command.user_id, name: command.user_name },
            channel: command.channel_id,
            ...(command.trigger_id ? { triggerId: command.trigger_id } : {}),
            respond: (message) =>
              reply(replyDeps, target, message, (m) => postResponseUrl(target.url ?? '', ephemeral(m))),
          }),
        { afterPendingIo: true },
      );
    });
  }

  app.action({ type: 'block_actions' }, async ({ ack, body, action, context }) => {
    await ack();
    ackTimer(context, 'action');
    if (action.type !== 'button') return;
    const channel = body.channel?.id ?? body.container?.channel_id ?? '';
    const messageTs = body.message?.ts ?? body.container?.message_ts;
    const responseUrl =
      'response_url' in body && typeof body.response_url === 'string' ? body.response_url : undefined;
    if (responseUrl) urls.issue(responseUrl);
    const target = { url: responseUrl, channel, user: body.user.id };
    tasks.run(
      `button:${action.action_id}`,
      () =>
        bot.handleButton({
          actionId: action.action_id,
          value: action.value ?? '',
          user: { id: body.user.id, name: body.user.username ?? body.user.name ?? body.user.id },
          channel,
          ...(messageTs ? { message: { channel, ts: messageTs } } : {}),
          respond: (message) =>
            reply(replyDeps, target, message, (m) => postResponseUrl(target.url ?? '', ephemeral(m))),
        }),
      { afterPendingIo: true },
    );
  });

  // A modal's submission: errors go back in the ack (Slack shows them beside the fields), the work after it.
  app.view({ type: 'view_submission' }, async ({ ack, body, view, context }) => {
    const values: Record<string, string | string[] | undefined> = {};
    for (const [blockId, actions] of Object.entries(view.state.values)) {
      for (const a of Object.values(actions)) {
        values[blockId] =
          a.selected_options?.map((o) => o.value) ??
          a.selected_option?.value ??
          a.selected_user ??
          a.value ??
          undefined;
      }
    }
    const errors = await bot.handleForm({
      callbackId: view.callback_id,
      values,
      user: { id: body.user.id, name: body.user.name || body.user.id },
      privateMetadata: view.private_metadata ?? '',
    });
    await ack(errors ? { response_action: 'errors', errors } : undefined);
    ackTimer(context, 'view');
  });

  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    tasks.run('app-home', () => bot.handleHomeOpened(event.user));
  });

  // Someone joined or left a user group: approver checks read memberships afresh instead of waiting for the caches.
  app.event('subteam_members_changed', async () => {
    await bot.handleGroupsChanged();
  });

  app.event('reaction_added', async ({ event, body }) => {
    if (event.item.type !== 'message') return;
    const item = event.item;
    tasks.run('reaction', () =>
      bot.handleReaction({
        reaction: event.reaction,
        user: { id: event.user, name: event.user },
        item: { channel: item.channel, ts: item.ts },
        ...('event_id' in body && typeof body.event_id === 'string' ? { eventId: body.event_id } : {}),
      }),
    );
  });

  app.error(async (err) => {
    opts.log.error({ err }, 'slack transport error');
  });

  let port = opts.port;
  if (opts.mode === 'http') {
    const server = (await app.start(opts.port)) as unknown as { address(): { port: number } | string | null };
    const address = server.address();
    if (address && typeof address === 'object') port = address.port;
  } else {
    await app.start();
  }
  return {
    app,
    port,
    stop: async () => {
      await app.stop();
    },
  };
}
