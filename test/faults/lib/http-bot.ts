// Signed command/button requests whose response_url is the local Slack server, and the app pointed at it.
import {
  buttonPayload,
  commandForm,
  eventually,
  payloadForm,
  startHttpBot,
  type HttpBot,
  type HttpBotOptions,
} from '../../support/slack.ts';
import type { LocalSlack } from './slack-server.ts';
import type { RetryOptions } from '@slack/web-api';

export { TEAM } from '../../support/slack.ts';

/** The Web API retry policy src/main.ts uses in production. */
export const PRODUCTION_SLACK_RETRY: RetryOptions = {
  retries: 5,
  factor: 2,
  minTimeout: 1000,
  maxTimeout: 30_000,
};

export type FaultBot = HttpBot;

/** The app in HTTP mode against the local Slack server. */
export function startFaultBot(
  opts: Omit<HttpBotOptions, 'apiUrl'> & { slack: LocalSlack },
): Promise<FaultBot> {
  const { slack, ...rest } = opts;
  return startHttpBot({ ...rest, apiUrl: slack.apiUrl });
}

export interface SlackRequest {
  body: string;
  contentType: string;
  /** The response_url id (LocalSlack.repliesTo(id)). */
  replyId: string;
}

let seq = 0;

/** The form body Slack sends for a slash command, answered at the local Slack's response_url. */
export function commandRequest(
  slack: LocalSlack,
  args: { command: string; text: string; user: { id: string; name: string }; channel: string },
): SlackRequest {
  seq += 1;
  const replyId = `cmd-${seq}`;
  const body = commandForm({
    command: args.command,
    text: args.text,
    userId: args.user.id,
    userName: args.user.name,
    channel: args.channel,
    responseUrl: slack.responseUrl(replyId),
    triggerId: `${seq}.1.abc`,
  });
  return { body, contentType: 'application/x-www-form-urlencoded', replyId };
}

/** The block_actions payload for a button press, answered at the local Slack's response_url. */
export function faultButtonPayload(
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
  const payload = buttonPayload({
    actionId: args.actionId,
    value: args.value,
    userId: args.user.id,
    userName: args.user.name,
    channel: args.channel,
    messageTs: args.messageTs,
    responseUrl: slack.responseUrl(replyId),
    triggerId: `${seq}.1.def`,
  });
  return { payload, replyId };
}

export const formOf = payloadForm;

export function buttonRequest(
  slack: LocalSlack,
  args: Parameters<typeof faultButtonPayload>[1],
): SlackRequest {
  const { payload, replyId } = faultButtonPayload(slack, args);
  return { body: payloadForm(payload), contentType: 'application/x-www-form-urlencoded', replyId };
}

/** Waits until `check` passes, failing with its last error (fault scenarios get a longer default). */
export function until(check: () => void | Promise<void>, timeoutMs = 10_000): Promise<void> {
  return eventually(check, timeoutMs);
}
