// What every Route 53 adapter of one AWS account shares: the API's request budget, and each zone's queue of changes.
import { realSleep, type Sleep } from './aws-retry.ts';

/** Route 53's API quota: five requests per second per account, every operation counted (reads and GetChange too). */
export const ROUTE53_REQUESTS_PER_SECOND = 5;

export interface Route53AccountOptions {
  /** Requests per second for the whole account (default 5, Route 53's quota); `Infinity` turns the budget off. */
  perSecond?: number;
  /**
   * Tokens the bucket holds (default 1: requests evenly spaced, no bursts). Route 53's own bucket holds a second's
   * worth; keeping ours smaller leaves that slack for requests that arrive bunched up and for other callers.
   */
  burst?: number;
  now?: () => number;
  sleep?: Sleep;
  /** Queue each zone's changes until the previous one is INSYNC (default true). */
  serializeZones?: boolean;
}

/**
 * One per AWS account (one Route 53 client): every Route 53 call of every service and incident takes a token from the
 * same bucket, so GetChange polls of five incidents cannot throttle the sixth's write; and changes to one hosted zone
 * go out one at a time, each after the zone's previous change is INSYNC, because Route 53 refuses a change to a zone
 * that is still processing the previous one (PriorRequestNotComplete).
 */
export class Route53Account {
  readonly perSecond: number;
  #burst: number;
  #tokens: number;
  #refilledAt: number;
  #now: () => number;
  #sleep: Sleep;
  #serialize: boolean;
  /** Token takers in line, so none overtakes another and the bucket never goes below zero. */
  #line: Promise<void> = Promise.resolve();
  /** Per zone: the end of the last change's turn. */
  #zones = new Map<string, Promise<void>>();
  /** Per zone: the last change this process sent, until it is seen INSYNC. */
  #pending = new Map<string, string>();
  /** Requests that had to wait for a token (for tests and logs). */
  waited = 0;

  constructor(opts: Route53AccountOptions = {}) {
    this.perSecond = opts.perSecond ?? ROUTE53_REQUESTS_PER_SECOND;
    this.#burst = opts.burst ?? 1;
    this.#tokens = this.#burst;
    this.#now = opts.now ?? Date.now;
    this.#refilledAt = this.#now();
    this.#sleep = opts.sleep ?? realSleep;
    this.#serialize = opts.serializeZones ?? true;
  }

  /** Waits for one request's share of the account's budget. */
  take(): Promise<void> {
    if (!Number.isFinite(this.perSecond)) return Promise.resolve();
    const mine = this.#line.then(() => this.#takeOne());
    this.#line = mine.catch(() => undefined);
    return mine;
  }

  async #takeOne(): Promise<void> {
    for (;;) {
      const t = this.#now();
      this.#tokens = Math.min(this.#burst, this.#tokens + ((t - this.#refilledAt) * this.perSecond) / 1000);
      this.#refilledAt = t;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      this.waited += 1;
      await this.#sleep(Math.ceil(((1 - this.#tokens) * 1000) / this.perSecond));
    }
  }

  /**
   * Runs `send` as the zone's next change: after every earlier change of this process to the zone was sent and the
   * last one is INSYNC (`waitInSync` follows it; its failure does not block the zone for ever). `send` returns the
   * new change's id, which the next change then waits for.
   */
  async change<T>(
    zoneId: string,
    waitInSync: (changeId: string) => Promise<void>,
    send: () => Promise<{ result: T; changeId?: string | undefined }>,
  ): Promise<T> {
    if (!this.#serialize) return (await send()).result;
    const before = this.#zones.get(zoneId) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.#zones.set(
      zoneId,
      before.then(() => mine),
    );
    await before;
    try {
      const previous = this.#pending.get(zoneId);
      if (previous) {
        await waitInSync(previous).catch(() => undefined);
        this.#pending.delete(zoneId);
      }
      const { result, changeId } = await send();
      if (changeId) this.#pending.set(zoneId, changeId);
      return result;
    } finally {
      release();
    }
  }

  /** A change seen INSYNC: the next change to its zone need not wait for it. */
  inSync(changeId: string): void {
    for (const [zone, id] of this.#pending) if (id === changeId) this.#pending.delete(zone);
  }
}

/** No shared budget and no queue: each call goes out at once (adapters built alone, as in most tests). */
export function unlimitedAccount(): Route53Account {
  return new Route53Account({ perSecond: Infinity, serializeZones: false });
}
