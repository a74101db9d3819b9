// /contain when a write's answer goes wrong, against the local Route 53 with real-world timings on the injected
// clock (INSYNC after 60 s, 5 requests/s): the card reports what the records show, never a guessed outcome.
import assert from 'node:assert/strict';
import type { ShiftChange } from '../../flows/contain/contain.ts';
import type { Action } from '../../src/actions.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import {
  fakeClock,
  NEXT_RECORD,
  pair,
  trafficAdapters,
  trafficConfig,
  ZONE,
  type FakeClock,
} from '../support/aws.ts';
import { makeTestBot, textOf, type TestBot } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import {
  DROP_AFTER_COMMIT,
  FAIL_AFTER_COMMIT,
  REAL_RATE_PER_SECOND,
  REAL_SYNC_DELAY_MS,
  startRoute53Server,
  type Route53Server,
} from '../../src/drill/route53.ts';

describe('/contain with unknown write outcomes (local Route 53, real-world timings on the injected clock)', () => {
  let store: RedisStore;
  let clock: FakeClock;
  let server: Route53Server;
  let t: TestBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    clock = fakeClock();
    server = await startRoute53Server({
      zones: { [ZONE]: [...pair(), NEXT_RECORD] },
      syncDelayMs: REAL_SYNC_DELAY_MS,
      rateLimit: { perSecond: REAL_RATE_PER_SECOND },
      now: () => clock.now().getTime(),
    });
    const config = trafficConfig();
    const kit = trafficAdapters(config, clock, { route53: server.url });
    t = makeTestBot({ store, config, adapters: { traffic: kit.traffic }, now: clock.now });
    await t.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
  });

  afterEach(async () => {
    await t.bot.stop();
    await server.stop();
    await store.close();
  });

  async function approveContain(): Promise<Action<ShiftChange>> {
    await t.command('alice', '/contain');
    const [requested] = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(requested);
    await t.click('bob', APPROVE_ACTION, requested.id);
    await t.bot.idle();
    const done = await t.bot.deps.approvals.get(requested.id);
    assert.ok(done);
    return done as Action<ShiftChange>;
  }

  const weights = () =>
    server
      .records(ZONE)
      .filter((r) => r.setIdentifier)
      .map((r) => `${r.setIdentifier}=${r.weight}`)
      .join(' ');

  async function timeline() {
    return (await t.bot.deps.timeline.read('INC-1')).map((e) => `${e.kind}: ${e.summary}`);
  }

  for (const [name, fault, said] of [
    ['answers 500', FAIL_AFTER_COMMIT, /answered HTTP 500 \(InternalFailure: An internal error occurred\.\)/],
    ['drops the connection', DROP_AFTER_COMMIT, /got no answer \(/],
  ] as const) {
    it(`ChangeResourceRecordSets commits then ${name}: the card says the change was applied and follows it to INSYNC`, async () => {
      server.failNext('ChangeResourceRecordSets', 1, fault);
      const done = await approveContain();

      assert.equal(weights(), 'cloud=0 legacy=100', 'Route 53 holds the new weights');
      assert.equal(done.state, 'succeeded');
      const summary = done.result?.summary ?? '';
      assert.doesNotMatch(summary, /Nothing was written|NOT shifted|FAILED/i);
      assert.match(summary, /INSYNC after 6\d s/);
      const events = await timeline();
      const submitted = events.find((e) => e.startsWith('traffic.submitted'));
      assert.match(
        submitted ?? '',
        /Route 53 shifted \(legacy 20 \/ cloud 80 -> legacy 100 \/ cloud 0\), seen by reading back/,
      );
      assert.match(submitted ?? '', said);
      assert.match(
        events.find((e) => e.startsWith('traffic.in_sync')) ?? '',
        /DNS in sync: Route 53 change C[0-9A-F]+ is INSYNC after 6\d s/,
      );
      assert.ok(done.card);
      assert.match(textOf(t.chat.latest(done.card)), /Done: Shift payments to legacy 100%/);
      // The lost change plus one no-op marker batch that gave a change id to follow; nothing else was written.
      assert.equal(server.accepted.length, 2);
      assert.match(server.accepted[1]?.comment ?? '', /^sync marker \(no-op\) for: cloud-safety INC-1 act-/);
    });
  }

  it('a 500 that did not commit: "nothing was written" is said only after reading the records back', async () => {
    server.failNext('ChangeResourceRecordSets', 1, {
      code: 'InternalFailure',
      message: 'An internal error occurred.',
      status: 500,
    });
    const done = await approveContain();
    assert.equal(weights(), 'cloud=80 legacy=20');
    assert.equal(done.state, 'failed');
    assert.match(
      done.result?.summary ?? '',
      /^Nothing was written: ChangeResourceRecordSets answered HTTP 500 \(InternalFailure: An internal error occurred\.\); the records read back still show legacy 20 \/ cloud 80, so nothing was written\./,
    );
    assert.equal(server.accepted.length, 0);
  });

  it('no answer and the records cannot be read either: the card says UNKNOWN, never "nothing was written"', async () => {
    server.failNext('ChangeResourceRecordSets', 1, {
      ...DROP_AFTER_COMMIT,
      // From the moment the answer is lost, Route 53 fails every read the adapter retries (5 tries).
      then: () =>
        server.failNext('ListResourceRecordSets', 5, {
          code: 'ServiceUnavailable',
          message: 'Service Unavailable',
          status: 503,
        }),
    });
    const done = await approveContain();
    assert.equal(weights(), 'cloud=0 legacy=100', 'it was in fact written');
    assert.equal(done.state, 'failed');
    const summary = done.result?.summary ?? '';
    assert.doesNotMatch(summary, /Nothing was written/);
    assert.match(
      summary,
      /^Route 53: the outcome of the write is UNKNOWN: ChangeResourceRecordSets got no answer/,
    );
    assert.match(summary, /Look at it in Route 53 before doing anything else/);
    const notShifted = (await t.bot.deps.timeline.read('INC-1')).find(
      (e) => e.kind === 'traffic.not_shifted',
    );
    assert.equal(notShifted?.data.reason, 'unknown');
    assert.match(notShifted?.summary ?? '', /^Route 53: outcome of the shift UNKNOWN/);

    // 30 s later a durable timer reads Route 53 again (it answers now) and says what is really there.
    clock.advance(30_000);
    await t.bot.deps.scheduler.tick();
    await t.bot.idle();
    const last = (await t.bot.deps.timeline.read('INC-1')).at(-1);
    assert.equal(last?.kind, 'traffic.submitted');
    assert.match(
      last?.summary ?? '',
      /^Route 53 read again after the unknown outcome: it shows legacy 100 \/ cloud 0, so the change WAS applied/,
    );
    const card = await t.bot.deps.approvals.get(done.id);
    assert.match(card?.progress.at(-1)?.text ?? '', /the change WAS applied/);
  });
});
