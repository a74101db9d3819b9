// Tamper evidence on real Redis: rewrite a stored event in the stream and /timeline names the first bad one.
import assert from 'node:assert/strict';
import { anchorKey } from '../../src/anchors.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { TimelineLog } from '../../src/timeline-log.ts';
import { hashEvent, type TimelineEvent } from '../../src/timeline.ts';
import { makeTestBot, textOf } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';

describe('timeline tamper evidence (real Redis)', () => {
  let store: RedisStore;
  beforeEach(async () => {
    store = await isolatedRedisStore();
  });
  afterEach(async () => {
    await store.close();
  });

  async function incidentWithEvents() {
    const t = makeTestBot({ store });
    await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    for (const text of ['heap 97%', 'OOMKilled x3', 'shifted to legacy']) {
      const ref = t.chat.say('C0INCIDENT', 'U0CAROL', text);
      await t.bot.handleReaction({ reaction: 'pushpin', user: { id: 'U0ALICE', name: 'alice' }, item: ref });
    }
    await t.bot.idle();
    return t;
  }

  it('verifies the untouched chain in /timeline', async () => {
    const t = await incidentWithEvents();
    const [reply] = await t.command('alice', '/timeline');
    assert.match(textOf(reply), /Hash chain verified: 4 events/);
    assert.match(textOf(reply), /alice declared INC-1 on payments \(SEV1\): OOM on cloud/);
  });

  it('names the first edited event when a stored event is rewritten in Redis', async () => {
    const t = await incidentWithEvents();
    // Rebuild the stream with the third event's summary changed, keeping every id (what an editor with Redis access would do).
    const fullKey = await findStreamKey(store, TimelineLog.streamKey('INC-1'));
    const entries = (await store.redis.xrange(fullKey, '-', '+')) as [string, string[]][];
    await store.redis.del(fullKey);
    for (const [i, [id, fields]] of entries.entries()) {
      const event = JSON.parse(fields[1] ?? '{}') as { summary: string };
      if (i === 2) event.summary = 'alice pinned: "nothing to see"';
      await store.redis.xadd(fullKey, id, 'event', JSON.stringify(event));
    }

    const [reply] = await t.command('alice', '/timeline');

    assert.match(
      textOf(reply),
      new RegExp(
        `Hash chain BROKEN at event 3 \\(${entries[2]?.[0]}\\): its content does not match its hash`,
      ),
    );
  });

  it('reports a rewrite re-hashed with plain SHA-256: the chain is keyed with a secret outside Redis', async () => {
    const t = await incidentWithEvents();
    const fullKey = await findStreamKey(store, TimelineLog.streamKey('INC-1'));
    const entries = (await store.redis.xrange(fullKey, '-', '+')) as [string, string[]][];
    await store.redis.del(fullKey);
    // The whole chain rebuilt from the third event on, every hash recomputed and the head moved: self-consistent.
    let prev: string | null = null;
    for (const [i, [id, fields]] of entries.entries()) {
      const event = JSON.parse(fields[1] ?? '{}') as TimelineEvent;
      if (i === 2) event.summary = 'alice pinned: "nothing to see"';
      event.prev = prev;
      event.hash = hashEvent(event);
      prev = event.hash;
      await store.redis.xadd(fullKey, id, 'event', JSON.stringify(event));
    }
    await store.set(TimelineLog.headKey('INC-1'), prev ?? '');

    const [reply] = await t.command('alice', '/timeline');

    assert.match(
      textOf(reply),
      /Hash chain BROKEN at event 1 \([^)]+\): its content does not match its hash/,
    );
  });

  it('reports a cut tail that still links up, by the head anchored in the pinned headline', async () => {
    const t = await incidentWithEvents();
    const headline = (await t.bot.deps.incidents.get('INC-1'))?.headline;
    assert.ok(headline);
    assert.match(t.chat.latest(headline)?.text ?? '', /chain 4 events, head [0-9a-f]{16}/);
    const fullKey = await findStreamKey(store, TimelineLog.streamKey('INC-1'));
    const entries = (await store.redis.xrange(fullKey, '-', '+')) as [string, string[]][];
    // Remove the last two events and point the head at the new last one: the chain itself verifies.
    for (const [id] of entries.slice(2)) await store.redis.xdel(fullKey, id);
    const last = JSON.parse(entries[1]?.[1][1] ?? '{}') as TimelineEvent;
    await store.set(TimelineLog.headKey('INC-1'), last.hash);

    const [reply] = await t.command('alice', '/timeline');

    assert.match(
      textOf(reply),
      /Hash chain BROKEN at event 3 \(\(end\)\): the chain was cut: the pinned headline recorded 4 events, only 2 are stored/,
    );
  });

  it('reports a cut tail by the head anchored in the evidence store, even when the headline was unhooked in Redis', async () => {
    const t = await incidentWithEvents();
    const incident = await t.bot.deps.incidents.get('INC-1');
    assert.ok(incident?.headline);
    const evidence = t.bot.deps.adapters.evidence;
    assert.ok(evidence);
    const recorded = await evidence.getRecord(anchorKey(incident));
    assert.match(
      recorded ?? '',
      /"count":4,"head":"[0-9a-f]{64}"/,
      'every headline edit anchors the head there too',
    );

    const fullKey = await findStreamKey(store, TimelineLog.streamKey('INC-1'));
    const entries = (await store.redis.xrange(fullKey, '-', '+')) as [string, string[]][];
    for (const [id] of entries.slice(2)) await store.redis.xdel(fullKey, id);
    const last = JSON.parse(entries[1]?.[1][1] ?? '{}') as TimelineEvent;
    await store.set(TimelineLog.headKey('INC-1'), last.hash);
    // Whoever holds Redis also unhooks the pinned headline, so only the evidence store still knows the head.
    await t.bot.deps.incidents.update('INC-1', ({ headline: _gone, ...rest }) => rest);

    const { verification } = await t.bot.deps.timeline.verify(
      'INC-1',
      await t.bot.deps.incidents.anchors((await t.bot.deps.incidents.get('INC-1'))!),
    );

    assert.equal(verification.ok, false);
    assert.match(
      verification.ok ? '' : verification.reason,
      /the chain was cut: the anchor in the evidence store \(.*INC-1\/timeline-anchor-\d{8}T\d{9}Z\.json\) recorded 4 events, only 2 are stored/,
    );
  });

  it('keeps its own anchor per declaration: an INC-1 of an earlier store never judges a new INC-1', async () => {
    const first = await incidentWithEvents();
    const evidence = first.bot.deps.adapters.evidence;
    assert.ok(evidence);
    const fresh = await isolatedRedisStore();
    try {
      const second = makeTestBot({ store: fresh, adapters: { evidence } });
      await second.command('alice', '/incident', 'declare payments sev=2 a new incident on a new store');
      await second.bot.idle();
      const [reply] = await second.command('alice', '/timeline');
      assert.match(textOf(reply), /Hash chain verified: 1 event/);
    } finally {
      await fresh.close();
    }
  });

  it('detects a deleted event', async () => {
    const t = await incidentWithEvents();
    const fullKey = await findStreamKey(store, TimelineLog.streamKey('INC-1'));
    const entries = (await store.redis.xrange(fullKey, '-', '+')) as [string, string[]][];
    await store.redis.xdel(fullKey, entries[1]?.[0] ?? '');
    const { verification } = await t.bot.deps.timeline.verify('INC-1');
    assert.ok(
      !verification.ok && verification.index === 1 && /removed or inserted/.test(verification.reason),
    );
  });
});

/** The namespaced Redis key of a store key (the store prefixes every key). */
async function findStreamKey(store: RedisStore, key: string): Promise<string> {
  const full = store.prefix + key;
  assert.equal(await store.redis.type(full), 'stream');
  return full;
}
