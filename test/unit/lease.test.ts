// The lease primitive on the in-memory store: fencing tokens, no re-entry, loss seen through the AbortSignal.
import assert from 'node:assert/strict';
import { LeaseLostError, Leadership, takeLease, withLease } from '../../src/lease.ts';
import { MemoryStore } from '../../src/store/memory.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lease', () => {
  it('gives each acquisition a higher token and refuses a second acquisition while the first is live, even by the same owner', async () => {
    const store = new MemoryStore();
    const first = await takeLease(store, 'k', { owner: 'me', ttlMs: 1000 });
    assert.ok(first);
    assert.equal(await takeLease(store, 'k', { owner: 'me', ttlMs: 1000 }), null);
    assert.equal(await first.release(), true);
    const second = await takeLease(store, 'k', { owner: 'me', ttlMs: 1000 });
    assert.ok(second && second.token > first.token);
    assert.equal(await first.release(), false, 'a released acquisition releases nothing again');
    assert.equal(await store.leaseHolder('k'), second.token, 'the newer lease is untouched');
    await second.release();
  });

  it('aborts the signal when a renewal finds the lease taken over', async () => {
    const store = new MemoryStore();
    const lost: string[] = [];
    const lease = await takeLease(store, 'k', {
      owner: 'a',
      ttlMs: 1000,
      renewMs: 20,
      onLost: (why) => lost.push(why),
    });
    assert.ok(lease);
    await store.del('k'); // it lapsed (a long pause) ...
    const other = await takeLease(store, 'k', { owner: 'b', ttlMs: 1000 }); // ... and someone took it
    assert.ok(other);
    await sleep(80);
    assert.equal(lease.signal.aborted, true);
    assert.ok(lease.signal.reason instanceof LeaseLostError);
    assert.throws(() => lease.check(), LeaseLostError);
    assert.deepEqual(lost, ['another holder took it, or it lapsed']);
    assert.equal(await lease.release(), false);
    assert.equal(await store.leaseHolder('k'), other.token, "a lost lease never releases its successor's");
    await other.release();
  });

  it('aborts when the store cannot confirm the lease before it lapses, and keeps it through shorter outages', async () => {
    const store = new MemoryStore();
    let down = false;
    const flaky = new Proxy(store, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop === 'renewLease' && typeof value === 'function')
          return (...args: unknown[]) =>
            down ? Promise.reject(new Error('Connection is closed.')) : value.apply(target, args);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const lease = await takeLease(flaky, 'k', { owner: 'a', ttlMs: 300, renewMs: 20 });
    assert.ok(lease);
    down = true;
    await sleep(120); // shorter than the lease: still ours
    assert.equal(lease.signal.aborted, false);
    down = false;
    await sleep(100);
    assert.equal(lease.signal.aborted, false, 'renewed after the outage');
    down = true;
    await sleep(500);
    assert.equal(lease.signal.aborted, true, 'unconfirmed for longer than the lease: lost');
  });

  it('withLease runs the work under the lease, releases it after, and says when it was busy', async () => {
    const store = new MemoryStore();
    const outcome = await withLease(store, 'k', { owner: 'a', ttlMs: 1000 }, async (lease) => {
      const busy = await withLease(store, 'k', { owner: 'a', ttlMs: 1000 }, async () => 'nested');
      assert.deepEqual(busy, { held: false });
      return lease.token;
    });
    assert.ok(outcome.held);
    assert.equal(outcome.lost, false);
    assert.equal(await store.leaseHolder('k'), null);
  });

  it('waits for a busy lease up to waitMs', async () => {
    const store = new MemoryStore();
    const holder = await takeLease(store, 'k', { owner: 'a', ttlMs: 1000 });
    assert.ok(holder);
    setTimeout(() => void holder.release(), 50);
    const waited = await takeLease(store, 'k', { owner: 'b', ttlMs: 1000, waitMs: 1000, pollMs: 10 });
    assert.ok(waited && waited.token > holder.token);
    await waited.release();
    assert.equal(await takeLease(store, 'k', { owner: 'b', ttlMs: 1000, waitMs: 0 }).then(Boolean), true);
  });

  it('Leadership leads while its lease lives and gives it up when it is lost', async () => {
    const store = new MemoryStore();
    const a = new Leadership(store, 'lead', { owner: 'a', ttlMs: 1000, renewMs: 20 });
    const b = new Leadership(store, 'lead', { owner: 'b', ttlMs: 1000, renewMs: 20 });
    assert.deepEqual(await Promise.all([a.lead(), a.lead()]), [true, true]);
    assert.equal(await b.lead(), false);
    await store.del('lead');
    assert.equal(await b.lead(), true);
    await sleep(80);
    assert.equal(a.lease, null, 'a noticed it lost the lead');
    assert.equal(await a.lead(), false);
    await b.release();
    assert.equal(await a.lead(), true);
    await a.release();
  });
});
