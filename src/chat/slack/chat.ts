// The Chat port over Slack's Web API.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { WebClient, type LogLevel, type RetryOptions } from '@slack/web-api';
import { GROUP_CACHE_MS } from '../../access.ts';
import { ExternalServiceError } from '../../errors.ts';
import { isProgressEdit } from '../../send-lane.ts';
import { SlackBudget, type BudgetOptions, type Call, type Lane } from './budget.ts';
import type {
  Chat,
  ChatChannel,
  ChatMessage,
  ChatUser,
  FileUpload,
  Message,
  MessageRef,
  UploadedFile,
  View,
} from '../chat.ts';

interface SlackError {
  code?: string;
  data?: { error?: string; needed?: string };
  message?: string;
  retryAfter?: number;
  /** The client's request error wraps what went wrong, e.g. its own "A rate limit was exceeded" after retrying. */
  original?: { message?: string };
}

/** Wraps Slack failures in ExternalServiceError with Slack's error code, so messages say what to fix. */
function slackError(method: string, err: unknown): ExternalServiceError {
  const e = err as SlackError;
  // After waiting out every Retry-After its retries allow, the Web API client gives up with a request error.
  const rateLimited =
    e.code === 'slack_webapi_rate_limited_error' ||
    /rate limit was exceeded/i.test(e.original?.message ?? '');
  const code = rateLimited ? 'ratelimited' : (e.data?.error ?? e.code ?? 'unknown_error');
  const hint: Record<string, string> = {
    not_in_channel: 'invite the bot to the channel (/invite @cloud-safety)',
    channel_not_found: 'invite the bot to the channel; private channels are invisible to it otherwise',
    missing_scope: `add the scope ${e.data?.needed ?? ''} to the Slack app and reinstall it`,
    invalid_auth: 'SLACK_BOT_TOKEN is wrong or revoked',
    not_authed: 'SLACK_BOT_TOKEN is not set',
    ratelimited: 'Slack is rate limiting the bot',
  };
  return new ExternalServiceError('Slack', `${method}: ${code}${hint[code] ? ` (${hint[code]})` : ''}`, {
    retryable: code === 'ratelimited',
    cause: err,
  });
}

/** Our View in Slack's field names. */
function slackView(view: View): Record<string, unknown> {
  const text = (t: string) => ({ type: 'plain_text', text: t });
  return {
    type: view.type,
    blocks: view.blocks,
    ...(view.title ? { title: text(view.title) } : {}),
    ...(view.submit ? { submit: text(view.submit), close: text('Cancel') } : {}),
    ...(view.callbackId ? { callback_id: view.callbackId } : {}),
    ...(view.privateMetadata ? { private_metadata: view.privateMetadata } : {}),
  };
}

/**
 * The Web API client the bot uses: a 429 is handed back at once (`rejectRateLimitedCalls`) instead of pausing the
 * client's whole queue for Retry-After; SlackChat's budget waits it out for that method only and sends again.
 * `retry` covers the rest (connection failures, 5xx).
 */
export function slackWebClient(
  token: string,
  opts: { apiUrl?: string; retry?: RetryOptions; logLevel?: LogLevel } = {},
): WebClient {
  return new WebClient(token, {
    ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {}),
    ...(opts.retry ? { retryConfig: opts.retry } : {}),
    ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    rejectRateLimitedCalls: true,
  });
}

export interface SlackChatOptions {
  /** For tests: the group list is cached GROUP_CACHE_MS on that clock. */
  now?: () => number;
  /** The per-method rate budget (tests scale Slack's minute down, in step with the local Slack). */
  budget?: BudgetOptions;
}

export class SlackChat implements Chat {
  #client: WebClient;
  #groups: { at: number; byHandle: Map<string, string[]> } | undefined;
  #now: () => number;
  #budget: SlackBudget;

  constructor(client: WebClient, opts: SlackChatOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#client = client;
    this.#budget = new SlackBudget(opts.budget);
  }

  /** Calls waiting for their method's budget. */
  get backlog(): number {
    return this.#budget.waiting;
  }

  #send<T>(method: string, lane: Lane, send: () => Promise<T>, extra: Omit<Call, 'method' | 'lane'> = {}) {
    return this.#budget.run({ method, lane, ...extra }, send);
  }

  async post(channel: string, message: Message, opts: { threadTs?: string } = {}): Promise<MessageRef> {
    const args = {
      channel,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
    };
    const postMessage = () =>
      this.#send(
        'chat.postMessage',
        'post',
        () => this.#client.chat.postMessage(args as Parameters<WebClient['chat']['postMessage']>[0]),
        { channel },
      );
    try {
      const res = await postMessage();
      return { channel: res.channel ?? channel, ts: String(res.ts) };
    } catch (err) {
      if ((err as SlackError).data?.error !== 'not_in_channel') throw slackError('chat.postMessage', err);
    }
    // Public channels can be joined without an invite; then post again once.
    try {
      await this.#send('conversations.join', 'post', () => this.#client.conversations.join({ channel }));
      const res = await postMessage();
      return { channel: res.channel ?? channel, ts: String(res.ts) };
    } catch (err) {
      throw slackError('chat.postMessage', err);
    }
  }

  async update(ref: MessageRef, message: Message): Promise<void> {
    try {
      const args = {
        channel: ref.channel,
        ts: ref.ts,
        text: message.text,
        ...(message.blocks ? { blocks: message.blocks } : {}),
      } as Parameters<WebClient['chat']['update']>[0];
      await this.#send(
        'chat.update',
        isProgressEdit() ? 'progress' : 'edit',
        () => this.#client.chat.update(args),
        // A newer state of the same message replaces one still waiting: only the latest is sent.
        { coalesce: `${ref.channel}:${ref.ts}` },
      );
    } catch (err) {
      throw slackError('chat.update', err);
    }
  }

  async postEphemeral(channel: string, user: string, message: Message): Promise<void> {
    try {
      const args = {
        channel,
        user,
        text: message.text,
        ...(message.blocks ? { blocks: message.blocks } : {}),
      } as Parameters<WebClient['chat']['postEphemeral']>[0];
      await this.#send('chat.postEphemeral', 'reply', () => this.#client.chat.postEphemeral(args));
    } catch (err) {
      throw slackError('chat.postEphemeral', err);
    }
  }

  async pin(ref: MessageRef): Promise<void> {
    try {
      await this.#send('pins.add', 'post', () =>
        this.#client.pins.add({ channel: ref.channel, timestamp: ref.ts }),
      );
    } catch (err) {
      if ((err as SlackError).data?.error === 'already_pinned') return;
      throw slackError('pins.add', err);
    }
  }

  async permalink(ref: MessageRef): Promise<string | undefined> {
    try {
      const res = await this.#send('chat.getPermalink', 'post', () =>
        this.#client.chat.getPermalink({ channel: ref.channel, message_ts: ref.ts }),
      );
      return res.permalink;
    } catch (err) {
      throw slackError('chat.getPermalink', err);
    }
  }

  async fetchMessage(ref: MessageRef): Promise<ChatMessage | null> {
    try {
      const history = await this.#send('conversations.history', 'post', () =>
        this.#client.conversations.history({
          channel: ref.channel,
          latest: ref.ts,
          inclusive: true,
          limit: 1,
        }),
      );
      let found = history.messages?.find((m) => m.ts === ref.ts);
      if (!found) {
        // Thread replies are not in the channel history; conversations.replies finds them by their own ts.
        const replies = await this.#send('conversations.replies', 'post', () =>
          this.#client.conversations.replies({ channel: ref.channel, ts: ref.ts, limit: 200 }),
        );
        found = replies.messages?.find((m) => m.ts === ref.ts);
      }
      if (!found?.ts) return null;
      return {
        ts: found.ts,
        text: found.text ?? '',
        ...(found.user ? { user: found.user } : {}),
        ...(found.thread_ts ? { threadTs: found.thread_ts } : {}),
      };
    } catch (err) {
      throw slackError('conversations.history', err);
    }
  }

  async upload(channel: string, file: FileUpload, opts: { threadTs?: string } = {}): Promise<UploadedFile> {
    try {
      // One upload is files.getUploadURLExternal then files.completeUploadExternal, both Tier 4.
      const res = await this.#send('files.getUploadURLExternal', 'post', () =>
        this.#client.filesUploadV2({
          channel_id: channel,
          filename: file.filename || (typeof file.content === 'string' ? basename(file.content) : 'file'),
          title: file.title ?? file.filename,
          file: typeof file.content === 'string' ? createReadStream(file.content) : file.content,
          ...(file.comment ? { initial_comment: file.comment } : {}),
          ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
        } as Parameters<WebClient['filesUploadV2']>[0]),
      );
      const uploaded = res.files?.[0]?.files?.[0];
      return uploaded?.permalink ? { permalink: uploaded.permalink } : {};
    } catch (err) {
      throw slackError('files.uploadV2', err);
    }
  }

  async findUser(mention: string): Promise<ChatUser | null> {
    const match =
      /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(mention.trim()) ?? /^([UW][A-Z0-9]{2,})$/.exec(mention.trim());
    const id = match?.[1];
    if (!id) return null;
    try {
      const res = await this.#send('users.info', 'reply', () => this.#client.users.info({ user: id }));
      const user = res.user;
      if (!user?.id || user.deleted) return null;
      return { id: user.id, name: user.name ?? user.id };
    } catch (err) {
      if ((err as SlackError).data?.error === 'user_not_found') return null;
      throw slackError('users.info', err);
    }
  }

  async findUserByEmail(email: string): Promise<ChatUser | null> {
    try {
      const res = await this.#client.users.lookupByEmail({ email });
      const user = res.user;
      if (!user?.id || user.deleted) return null;
      return { id: user.id, name: user.name ?? user.id };
    } catch (err) {
      if ((err as SlackError).data?.error === 'users_not_found') return null;
      throw slackError('users.lookupByEmail', err);
    }
  }

  async createChannel(name: string, opts: { private: boolean }): Promise<ChatChannel | 'name_taken'> {
    try {
      const res = await this.#send('conversations.create', 'post', () =>
        this.#client.conversations.create({ name, is_private: opts.private }),
      );
      if (!res.channel?.id) throw new Error('conversations.create answered without a channel');
      return { id: res.channel.id, name: res.channel.name ?? name };
    } catch (err) {
      if ((err as SlackError).data?.error === 'name_taken') return 'name_taken';
      throw slackError('conversations.create', err);
    }
  }

  async invite(channel: string, users: string[]): Promise<void> {
    if (users.length === 0) return;
    try {
      await this.#send('conversations.invite', 'post', () =>
        this.#client.conversations.invite({ channel, users: users.join(',') }),
      );
    } catch (err) {
      // Slack refuses the whole call when one person is already there (or is the bot itself); the rest retry alone.
      const code = (err as SlackError).data?.error;
      if (code === 'already_in_channel' || code === 'cant_invite_self') {
        if (users.length === 1) return;
        for (const user of users) await this.invite(channel, [user]);
        return;
      }
      throw slackError('conversations.invite', err);
    }
  }

  async openView(triggerId: string, view: View): Promise<void> {
    try {
      // trigger_id lapses three seconds after the command: first in line.
      await this.#send('views.open', 'reply', () =>
        this.#client.views.open({ trigger_id: triggerId, view: slackView(view) as never }),
      );
    } catch (err) {
      throw slackError('views.open', err);
    }
  }

  async publishHome(user: string, view: View): Promise<void> {
    try {
      await this.#send('views.publish', 'edit', () =>
        this.#client.views.publish({ user_id: user, view: slackView(view) as never }),
      );
    } catch (err) {
      throw slackError('views.publish', err);
    }
  }

  forgetGroups(): void {
    this.#groups = undefined;
  }

  async groupMembers(handle: string): Promise<string[] | undefined> {
    // Short, so removing someone from an approver group counts within a minute (with the Access cache).
    if (!this.#groups || this.#now() - this.#groups.at >= GROUP_CACHE_MS) {
      try {
        const res = await this.#send('usergroups.list', 'reply', () =>
          this.#client.usergroups.list({ include_users: true }),
        );
        const byHandle = new Map<string, string[]>();
        for (const group of res.usergroups ?? []) {
          if (group.handle) byHandle.set(group.handle, group.users ?? []);
        }
        this.#groups = { at: this.#now(), byHandle };
      } catch (err) {
        throw slackError('usergroups.list', err);
      }
    }
    return this.#groups.byHandle.get(handle);
  }
}
