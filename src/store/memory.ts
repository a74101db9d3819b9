// In-process Store for console mode and drills: same contract as Redis, nothing survives a restart.
import { assertBeside, leaseToken, type SetOptions, type Store, type StreamEntry } from './store.ts';

interface Entry {
  value: string;
  expiresAt: number | undefined;
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  #values = new Map<string, Entry>();
  #sets = new Map<string, Set<string>>();
  #queues = new Map<string, Map<string, number>>();
  #streams = new Map<string, StreamEntry[]>();
  #lastStreamMs = 0;
  #streamSeq = 0;
  #fence = 0;
  #now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  #read(key: string): string | null {
    const entry = this.#values.get(key);
    if (!entry) return null;
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.#values.delete(key);
      return null;
    }
    return entry.value;
  }

  #write(key: string, value: string, ttlMs?: number): void {
    this.#values.set(key, { value, expiresAt: ttlMs === undefined ? undefined : this.#now() + ttlMs });
  }

  async get(key: string): Promise<string | null> {
    return this.#read(key);
  }

  async set(key: string, value: string, opts: SetOptions = {}): Promise<boolean> {
    if (opts.ifAbsent && this.#read(key) !== null) return false;
    this.#write(key, value, opts.ttlMs);
    return true;
  }

  async compareAndSet(
    key: string,
    expected: string | null,
    next: string | null,
    opts: { ttlMs?: number } = {},
  ) {
    if (this.#read(key) !== expected) return false;
    if (next === null) this.#values.delete(key);
    else if (opts.ttlMs !== undefined) this.#write(key, next, opts.ttlMs);
    // Like Redis KEEPTTL: a CAS without a TTL keeps the key's expiry.
    else this.#values.set(key, { value: next, expiresAt: this.#values.get(key)?.expiresAt });
    return true;
  }

  async del(key: string): Promise<void> {
    this.#values.delete(key);
    this.#sets.delete(key);
    this.#queues.delete(key);
    this.#streams.delete(key);
  }

  async incr(key: string): Promise<number> {
    const next = Number(this.#read(key) ?? '0') + 1;
    this.#write(key, String(next));
    return next;
  }

  async addToSet(key: string, member: string): Promise<boolean> {
    const set = this.#sets.get(key) ?? new Set<string>();
    this.#sets.set(key, set);
    if (set.has(member)) return false;
    set.add(member);
    return true;
  }

  async removeFromSet(key: string, member: string): Promise<boolean> {
    return this.#sets.get(key)?.delete(member) ?? false;
  }

  async members(key: string): Promise<string[]> {
    return [...(this.#sets.get(key) ?? [])].sort();
  }

  async schedule(key: string, member: string, at: number): Promise<void> {
    const queue = this.#queues.get(key) ?? new Map<string, number>();
    this.#queues.set(key, queue);
    queue.set(member, at);
  }

  async due(key: string, now: number, limit = 100): Promise<string[]> {
    const queue = this.#queues.get(key);
    if (!queue) return [];
    return [...queue.entries()]
      .filter(([, at]) => at <= now)
      .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
      .slice(0, limit)
      .map(([member]) => member);
  }

  async unschedule(key: string, member: string): Promise<boolean> {
    return this.#queues.get(key)?.delete(member) ?? false;
  }

  async appendChained(
    stream: string,
    headKey: string,
    expectedHead: string | null,
    newHead: string,
    fields: Record<string, string>,
  ): Promise<string | null> {
    assertBeside(headKey, stream);
    if (this.#read(headKey) !== expectedHead) return null;
    const ms = Math.max(this.#now(), this.#lastStreamMs);
    this.#streamSeq = ms === this.#lastStreamMs ? this.#streamSeq + 1 : 0;
    this.#lastStreamMs = ms;
    const id = `${ms}-${this.#streamSeq}`;
    const entries = this.#streams.get(stream) ?? [];
    this.#streams.set(stream, entries);
    entries.push({ id, fields: { ...fields } });
    this.#write(headKey, newHead);
    return id;
  }

  async readStream(stream: string): Promise<StreamEntry[]> {
    return (this.#streams.get(stream) ?? []).map((entry) => ({ id: entry.id, fields: { ...entry.fields } }));
  }

  async acquireLease(key: string, owner: string, ttlMs: number): Promise<number | null> {
    if (this.#read(key) !== null) return null;
    const token = ++this.#fence;
    this.#write(key, `${token}|${owner}`, ttlMs);
    return token;
  }

  async renewLease(key: string, token: number, ttlMs: number): Promise<boolean> {
    const value = this.#read(key);
    if (value === null || leaseToken(value) !== token) return false;
    this.#write(key, value, ttlMs);
    return true;
  }

  async releaseLease(key: string, token: number): Promise<boolean> {
    if (leaseToken(this.#read(key)) !== token) return false;
    this.#values.delete(key);
    return true;
  }

  async leaseHolder(key: string): Promise<number | null> {
    return leaseToken(this.#read(key));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
