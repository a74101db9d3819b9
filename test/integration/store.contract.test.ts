// One contract, two stores: the in-process store must behave exactly like Redis for every primitive.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { MemoryStore } from '../../src/store/memory.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { keyBeside, updateJson, type Store } from '../../src/store/store.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import {
  startCluster,
  startSentinels,
  type RedisCluster,
  type RedisSentinelSetup,
} from '../support/redis-topologies.ts';

let cluster: RedisCluster | undefined;
let sentinel: RedisSentinelSetup | undefined;
const prefix = () => `test:${randomUUID().slice(0, 8)}:`;

const implementations: [string, () => Promise<Store>, () => Promise<void>][] = [
  ['memory', async () => new MemoryStore(), async () => {}],
  ['redis', isolatedRedisStore, async () => {}],
  [
    'redis sentinel (master, replica, three sentinels)',
    async () => {
      sentinel ??= await startSentinels();
      const { nodes: sentinels, name } = sentinel;
      return new RedisStore({ kind: 'sentinel', sentinels, name, waitReplicas: 1 }, { prefix: prefix() });
    },
    async () => {
      await sentinel?.stop();
      sentinel = undefined;
    },
  ],
  [
    'redis cluster (three masters)',
    async () => {
      cluster ??= await startCluster();
      return new RedisStore({ kind: 'cluster', nodes: cluster.nodes, waitReplicas: 0 }, { prefix: prefix() });
    },
    async () => {
      await cluster?.stop();
      cluster = undefined;
    },
  ],
];

for (const [name, make, teardown] of implementations) {
  describe(`Store contract: ${name}`, function () {
    this.timeout(30_000);
    let store: Store;
    beforeEach(async () => {
      store = await make();
    });
    afterEach(async () => {
      await store.close();
    });
    after(teardown);

    it('gets, sets, sets only if absent, deletes', async () => {
      assert.equal(await store.get('k'), null);
      assert.equal(await store.set('k', 'v1'), true);
      assert.equal(await store.set('k', 'v2', { ifAbsent: true }), false);
      assert.equal(await store.get('k'), 'v1');
      await store.del('k');
      assert.equal(await store.get('k'), null);
    });

    it('expires keys after their TTL', async () => {
      await store.set('short', 'v', { ttlMs: 30 });
      await new Promise((r) => setTimeout(r, 80));
      assert.equal(await store.get('short'), null);
    });

    it('compares and sets atomically, including from and to absent', async () => {
      assert.equal(await store.compareAndSet('c', null, 'a'), true);
      assert.equal(await store.compareAndSet('c', null, 'b'), false);
      assert.equal(await store.compareAndSet('c', 'x', 'b'), false);
      assert.equal(await store.compareAndSet('c', 'a', 'b'), true);
      assert.equal(await store.get('c'), 'b');
      assert.equal(await store.compareAndSet('c', 'b', null), true);
      assert.equal(await store.get('c'), null);
    });

    it('keeps a key TTL across compare-and-set without a TTL', async () => {
      await store.set('t', 'a', { ttlMs: 60 });
      assert.equal(await store.compareAndSet('t', 'a', 'b'), true);
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(await store.get('t'), null);
    });

    it('lets exactly one of many concurrent JSON updates win each round, losing none', async () => {
      await store.set('counter', JSON.stringify({ n: 0 }));
      await Promise.all(
        Array.from({ length: 20 }, () =>
          updateJson<{ n: number }>(store, 'counter', (c) => ({ n: (c?.n ?? 0) + 1 })),
        ),
      );
      assert.deepEqual(JSON.parse((await store.get('counter')) ?? ''), { n: 20 });
    });

    it('increments counters', async () => {
      assert.equal(await store.incr('seq'), 1);
      assert.equal(await store.incr('seq'), 2);
    });

    it('keeps sets of members', async () => {
      assert.equal(await store.addToSet('s', 'b'), true);
      assert.equal(await store.addToSet('s', 'a'), true);
      assert.equal(await store.addToSet('s', 'a'), false);
      assert.deepEqual(await store.members('s'), ['a', 'b']);
      assert.equal(await store.removeFromSet('s', 'a'), true);
      assert.equal(await store.removeFromSet('s', 'a'), false);
      assert.deepEqual(await store.members('s'), ['b']);
    });

    it('schedules jobs, lists the due ones in time order, and lets exactly one caller claim each', async () => {
      await store.schedule('q', 'late', 300);
      await store.schedule('q', 'early', 100);
      await store.schedule('q', 'future', 10_000);
      assert.deepEqual(await store.due('q', 500), ['early', 'late']);
      const claims = await Promise.all([store.unschedule('q', 'early'), store.unschedule('q', 'early')]);
      assert.deepEqual(claims.sort(), [false, true]);
      assert.deepEqual(await store.due('q', 500), ['late']);
    });

    it('appends to a stream only while the head is the expected one', async () => {
      const head = keyBeside('st', ':head');
      const first = await store.appendChained('st', head, null, 'h1', { event: 'one' });
      assert.ok(first);
      assert.equal(await store.appendChained('st', head, null, 'h2', { event: 'stale' }), null);
      const second = await store.appendChained('st', head, 'h1', 'h2', { event: 'two' });
      assert.ok(second);
      const entries = await store.readStream('st');
      assert.deepEqual(
        entries.map((e) => e.fields.event),
        ['one', 'two'],
      );
      assert.equal(entries[0]?.id, first);
      assert.equal(await store.get(head), 'h2');
    });

    it('refuses a head key that is not built beside its stream, and appends nothing', async () => {
      await assert.rejects(
        store.appendChained('st', 'st:head', null, 'h1', { event: 'one' }),
        /"st:head" is not beside "st": build it with keyBeside\("st", "…"\)/,
      );
      assert.deepEqual(await store.readStream('st'), []);
    });

    it('reads long streams completely, in order', async () => {
      let head: string | null = null;
      for (let i = 0; i < 4003; i++) {
        await store.appendChained('long', keyBeside('long', ':head'), head, `h${i}`, { i: String(i) });
        head = `h${i}`;
      }
      const entries = await store.readStream('long');
      assert.equal(entries.length, 4003);
      assert.equal(entries[4002]?.fields.i, '4002');
    });

    it('grants a lease to one acquisition at a time, with an increasing fencing token, not even re-entrant', async () => {
      const first = await store.acquireLease('lease', 'a', 200);
      assert.ok(first !== null && first > 0);
      assert.equal(await store.acquireLease('lease', 'b', 200), null);
      assert.equal(await store.acquireLease('lease', 'a', 200), null, 'the same owner cannot take it twice');
      assert.equal(await store.leaseHolder('lease'), first);
      assert.equal(await store.renewLease('lease', first + 1, 200), false, 'only its own token renews it');
      assert.equal(await store.renewLease('lease', first, 200), true);
      assert.equal(await store.releaseLease('lease', first + 1), false);
      assert.equal(await store.releaseLease('lease', first), true);
      assert.equal(await store.leaseHolder('lease'), null);

      const second = await store.acquireLease('lease', 'b', 40);
      assert.ok(second !== null && second > first, 'each acquisition gets a higher token');
      await new Promise((r) => setTimeout(r, 90));
      assert.equal(await store.renewLease('lease', second, 200), false, 'a lapsed lease cannot be renewed');
      const third = await store.acquireLease('lease', 'a', 200);
      assert.ok(third !== null && third > second, 'an expired lease passes to the next acquisition');
      assert.equal(await store.releaseLease('lease', second), false, 'a stale token releases nothing');
      assert.equal(await store.leaseHolder('lease'), third);
    });

    it('answers ping', async () => {
      await store.ping();
    });
  });
}
