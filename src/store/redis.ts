// Redis implementation of the Store port (ioredis). Multi-key changes are Lua scripts, so they are atomic; every
// script's keys share one hash slot (src/store/slots.ts), so the same scripts run on one server, Sentinel or Cluster.
import type { Cluster, Redis } from 'ioredis';
import type { RedisConnection } from '../config-redis.ts';
import { assertBeside, leaseToken, type SetOptions, type Store, type StreamEntry } from './store.ts';
import { physicalBeside, physicalKey } from './slots.ts';
import { connectRedis } from './connect.ts';

// KEYS[1]=key; ARGV[1]=expected ('' + ARGV[3]=='0' means absent), ARGV[2]=next, ARGV[4]=delete?, ARGV[5]=ttl ms
const CAS = `
local current = redis.call('GET', KEYS[1])
if ARGV[3] == '0' then
  if current then return 0 end
else
  if current ~= ARGV[1] then return 0 end
end
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[1])
elseif tonumber(ARGV[5]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5])
else
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
end
return 1`;

// KEYS[1]=stream KEYS[2]=head; ARGV[1]=expected present?, ARGV[2]=expected, ARGV[3]=new head, ARGV[4..]=fields
const APPEND_CHAINED = `
local head = redis.call('GET', KEYS[2])
if ARGV[1] == '0' then
  if head then return false end
else
  if head ~= ARGV[2] then return false end
end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('SET', KEYS[2], ARGV[3])
return id`;

// A lease's value is "<token>|<owner>"; the token comes from a counter that only ever grows: one for every lease on a
// single server (the layout it always had), one beside each lease on a Cluster (a script may not cross slots).
// KEYS[1]=lease KEYS[2]=fence counter; ARGV[1]=owner ARGV[2]=ttl
const ACQUIRE_LEASE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. '|' .. ARGV[1], 'PX', ARGV[2])
return token`;

// KEYS[1]=lease; ARGV[1]=token ARGV[2]=ttl
const RENEW_LEASE = `
local holder = redis.call('GET', KEYS[1])
local prefix = ARGV[1] .. '|'
if not holder or string.sub(holder, 1, #prefix) ~= prefix then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

// KEYS[1]=lease; ARGV[1]=token
const RELEASE_LEASE = `
local holder = redis.call('GET', KEYS[1])
local prefix = ARGV[1] .. '|'
if not holder or string.sub(holder, 1, #prefix) ~= prefix then return 0 end
redis.call('DEL', KEYS[1])
return 1`;

const FENCE_KEY = 'leases:fence';
const STREAM_PAGE = 2000;
/** How long an acknowledged write waits for its replicas (REDIS_WAIT_REPLICAS) before it answers anyway. */
const WAIT_TIMEOUT_MS = 1000;
/** After a WAIT found too few replicas, writes skip it this long before one tries again. */
const WAIT_PROBE_MS = 5000;

export interface RedisStoreOptions {
  /** Namespace for every key, so replicas (and other apps) can share one Redis. */
  prefix?: string;
  /** How long /readyz waits for PING. */
  pingTimeoutMs?: number;
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly redis: Redis | Cluster;
  /** Every key this store writes starts with this (inside the hash tag on a Cluster). */
  readonly prefix: string;
  readonly cluster: boolean;
  #pingTimeoutMs: number;
  #waitReplicas: number;
  #replicasShortUntil = 0;

  /** `connection`: a redis:// URL, or where a Sentinel-watched master or a Cluster is (src/config-redis.ts). */
  constructor(connection: string | RedisConnection, opts: RedisStoreOptions = {}) {
    const target: RedisConnection =
      typeof connection === 'string' ? { kind: 'url', url: connection, waitReplicas: 0 } : connection;
    this.prefix = opts.prefix ?? 'cloud-safety:';
    this.#pingTimeoutMs = opts.pingTimeoutMs ?? 1000;
    this.cluster = target.kind === 'cluster';
    if (this.cluster && (this.prefix.includes('{') || this.prefix.includes('}')))
      throw new Error(
        `REDIS_PREFIX "${this.prefix}" has braces; on a Cluster they would pick the slot. Drop them.`,
      );
    // WAIT answers for the connection it is sent on; a Cluster client has one per node, so it is not offered there.
    this.#waitReplicas = target.kind === 'cluster' ? 0 : target.waitReplicas;
    this.redis = connectRedis(target);
    // Connection errors are reported by /readyz and by the commands that fail; don't crash on them.
    this.redis.on('error', () => {});
    this.redis.defineCommand('csCas', { numberOfKeys: 1, lua: CAS });
    this.redis.defineCommand('csAppendChained', { numberOfKeys: 2, lua: APPEND_CHAINED });
    this.redis.defineCommand('csAcquireLease', { numberOfKeys: 2, lua: ACQUIRE_LEASE });
    this.redis.defineCommand('csRenewLease', { numberOfKeys: 1, lua: RENEW_LEASE });
    this.redis.defineCommand('csReleaseLease', { numberOfKeys: 1, lua: RELEASE_LEASE });
  }

  #k(key: string): string {
    return physicalKey(this.prefix, key, this.cluster);
  }

  /**
   * Sends WAIT right behind the write on the same connection (one round trip), so the write is on the replicas
   * before it is acknowledged, bounded by WAIT_TIMEOUT_MS: a failover then promotes a replica that has it.
   */
  async #durable<T>(write: Promise<T>): Promise<T> {
    // With too few replicas (one died, or the failover left none) every write would stall a full timeout: stop
    // waiting for a while and probe again later. The writes still land on the master.
    if (this.#waitReplicas === 0 || performance.now() < this.#replicasShortUntil) return write;
    const replicated = (this.redis as Redis).wait(this.#waitReplicas, WAIT_TIMEOUT_MS).catch(() => 0);
    const result = await write;
    if ((await replicated) < this.#waitReplicas) this.#replicasShortUntil = performance.now() + WAIT_PROBE_MS;
    return result;
  }

  #script(name: string, ...args: (string | number)[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[
      name
    ];
    if (!fn) throw new Error(`script ${name} not defined`);
    return fn.apply(this.redis, args);
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.#k(key));
  }

  async set(key: string, value: string, opts: SetOptions = {}): Promise<boolean> {
    const k = this.#k(key);
    let result: string | null;
    if (opts.ttlMs !== undefined && opts.ifAbsent)
      result = await this.#durable(this.redis.set(k, value, 'PX', opts.ttlMs, 'NX'));
    else if (opts.ttlMs !== undefined)
      result = await this.#durable(this.redis.set(k, value, 'PX', opts.ttlMs));
    else if (opts.ifAbsent) result = await this.#durable(this.redis.set(k, value, 'NX'));
    else result = await this.#durable(this.redis.set(k, value));
    return result === 'OK';
  }

  async compareAndSet(
    key: string,
    expected: string | null,
    next: string | null,
    opts: { ttlMs?: number } = {},
  ) {
    const result = await this.#durable(
      this.#script(
        'csCas',
        this.#k(key),
        expected ?? '',
        next ?? '',
        expected === null ? '0' : '1',
        next === null ? '1' : '0',
        opts.ttlMs ?? 0,
      ),
    );
    return result === 1;
  }

  async del(key: string): Promise<void> {
    await this.#durable(this.redis.del(this.#k(key)));
  }

  async incr(key: string): Promise<number> {
    return this.#durable(this.redis.incr(this.#k(key)));
  }

  async addToSet(key: string, member: string): Promise<boolean> {
    return (await this.#durable(this.redis.sadd(this.#k(key), member))) === 1;
  }

  async removeFromSet(key: string, member: string): Promise<boolean> {
    return (await this.#durable(this.redis.srem(this.#k(key), member))) === 1;
  }

  async members(key: string): Promise<string[]> {
    return (await this.redis.smembers(this.#k(key))).sort();
  }

  async schedule(key: string, member: string, at: number): Promise<void> {
    await this.#durable(this.redis.zadd(this.#k(key), at, member));
  }

  async due(key: string, now: number, limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.#k(key), '-inf', now, 'LIMIT', 0, limit);
  }

  async unschedule(key: string, member: string): Promise<boolean> {
    return (await this.#durable(this.redis.zrem(this.#k(key), member))) === 1;
  }

  async appendChained(
    stream: string,
    headKey: string,
    expectedHead: string | null,
    newHead: string,
    fields: Record<string, string>,
  ): Promise<string | null> {
    assertBeside(headKey, stream);
    const flat = Object.entries(fields).flat();
    const id = await this.#durable(
      this.#script(
        'csAppendChained',
        this.#k(stream),
        this.#k(headKey),
        expectedHead === null ? '0' : '1',
        expectedHead ?? '',
        newHead,
        ...flat,
      ),
    );
    return typeof id === 'string' ? id : null;
  }

  async readStream(stream: string): Promise<StreamEntry[]> {
    const entries: StreamEntry[] = [];
    let start = '-';
    for (;;) {
      // Pages of 2,000: a 10,000-event timeline in 5 round trips, each page about a MiB at most.
      const page = await this.redis.xrange(this.#k(stream), start, '+', 'COUNT', STREAM_PAGE);
      for (const [id, flat] of page) {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
        entries.push({ id, fields });
      }
      if (page.length < STREAM_PAGE) return entries;
      start = `(${page[page.length - 1]?.[0]}`;
    }
  }

  async acquireLease(key: string, owner: string, ttlMs: number): Promise<number | null> {
    const lease = this.#k(key);
    const fence = this.cluster ? physicalBeside(lease, ':fence') : this.#k(FENCE_KEY);
    const token = await this.#durable(this.#script('csAcquireLease', lease, fence, owner, ttlMs));
    return typeof token === 'number' && token > 0 ? token : null;
  }

  async renewLease(key: string, token: number, ttlMs: number): Promise<boolean> {
    return (await this.#durable(this.#script('csRenewLease', this.#k(key), token, ttlMs))) === 1;
  }

  async releaseLease(key: string, token: number): Promise<boolean> {
    return (await this.#durable(this.#script('csReleaseLease', this.#k(key), token))) === 1;
  }

  async leaseHolder(key: string): Promise<number | null> {
    return leaseToken(await this.redis.get(this.#k(key)));
  }

  async ping(): Promise<void> {
    if (this.redis.status === 'end') throw new Error('redis connection is closed');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('redis did not answer PING in time')), this.#pingTimeoutMs);
    });
    try {
      await Promise.race([this.redis.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
