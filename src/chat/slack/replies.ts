// Replies to the person who ran a command or pressed a button: through response_url while Slack still takes it,
// through the Web API after.
//
// Slack takes up to five replies on a response_url within thirty minutes of the command or press
// (https://api.slack.com/interactivity/handling#message_responses); after that it answers 404
// (`expired_url`, `used_url`) and the reply is lost. A long `/ledger audit` answered at its end went nowhere.
import type { Chat, Message } from '../chat.ts';
import type { Logger } from '../../log.ts';

export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_VALID_MS = 30 * 60_000;
/** A reply must leave well before the url lapses: it may wait for a budget or a slow network on the way. */
const MARGIN_MS = 2 * 60_000;

/** The response_urls the bot was handed, when and how often each was used; on the bot's clock. */
export class ResponseUrls {
  #urls = new Map<string, { issuedAt: number; uses: number }>();
  #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Slack handed `url` with a command or a press just now. */
  issue(url: string): void {
    const now = this.#now();
    // Oldest first (a Map keeps insertion order): stop at the first still valid, so a burst of commands costs one
    // look each, not a walk over every url handed out in the last thirty minutes.
    for (const [key, entry] of this.#urls) {
      if (now - entry.issuedAt <= RESPONSE_URL_VALID_MS) break;
      this.#urls.delete(key);
    }
    if (!this.#urls.has(url)) this.#urls.set(url, { issuedAt: now, uses: 0 });
  }

  /** Takes one use of `url` when Slack will still take it; false means: reply through the Web API. */
  take(url: string): boolean {
    const entry = this.#urls.get(url);
    if (!entry) return false;
    if (this.#now() - entry.issuedAt >= RESPONSE_URL_VALID_MS - MARGIN_MS) return false;
    if (entry.uses >= RESPONSE_URL_USES) return false;
    entry.uses += 1;
    return true;
  }
}

/** Slack's 404 for a response_url it no longer takes (ResponseUrlError carries the status). */
function refusedUrl(err: unknown): boolean {
  return (err as { response?: { status?: number } }).response?.status === 404;
}

export interface ReplyTarget {
  url: string | undefined;
  channel: string;
  user: string;
}

/**
 * Sends `message` to the person: response_url while it is good, else an ephemeral message in the channel through
 * the Web API, else (the bot cannot post there) a direct message from the bot.
 */
export async function reply(
  deps: { urls: ResponseUrls; chat: Chat; log: Logger },
  target: ReplyTarget,
  message: Message,
  viaUrl: (message: Message) => Promise<void>,
): Promise<void> {
  if (target.url && deps.urls.take(target.url)) {
    try {
      await viaUrl(message);
      return;
    } catch (err) {
      if (!refusedUrl(err)) throw err;
      deps.log.warn(
        { channel: target.channel },
        'slack refused a response_url; replying through the Web API',
      );
    }
  }
  try {
    await deps.chat.postEphemeral(target.channel, target.user, message);
  } catch (err) {
    deps.log.warn(
      { err, channel: target.channel },
      'ephemeral reply refused; sending it as a direct message',
    );
    await deps.chat.post(target.user, message);
  }
}
