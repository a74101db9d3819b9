// The one lease primitive: taken with a fencing token, renewed in the background, lost loudly through an AbortSignal.
import type { Store } from './store/store.ts';

export interface LeaseOptions {
  /** Who holds it (this replica's id); stored beside the token so an operator can see who it is. */
  owner: string;
  /** The lease lapses this long after its last renewal: "the holder is dead" means exactly that. */
  ttlMs: number;
  /** How often the holder renews it (default a third of ttlMs). */
  renewMs?: number;
  /** Keep trying to take a busy lease for this long (default 0: one try). */
  waitMs?: number;
  /** How long between tries while waiting (default 100 ms). */
  pollMs?: number;
  /** Told once when the lease is lost, with why. */
  onLost?: (reason: string) => void;
}

export class LeaseLostError extends Error {
  code = 'lease.lost';
  constructor(key: string, reason: string) {
    super(`lost the lease ${key}: ${reason}`);
    this.name = 'LeaseLostError';
  }
}

export interface Lease {
  readonly key: string;
  /** Unique to this acquisition and higher than every earlier one: write it beside what the lease protects. */
  readonly token: number;
  /** Aborts (with a LeaseLostError) when a renewal finds the lease gone or cannot confirm it before it lapses. */
  readonly signal: AbortSignal;
  /** Throws the LeaseLostError when the lease is lost: call it right before every write the lease protects. */
  check(): void;
  /** Stops renewing and gives the lease up, only if this acquisition still holds it. */
  release(): Promise<boolean>;
}

/**
 * Takes `key` when nobody holds it, not even this process (a lease is not re-entrant: a second acquisition while
 * the first is live fails). Returns null when it is held. Renewal runs until release() or loss.
 */
export async function takeLease(store: Store, key: string, opts: LeaseOptions): Promise<Lease | null> {
  const deadline = performance.now() + (opts.waitMs ?? 0);
  let token: number | null;
  let askedAt: number;
  for (;;) {
    askedAt = performance.now();
    token = await store.acquireLease(key, opts.owner, opts.ttlMs);
    if (token !== null || performance.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
  }
  if (token === null) return null;
  return new HeldLease(store, key, token, opts, askedAt + opts.ttlMs);
}

export type LeaseOutcome<T> = { held: true; value: T; lost: boolean } | { held: false };

/** Runs `fn` under the lease (see takeLease) and releases it after, whatever happens; `held: false` when busy. */
export async function withLease<T>(
  store: Store,
  key: string,
  opts: LeaseOptions,
  fn: (lease: Lease) => Promise<T>,
): Promise<LeaseOutcome<T>> {
  const lease = await takeLease(store, key, opts);
  if (!lease) return { held: false };
  try {
    const value = await fn(lease);
    return { held: true, value, lost: lease.signal.aborted };
  } finally {
    await lease.release();
  }
}

class HeldLease implements Lease {
  readonly key: string;
  readonly token: number;
  #store: Store;
  #opts: LeaseOptions;
  #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  /** Until when (performance.now) the last confirmed renewal keeps the lease ours, at the latest. */
  #confirmedUntil: number;
  #released = false;

  constructor(store: Store, key: string, token: number, opts: LeaseOptions, confirmedUntil: number) {
    this.#store = store;
    this.key = key;
    this.token = token;
    this.#opts = opts;
    this.#confirmedUntil = confirmedUntil;
    this.#schedule();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  check(): void {
    if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
    // A renewal that is late (event loop blocked, store slow) must not let us write past the lease's end.
    if (performance.now() >= this.#confirmedUntil) {
      this.#lose('it was not renewed before it lapsed');
      throw this.#controller.signal.reason;
    }
  }

  async release(): Promise<boolean> {
    if (this.#released) return false;
    this.#released = true;
    clearTimeout(this.#timer);
    if (this.#controller.signal.aborted) return false;
    try {
      return await this.#store.releaseLease(this.key, this.token);
    } catch {
      return false; // it lapses on its own within ttlMs
    }
  }

  #schedule(): void {
    const every = this.#opts.renewMs ?? Math.max(1, Math.floor(this.#opts.ttlMs / 3));
    this.#timer = setTimeout(() => void this.#renew(), every);
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#released || this.#controller.signal.aborted) return;
    const askedAt = performance.now();
    let renewed: boolean | undefined;
    try {
      renewed = await this.#store.renewLease(this.key, this.token, this.#opts.ttlMs);
    } catch {
      renewed = undefined; // store unreachable: still ours until #confirmedUntil, keep trying
    }
    if (this.#released) return;
    if (renewed === true) this.#confirmedUntil = askedAt + this.#opts.ttlMs;
    else if (renewed === false) return this.#lose('another holder took it, or it lapsed');
    else if (performance.now() >= this.#confirmedUntil)
      return this.#lose('the store could not confirm it before it lapsed');
    this.#schedule();
  }

  #lose(reason: string): void {
    if (this.#controller.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#controller.abort(new LeaseLostError(this.key, reason));
    this.#opts.onLost?.(reason);
  }
}

/**
 * A long-held lease for "only one replica does this" (breaker evaluator, PagerDuty mirror): lead() says whether this
 * replica leads now, taking the lease when it is free; the lease renews itself and losing it ends the leadership.
 */
export class Leadership {
  #store: Store;
  #key: string;
  #opts: LeaseOptions;
  #lease: Lease | null = null;
  #taking: Promise<boolean> | null = null;

  constructor(store: Store, key: string, opts: LeaseOptions) {
    this.#store = store;
    this.#key = key;
    this.#opts = opts;
  }

  /** The current lease while this replica leads. */
  get lease(): Lease | null {
    return this.#lease && !this.#lease.signal.aborted ? this.#lease : null;
  }

  async lead(): Promise<boolean> {
    if (this.lease) return true;
    // Concurrent callers in one process share one attempt: the lease is not re-entrant.
    this.#taking ??= (async () => {
      try {
        this.#lease = await takeLease(this.#store, this.#key, this.#opts);
      } finally {
        this.#taking = null;
      }
      return this.#lease !== null;
    })();
    return this.#taking;
  }

  async release(): Promise<void> {
    const lease = this.#lease;
    this.#lease = null;
    await lease?.release();
  }
}
