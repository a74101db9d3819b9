// Builds the ioredis client for one server, a Sentinel-watched master or a Cluster, with the same retry rules.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisConnection } from '../config-redis.ts';

/** After a failover the old master answers READONLY until the client finds the new one: reconnect and resend. */
function reconnectOnError(err: Error): 2 | false {
  return err.message.startsWith('READONLY') ? 2 : false;
}

const common: RedisOptions = {
  // Keep commands queued across a restart or failover of Redis, then fail rather than hang forever.
  maxRetriesPerRequest: 20,
  retryStrategy: (times) => Math.min(times * 100, 2000),
  lazyConnect: false,
  reconnectOnError,
};

export function connectRedis(target: RedisConnection): Redis | Cluster {
  if (target.kind === 'url') return new Redis(target.url, common);
  if (target.kind === 'sentinel') {
    return new Redis({
      ...common,
      sentinels: target.sentinels,
      name: target.name,
      ...(target.password ? { password: target.password } : {}),
      ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
      sentinelRetryStrategy: (times) => Math.min(times * 100, 2000),
    });
  }
  return new Cluster(target.nodes, {
    redisOptions: { ...common, ...(target.password ? { password: target.password } : {}) },
    clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
    // MOVED/ASK after a resharding or a failover: follow them a few times before giving up.
    maxRedirections: 16,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
  });
}
