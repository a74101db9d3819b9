// Where the store's Redis is: one URL, a Sentinel-watched master, or a Cluster, read from the environment.
import { ConfigError } from './errors.ts';

export interface RedisNode {
  host: string;
  port: number;
}

/** How to reach Redis; the store (src/store/redis.ts) builds the matching ioredis client. */
export type RedisConnection =
  | { kind: 'url'; url: string; waitReplicas: number }
  | {
      kind: 'sentinel';
      sentinels: RedisNode[];
      /** The master's name in `sentinel monitor <name> …`. */
      name: string;
      password?: string;
      sentinelPassword?: string;
      /** Acknowledged writes wait (bounded) until this many replicas have them, so a failover loses none. */
      waitReplicas: number;
    }
  | { kind: 'cluster'; nodes: RedisNode[]; password?: string; waitReplicas: number };

/** "host:port,host:port" into nodes; `name` is the variable, for the message. */
export function parseNodes(name: string, text: string): RedisNode[] {
  const nodes = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(part);
      const port = Number(match?.[2]);
      if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw new ConfigError(
          `${name}: "${part}" is not host:port; list the nodes like ${name}=10.0.0.1:26379,10.0.0.2:26379`,
        );
      }
      return { host: match[1].replace(/^\[|\]$/g, ''), port };
    });
  if (nodes.length === 0)
    throw new ConfigError(`${name} is empty; list the nodes like ${name}=10.0.0.1:26379,10.0.0.2:26379`);
  return nodes;
}

function waitReplicas(env: NodeJS.ProcessEnv, fallback: number): number {
  const text = env.REDIS_WAIT_REPLICAS;
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 16) {
    throw new ConfigError(
      `REDIS_WAIT_REPLICAS=${text} is not a replica count; write 0 (do not wait) up to 16, e.g. REDIS_WAIT_REPLICAS=1`,
    );
  }
  return n;
}

/**
 * REDIS_URL, or REDIS_SENTINELS + REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES (exactly one of the three); undefined
 * when none is set. Passwords come from REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD, never from the node lists.
 */
export function redisConnectionFromEnv(env: NodeJS.ProcessEnv): RedisConnection | undefined {
  const given = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter((k) => env[k]);
  if (given.length > 1) {
    throw new ConfigError(
      `${given.join(' and ')} are both set; keep one: REDIS_URL for one server, REDIS_SENTINELS (+ REDIS_SENTINEL_NAME) for Sentinel, REDIS_CLUSTER_NODES for a Cluster`,
    );
  }
  const password = env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {};
  if (env.REDIS_URL) return { kind: 'url', url: env.REDIS_URL, waitReplicas: waitReplicas(env, 0) };
  if (env.REDIS_SENTINELS) {
    const name = env.REDIS_SENTINEL_NAME;
    if (!name) {
      throw new ConfigError(
        'REDIS_SENTINELS is set but REDIS_SENTINEL_NAME is not; name the master as the sentinels know it, e.g. REDIS_SENTINEL_NAME=mymaster',
      );
    }
    return {
      kind: 'sentinel',
      sentinels: parseNodes('REDIS_SENTINELS', env.REDIS_SENTINELS),
      name,
      ...password,
      ...(env.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: env.REDIS_SENTINEL_PASSWORD } : {}),
      // A failover promotes a replica: wait for one by default so an acknowledged approval is on it.
      waitReplicas: waitReplicas(env, 1),
    };
  }
  if (env.REDIS_CLUSTER_NODES) {
    return {
      kind: 'cluster',
      nodes: parseNodes('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES),
      ...password,
      waitReplicas: waitReplicas(env, 0),
    };
  }
  if (env.REDIS_SENTINEL_NAME) {
    throw new ConfigError(
      'REDIS_SENTINEL_NAME is set but REDIS_SENTINELS is not; list the sentinels like REDIS_SENTINELS=10.0.0.1:26379,10.0.0.2:26379',
    );
  }
  return undefined;
}

/** Where the connection points, without any password: for the start-up line and errors. */
export function describeRedis(connection: RedisConnection): string {
  const list = (nodes: RedisNode[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if (connection.kind === 'sentinel')
    return `Sentinel "${connection.name}" via ${list(connection.sentinels)}`;
  if (connection.kind === 'cluster') return `Cluster ${list(connection.nodes)}`;
  try {
    const parsed = new URL(connection.url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'REDIS_URL';
  }
}
