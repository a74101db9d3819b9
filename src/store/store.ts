// The Store port: the few atomic primitives every flow builds on. Redis in production, memory for console drills.

export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

export interface SetOptions {
  /** Expire the key after this many milliseconds. */
  ttlMs?: number;
  /** Only write when the key does not exist (SET NX). */
  ifAbsent?: boolean;
}

export interface Store {
  /** Which implementation this is, for the start-up banner and /readyz. */
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  /** Returns false only when `ifAbsent` was asked and the key already existed. */
  set(key: string, value: string, opts?: SetOptions): Promise<boolean>;
  /** Atomically replaces `expected` (null: absent) with `next` (null: delete); false when the value moved. */
  compareAndSet(
    key: string,
    expected: string | null,
    next: string | null,
    opts?: { ttlMs?: number },
  ): Promise<boolean>;
  del(key: string): Promise<void>;
  incr(key: string): Promise<number>;

  addToSet(key: string, member: string): Promise<boolean>;
  removeFromSet(key: string, member: string): Promise<boolean>;
  members(key: string): Promise<string[]>;

  /** A time-ordered queue (sorted set): `due` lists members whose time has come, `unschedule` claims one. */
  schedule(key: string, member: string, at: number): Promise<void>;
  due(key: string, now: number, limit?: number): Promise<string[]>;
  /** True for exactly one caller per scheduled member: use it to claim the job. */
  unschedule(key: string, member: string): Promise<boolean>;

  /**
   * Appends to a stream only if `headKey` still holds `expectedHead` (null: absent), then sets it to `newHead`.
   * Returns the new entry id, or null when another writer moved the head first. `headKey` must be written beside
   * the stream (`keyBeside(stream, ':head')`), so both land in one Redis Cluster slot; anything else throws.
   */
  appendChained(
    stream: string,
    headKey: string,
    expectedHead: string | null,
    newHead: string,
    fields: Record<string, string>,
  ): Promise<string | null>;
  readStream(stream: string): Promise<StreamEntry[]>;

  /**
   * Takes the lease when nobody holds it, `owner` included (not re-entrant). Returns a fencing token, unique to this
   * acquisition and higher than every earlier one, or null when it is held. Use src/lease.ts, not this directly.
   */
  acquireLease(key: string, owner: string, ttlMs: number): Promise<number | null>;
  /** Extends the lease only while the acquisition `token` still holds it. */
  renewLease(key: string, token: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up only while the acquisition `token` still holds it. */
  releaseLease(key: string, token: number): Promise<boolean>;
  /** The token of the live acquisition of `key`, or null when nobody holds it. */
  leaseHolder(key: string): Promise<number | null>;

  /** Resolves when the store answers; rejects otherwise (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A key that lives beside `owner`: `{owner}suffix`. A Redis Cluster keeps it in owner's slot, so one script may touch
 * both; a single server stores it as `<owner><suffix>`. Every key a multi-key operation touches is built this way.
 */
export function keyBeside(owner: string, suffix: string): string {
  if (owner.includes('{') || owner.includes('}'))
    throw new Error(`keyBeside: "${owner}" already names a slot; build keys without braces`);
  return `{${owner}}${suffix}`;
}

/** The owner of a key built by keyBeside, or undefined for a plain key. */
export function ownerOf(key: string): string | undefined {
  if (!key.startsWith('{')) return undefined;
  const close = key.indexOf('}');
  return close > 1 ? key.slice(1, close) : undefined;
}

/** Throws unless `key` was built beside `owner`: a script over both would fail on a Redis Cluster (CROSSSLOT). */
export function assertBeside(key: string, owner: string): void {
  if (ownerOf(key) !== owner)
    throw new Error(
      `"${key}" is not beside "${owner}": build it with keyBeside("${owner}", "…") so both share a Redis Cluster slot`,
    );
}

/** Read-modify-write of a JSON value with compare-and-set, retried when another writer got there first. */
export async function updateJson<T>(
  store: Store,
  key: string,
  change: (current: T | null) => T | null | undefined,
  attempts = 50,
): Promise<T | null> {
  for (let i = 0; i < attempts; i++) {
    const raw = await store.get(key);
    const current = raw === null ? null : (JSON.parse(raw) as T);
    const next = change(current);
    if (next === undefined) return current; // nothing to change
    const nextRaw = next === null ? null : JSON.stringify(next);
    if (await store.compareAndSet(key, raw, nextRaw)) return next;
  }
  throw new Error(`updateJson: ${key} kept changing under ${attempts} attempts`);
}

export async function getJson<T>(store: Store, key: string): Promise<T | null> {
  const raw = await store.get(key);
  return raw === null ? null : (JSON.parse(raw) as T);
}

/** The fencing token in a stored lease value ("<token>|<owner>"), or null. */
export function leaseToken(value: string | null): number | null {
  if (value === null) return null;
  const token = Number(value.slice(0, value.indexOf('|')));
  return Number.isSafeInteger(token) && token > 0 ? token : null;
}
