// REDIS_URL, REDIS_SENTINELS + REDIS_SENTINEL_NAME or REDIS_CLUSTER_NODES: one of them, each read strictly.
import assert from 'node:assert/strict';
import { describeRedis, redisConnectionFromEnv } from '../../src/config-redis.ts';

describe('Redis connection from the environment', () => {
  it('reads a Sentinel set-up, waiting for one replica by default', () => {
    const c = redisConnectionFromEnv({
      REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26380',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_PASSWORD: 'pw',
    });
    assert.deepEqual(c, {
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
      ],
      name: 'mymaster',
      password: 'pw',
      waitReplicas: 1,
    });
    assert.ok(c && !describeRedis(c).includes('pw'));
  });

  it('reads Cluster nodes and a plain URL', () => {
    assert.deepEqual(redisConnectionFromEnv({ REDIS_CLUSTER_NODES: 'a:7000,[::1]:7001' }), {
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: '::1', port: 7001 },
      ],
      waitReplicas: 0,
    });
    assert.deepEqual(redisConnectionFromEnv({ REDIS_URL: 'redis://x:1' }), {
      kind: 'url',
      url: 'redis://x:1',
      waitReplicas: 0,
    });
    assert.equal(redisConnectionFromEnv({}), undefined);
  });

  it('says how to write each bad setting', () => {
    assert.throws(
      () => redisConnectionFromEnv({ REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'a:1' }),
      /REDIS_URL and REDIS_CLUSTER_NODES are both set; keep one/,
    );
    assert.throws(
      () => redisConnectionFromEnv({ REDIS_SENTINELS: 'a:1' }),
      /REDIS_SENTINEL_NAME is not; name the master .* REDIS_SENTINEL_NAME=mymaster/,
    );
    assert.throws(
      () => redisConnectionFromEnv({ REDIS_CLUSTER_NODES: 'a:1,b' }),
      /"b" is not host:port; list the nodes like REDIS_CLUSTER_NODES=/,
    );
    assert.throws(
      () => redisConnectionFromEnv({ REDIS_URL: 'redis://x', REDIS_WAIT_REPLICAS: 'two' }),
      /REDIS_WAIT_REPLICAS=two is not a replica count/,
    );
    assert.throws(
      () => redisConnectionFromEnv({ REDIS_SENTINEL_NAME: 'm' }),
      /REDIS_SENTINELS is not; list the sentinels/,
    );
  });
});
