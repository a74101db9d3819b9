// The timeline's storage: chainHead (asked on every headline edit) must not read a long stream each time.
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/memory.ts';
import { TimelineLog } from '../../src/timeline-log.ts';

const actor = { type: 'user' as const, id: 'U0ALICE', name: 'alice' };

/** A memory store that counts whole-stream reads and reads of other keys. */
class CountingStore extends MemoryStore {
  streamReads = 0;
  gets: string[] = [];
  override async get(key: string) {
    this.gets.push(key);
    return super.get(key);
  }
  override async readStream(stream: string) {
    this.streamReads += 1;
    return super.readStream(stream);
  }
}

async function append(log: TimelineLog, n: number, incident = 'INC-1'): Promise<void> {
  for (let i = 0; i < n; i++)
    await log.append({ incident, step: null, kind: 'test', actor, summary: `event ${i}` });
}

async function streamHead(store: MemoryStore, incident = 'INC-1') {
  const entries = await store.readStream(TimelineLog.streamKey(incident));
  const last = entries.at(-1)?.fields.event;
  return { count: entries.length, head: last ? (JSON.parse(last) as { hash: string }).hash : null };
}

describe('TimelineLog.chainHead', () => {
  it('answers from the head it last saw while the stored head has not moved: one read of a long stream, not one per edit', async () => {
    const store = new CountingStore();
    const log = new TimelineLog(store);
    await append(log, 5);
    assert.deepEqual(await log.chainHead('INC-1'), await streamHead(store));
    const reads = store.streamReads;
    for (let edit = 0; edit < 10; edit++) {
      await append(log, 3);
      assert.deepEqual(await log.chainHead('INC-1'), await streamHead(store));
    }
    assert.equal((await log.chainHead('INC-1')).count, 35);
    // streamHead's own reads only: chainHead followed its own appends and read nothing whole.
    assert.equal(store.streamReads - reads, 10);
  });

  it('reads the stream again when another writer appended (another replica)', async () => {
    const store = new CountingStore();
    const mine = new TimelineLog(store);
    const theirs = new TimelineLog(store);
    await append(mine, 2);
    assert.equal((await mine.chainHead('INC-1')).count, 2);
    await append(theirs, 3);
    await append(mine, 1);
    assert.deepEqual(await mine.chainHead('INC-1'), { ...(await streamHead(store)), count: 6 });
  });

  it('reads the stream again when the stored head was moved under it (a cut tail), as before', async () => {
    const store = new CountingStore();
    const log = new TimelineLog(store);
    await append(log, 4);
    assert.equal((await log.chainHead('INC-1')).count, 4);
    const entries = await store.readStream(TimelineLog.streamKey('INC-1'));
    const second = JSON.parse(entries[1]?.fields.event ?? '{}') as { hash: string };
    await store.set(TimelineLog.headKey('INC-1'), second.hash);
    const before = store.streamReads;
    assert.deepEqual(await log.chainHead('INC-1'), {
      count: 4,
      head: await streamHead(store).then((h) => h.head),
    });
    assert.equal(store.streamReads - before, 2);
  });

  it('keeps incidents apart and knows an empty chain', async () => {
    const store = new CountingStore();
    const log = new TimelineLog(store);
    assert.deepEqual(await log.chainHead('INC-2'), { count: 0, head: null });
    await append(log, 2, 'INC-2');
    await append(log, 1, 'INC-3');
    assert.deepEqual(await log.chainHead('INC-2'), await streamHead(store, 'INC-2'));
    assert.deepEqual(await log.chainHead('INC-3'), await streamHead(store, 'INC-3'));
  });
});

describe('TimelineLog.append', () => {
  it('chains onto the head it last appended without reading it again', async () => {
    const store = new CountingStore();
    const log = new TimelineLog(store);
    await append(log, 4);
    assert.equal(
      store.gets.filter((k) => k === TimelineLog.headKey('INC-1')).length,
      1,
      'only the first append',
    );
    assert.deepEqual(await log.verify('INC-1').then((v) => v.verification), {
      ok: true,
      count: 4,
      head: (await streamHead(store)).head,
    });
  });

  it('still links up when another writer moved the head: the stale head is refused, then read', async () => {
    const store = new CountingStore();
    const mine = new TimelineLog(store);
    const theirs = new TimelineLog(store);
    await append(mine, 2);
    await append(theirs, 2);
    await append(mine, 2);
    const { verification } = await mine.verify('INC-1');
    assert.equal(verification.ok, true);
    assert.equal(verification.count, 6);
  });
});
