// A rate budget per Slack Web API method: token buckets sized from Slack's documented tiers, a priority queue, and
// Retry-After learned for the method that was refused only.
//
// Slack limits "per API method per workspace per app" (https://docs.slack.dev/apis/web-api/rate-limits): Tier 2
// 20+/min, Tier 3 50+/min, Tier 4 100+/min; chat.postMessage is special, about one message per second per channel
// with short bursts. The @slack/web-api client, on a 429, pauses its whole request queue for Retry-After: one refused
// chat.update held every approval card behind it. Here a 429 blocks only its own method (the client is built with
// `rejectRateLimitedCalls`), and calls wait in one queue ordered by lane: replies, then posts, then edits, then
// progress edits. A queued chat.update of a message is replaced by a newer one of the same message, so under
// pressure only the latest state of a card is sent.

/** Who waits for a call: a person (reply), the channel (post), an approval card's state (edit), a progress card. */
export type Lane = 'reply' | 'post' | 'edit' | 'progress';

const LANE_ORDER: Record<Lane, number> = { reply: 0, post: 1, edit: 2, progress: 3 };

/** Requests per minute of each documented tier (the lower bound Slack guarantees). */
export const TIER_PER_MINUTE = { 1: 1, 2: 20, 3: 50, 4: 100 } as const;

/** The tier of each method the bot calls, from each method's page on docs.slack.dev. */
export const METHOD_TIER: Record<string, keyof typeof TIER_PER_MINUTE> = {
  'chat.update': 3,
  'chat.postEphemeral': 4,
  'chat.getPermalink': 4,
  'pins.add': 2,
  'conversations.history': 3,
  'conversations.replies': 3,
  'conversations.create': 2,
  'conversations.invite': 3,
  'conversations.join': 3,
  'users.info': 4,
  'usergroups.list': 2,
  'views.open': 4,
  'views.publish': 4,
  'files.getUploadURLExternal': 4,
  'files.completeUploadExternal': 4,
};

/** chat.postMessage: about one per second per channel, short bursts allowed. */
export const POST_PER_SECOND_PER_CHANNEL = 1;

export interface BudgetOptions {
  /** Milliseconds now (default Date.now). */
  now?: () => number;
  /** Stretches Slack's minute and second (tests: 0.1 makes a minute last 6 s, in step with the local Slack). */
  timeScale?: number;
  /** Calls in flight at once, all methods together (default 8): where the lanes matter across methods. */
  maxInFlight?: number;
  /** How often one call is sent again after a 429 before it fails "ratelimited" (default 5). */
  retries?: number;
  /** Told when Slack answered 429 (method, seconds): for the log and metrics. */
  onRateLimited?: (method: string, retryAfterSec: number) => void;
}

export interface Call {
  method: string;
  lane: Lane;
  /** chat.postMessage's channel: its per-channel budget. */
  channel?: string;
  /** Calls with the same key replace each other while queued (chat.update of one message). */
  coalesce?: string;
}

interface Bucket {
  tokens: number;
  capacity: number;
  perMs: number;
  at: number;
  blockedUntil: number;
}

interface Waiting {
  call: Call;
  send: () => Promise<unknown>;
  seq: number;
  attempts: number;
  waiters: { resolve: (value: unknown) => void; reject: (err: unknown) => void }[];
}

/** The client's error when rejectRateLimitedCalls is set: code slack_webapi_rate_limited_error, retryAfter in s. */
function retryAfterOf(err: unknown): number | undefined {
  const e = err as { code?: string; retryAfter?: number };
  return e.code === 'slack_webapi_rate_limited_error' ? Math.max(1, e.retryAfter ?? 1) : undefined;
}

export class SlackBudget {
  #now: () => number;
  #scale: number;
  #maxInFlight: number;
  #retries: number;
  #onRateLimited: BudgetOptions['onRateLimited'];
  #buckets = new Map<string, Bucket>();
  #queue: Waiting[] = [];
  #inFlight = 0;
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;

  constructor(opts: BudgetOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#scale = opts.timeScale ?? 1;
    this.#maxInFlight = opts.maxInFlight ?? 8;
    this.#retries = opts.retries ?? 5;
    this.#onRateLimited = opts.onRateLimited;
  }

  /** Calls waiting for their budget now (the backlog). */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Sends `send` when its method (and channel) has budget and nothing more urgent waits for a slot. */
  run<T>(call: Call, send: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter = { resolve: resolve as (value: unknown) => void, reject };
      const queued = call.coalesce ? this.#queue.find((w) => w.call.coalesce === call.coalesce) : undefined;
      if (queued) {
        // Only the latest state of a message is worth sending; it takes the earlier place in the queue.
        queued.send = send;
        queued.waiters.push(waiter);
        if (LANE_ORDER[call.lane] < LANE_ORDER[queued.call.lane])
          queued.call = { ...queued.call, lane: call.lane };
      } else {
        this.#queue.push({ call, send, seq: (this.#seq += 1), attempts: 0, waiters: [waiter] });
      }
      this.#pump();
    });
  }

  /**
   * Token buckets that stay under Slack's limit over any window of its length, with room to spare: a burst of a
   * fifth of the limit (a card's few edits after an approval go out at once) plus 55% refilled over the window is
   * 75% of it. The spare quarter absorbs network jitter (calls sent evenly can arrive bunched) and Slack's clock.
   */
  #bucketsOf(call: Call): Bucket[] {
    const minute = 60_000 * this.#scale;
    const buckets: Bucket[] = [];
    if (call.method === 'chat.postMessage') {
      // No published workspace figure: the method-wide bucket only carries what a 429 taught.
      buckets.push(this.#bucket(call.method, Infinity, 0));
      if (call.channel) {
        const second = 1000 * this.#scale;
        buckets.push(
          this.#bucket(`${call.method}:${call.channel}`, 2, (0.75 * POST_PER_SECOND_PER_CHANNEL) / second),
        );
      }
      return buckets;
    }
    const limit = TIER_PER_MINUTE[METHOD_TIER[call.method] ?? 2];
    buckets.push(this.#bucket(call.method, Math.max(1, Math.floor(limit / 5)), (0.55 * limit) / minute));
    return buckets;
  }

  #bucket(key: string, capacity: number, perMs: number): Bucket {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { tokens: capacity, capacity, perMs, at: this.#now(), blockedUntil: 0 };
      this.#buckets.set(key, bucket);
    }
    return bucket;
  }

  /** When the bucket has a token (now or later), after refilling it to now. */
  #readyAt(bucket: Bucket, now: number): number {
    if (bucket.capacity !== Infinity) {
      bucket.tokens = Math.min(bucket.capacity, bucket.tokens + (now - bucket.at) * bucket.perMs);
    }
    bucket.at = now;
    const refill = bucket.tokens >= 1 ? now : now + (1 - bucket.tokens) / bucket.perMs;
    return Math.max(refill, bucket.blockedUntil);
  }

  #pump(): void {
    const now = this.#now();
    let next = Infinity;
    while (this.#inFlight < this.#maxInFlight) {
      const ordered = [...this.#queue].sort(
        (a, b) => LANE_ORDER[a.call.lane] - LANE_ORDER[b.call.lane] || a.seq - b.seq,
      );
      let chosen: { waiting: Waiting; buckets: Bucket[] } | undefined;
      for (const waiting of ordered) {
        const buckets = this.#bucketsOf(waiting.call);
        const readyAt = Math.max(...buckets.map((b) => this.#readyAt(b, now)));
        if (readyAt <= now) {
          chosen = { waiting, buckets };
          break;
        }
        next = Math.min(next, readyAt);
      }
      if (!chosen) break;
      for (const bucket of chosen.buckets) if (bucket.capacity !== Infinity) bucket.tokens -= 1;
      this.#queue.splice(this.#queue.indexOf(chosen.waiting), 1);
      this.#start(chosen.waiting);
    }
    if (next !== Infinity && this.#inFlight < this.#maxInFlight) this.#wake(next);
  }

  #wake(at: number): void {
    if (this.#timer && this.#timerAt <= at) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#pump();
      },
      Math.max(1, at - this.#now()),
    );
    this.#timer.unref();
  }

  #start(waiting: Waiting): void {
    this.#inFlight += 1;
    waiting.attempts += 1;
    const waiters = waiting.waiters;
    waiting.waiters = [];
    void waiting
      .send()
      .then(
        (value) => {
          for (const w of waiters) w.resolve(value);
        },
        (err: unknown) => {
          const retryAfter = retryAfterOf(err);
          if (retryAfter === undefined || waiting.attempts > this.#retries) {
            for (const w of waiters) w.reject(err);
            return;
          }
          this.#onRateLimited?.(waiting.call.method, retryAfter);
          // Slack said when this method may be called again; nothing else waits for it.
          const method = this.#bucketsOf(waiting.call)[0];
          if (method) {
            method.blockedUntil = Math.max(method.blockedUntil, this.#now() + retryAfter * 1000);
            if (method.capacity !== Infinity) method.tokens = Math.min(method.tokens, 0);
          }
          this.#requeue(waiting, waiters);
        },
      )
      .finally(() => {
        this.#inFlight -= 1;
        this.#pump();
      });
  }

  /** Back in the queue at its old place; a newer state of the same message queued meanwhile wins. */
  #requeue(waiting: Waiting, waiters: Waiting['waiters']): void {
    const newer = waiting.call.coalesce
      ? this.#queue.find((w) => w.call.coalesce === waiting.call.coalesce)
      : undefined;
    if (newer) {
      newer.waiters.unshift(...waiters);
      newer.seq = Math.min(newer.seq, waiting.seq);
      newer.attempts = Math.max(newer.attempts, waiting.attempts);
      return;
    }
    waiting.waiters = waiters;
    this.#queue.push(waiting);
  }
}
