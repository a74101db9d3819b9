// How Slack limits the local Slack's callers: Web API tiers per method, chat.postMessage per channel, and
// response_url's five uses in thirty minutes. Written from Slack's documents, not from the bot's budget.
//
// https://docs.slack.dev/apis/web-api/rate-limits: limits apply "per API method per workspace per app"; Tier 2
// 20+/min, Tier 3 50+/min, Tier 4 100+/min; chat.postMessage "generally allows posting one message per second per
// channel" with short bursts. A refused call gets HTTP 429, a Retry-After header in seconds and
// {"ok":false,"error":"ratelimited"}.
// https://api.slack.com/interactivity/handling#message_responses: a response_url takes up to five responses within
// thirty minutes; Slack then answers 404 (`used_url`, `expired_url`).

/** Tiers of the methods the bot calls, per each method's reference page. */
const TIERS: Record<string, number> = {
  'chat.update': 50,
  'chat.postEphemeral': 100,
  'chat.getPermalink': 100,
  'pins.add': 20,
  'conversations.history': 50,
  'conversations.replies': 50,
  'conversations.create': 20,
  'conversations.invite': 50,
  'conversations.join': 50,
  'users.info': 100,
  'usergroups.list': 20,
  'views.open': 100,
  'views.publish': 100,
  'files.getUploadURLExternal': 100,
  'files.completeUploadExternal': 100,
  'auth.test': 100,
};

/** chat.postMessage per channel: one a second on average, a short burst of three tolerated. */
const POST_BURST = 3;

export interface TierOptions {
  /** Stretches Slack's minute and second (0.1: a minute lasts 6 s); the bot's budget is told the same. */
  timeScale: number;
}

/** Sliding windows of accepted calls; `admit` says whether Slack takes one more now, or in how many seconds. */
export class TierLimits {
  #windows = new Map<string, number[]>();
  #scale: number;
  #now: () => number;

  constructor(opts: TierOptions, now: () => number = Date.now) {
    this.#scale = opts.timeScale;
    this.#now = now;
  }

  /** The per-minute limit of a method (undefined: not modelled, never refused). */
  static tierOf(method: string): number | undefined {
    return method === 'chat.postMessage' ? 60 : TIERS[method];
  }

  /** undefined when accepted (and counted); else Retry-After in whole seconds, as Slack sends it. */
  admit(method: string, channel: string): number | undefined {
    const minute = 60_000 * this.#scale;
    const second = 1000 * this.#scale;
    const rules: { key: string; windowMs: number; limit: number }[] = [];
    if (method === 'chat.postMessage') {
      rules.push({ key: `${method}:${channel}:s`, windowMs: second, limit: POST_BURST });
      rules.push({ key: `${method}:${channel}:m`, windowMs: minute, limit: 60 });
    } else {
      const limit = TIERS[method];
      if (limit === undefined) return undefined;
      rules.push({ key: method, windowMs: minute, limit });
    }
    const now = this.#now();
    let waitMs = 0;
    for (const rule of rules) {
      const seen = (this.#windows.get(rule.key) ?? []).filter((t) => t > now - rule.windowMs);
      this.#windows.set(rule.key, seen);
      if (seen.length >= rule.limit) waitMs = Math.max(waitMs, (seen[0] ?? now) + rule.windowMs - now);
    }
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    for (const rule of rules) this.#windows.get(rule.key)?.push(now);
    return undefined;
  }
}

export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_VALID_MS = 30 * 60_000;

/** response_urls as Slack hands them out: issued at a time, five uses, thirty minutes. */
export class ResponseUrlLedger {
  #issued = new Map<string, { at: number; uses: number }>();
  #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  issue(id: string): void {
    if (!this.#issued.has(id)) this.#issued.set(id, { at: this.#now(), uses: 0 });
  }

  /** undefined when Slack takes the reply; else the error it answers with HTTP 404. */
  use(id: string): 'expired_url' | 'used_url' | undefined {
    const entry = this.#issued.get(id);
    if (!entry || this.#now() - entry.at > RESPONSE_URL_VALID_MS) return 'expired_url';
    if (entry.uses >= RESPONSE_URL_USES) return 'used_url';
    entry.uses += 1;
    return undefined;
  }
}
