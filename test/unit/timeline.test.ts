// The hash chain: every event commits to its predecessor, so an edit, a removal or an insertion is found.
import assert from 'node:assert/strict';
import {
  canonicalJson,
  hashEvent,
  sealEvent,
  verifyChain,
  type StoredEvent,
  type TimelineEvent,
} from '../../src/timeline.ts';

const actor = { type: 'user' as const, id: 'U0ALICE', name: 'alice' };

function chain(n: number): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (let i = 0; i < n; i++) {
    events.push(
      sealEvent(
        {
          incident: 'INC-1',
          step: i % 2 === 0 ? 'C' : null,
          kind: 'test',
          actor,
          summary: `event ${i}`,
          data: { i },
        },
        events[i - 1]?.hash ?? null,
        new Date(Date.UTC(2026, 10, 26, 10, 0, i)),
      ),
    );
  }
  return events;
}

const stored = (events: TimelineEvent[]): StoredEvent[] =>
  events.map((event, i) => ({ id: `1-${i}`, event }));

describe('timeline hash chain', () => {
  it('hashes the canonical JSON of the event with prev, independent of key order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 0 }] } }),
      '{"a":{"c":[3,{"e":0,"f":1}],"d":2},"b":1}',
    );
    const [first] = chain(1);
    assert.ok(first);
    assert.match(first.hash, /^[0-9a-f]{64}$/);
    assert.equal(first.prev, null);
    assert.equal(hashEvent({ ...first }), first.hash);
  });

  it('verifies an untouched chain and reports its head', () => {
    const events = chain(5);
    assert.deepEqual(verifyChain(stored(events), events[4]?.hash ?? null), {
      ok: true,
      count: 5,
      head: events[4]?.hash,
    });
  });

  it('names the first edited event', () => {
    const events = chain(5);
    const edited = events.map((e, i) => (i === 2 ? { ...e, summary: 'nothing happened here' } : e));
    const result = verifyChain(stored(edited), events[4]?.hash ?? null);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.index === 2 && result.id === '1-2' && /edited/.test(result.reason));
  });

  it('finds a removed event at the one after it', () => {
    const events = chain(5);
    const removed = stored(events).filter((_, i) => i !== 1);
    const result = verifyChain(removed, events[4]?.hash ?? null);
    assert.ok(!result.ok && result.id === '1-2' && /removed or inserted/.test(result.reason));
  });

  it('finds events cut from the end through the recorded head', () => {
    const events = chain(5);
    const result = verifyChain(stored(events.slice(0, 3)), events[4]?.hash ?? null);
    assert.ok(!result.ok && /removed from the end/.test(result.reason));
  });

  it('finds an edit that also recomputed the edited event hash (its successor no longer links)', () => {
    const events = chain(4);
    const forged = { ...events[1], summary: 'forged' } as TimelineEvent;
    forged.hash = hashEvent(forged);
    const list = [events[0], forged, events[2], events[3]] as TimelineEvent[];
    const result = verifyChain(stored(list), events[3]?.hash ?? null);
    assert.ok(!result.ok && result.index === 2);
  });
});
