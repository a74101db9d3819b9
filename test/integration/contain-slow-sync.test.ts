// /contain against a Route 53 that takes a real-world 60 s to report INSYNC while the sweep runs, and with a lost lease.
import assert from 'node:assert/strict';
import { shiftTraffic } from '../../flows/contain/contain.ts';
import type { Action } from '../../src/actions.ts';
import { takeLease } from '../../src/lease.ts';
import { Route53TrafficAdapter } from '../../src/adapters/route53.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { fakeClock, route53Client, type FakeClock } from '../support/aws.ts';
import { makeTestBot, memoryLogger, textOf, type TestBot } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { DRILL_HEALTH_CHECK, DRILL_ZONE, drillRecords, startRoute53Server } from '../../src/drill/route53.ts';
import type { Route53Server } from '../../src/drill/route53.ts';
import { faultConfig } from '../faults/lib/fixtures.ts';

const SWEEP_EVERY_MS = 10_000; // the action-recovery sweep's period
const INSYNC_AFTER_MS = 60_000; // what real Route 53 takes

describe('/contain under real INSYNC timings and lost leases (real Redis, local Route 53)', () => {
  let store: RedisStore;
  let clock: FakeClock;
  let r53: Route53Server;
  let t: TestBot;
  const sweeps: number[] = [];

  beforeEach(async () => {
    store = await isolatedRedisStore();
    clock = fakeClock();
    sweeps.length = 0;
    r53 = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords(60) },
      healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
      syncDelayMs: INSYNC_AFTER_MS,
      now: () => clock.now().getTime(),
    });
    const config = faultConfig();
    const section = config.services.payments?.traffic?.route53;
    assert.ok(section);
    const { log } = memoryLogger();
    let nextSweep = clock.now().getTime() + SWEEP_EVERY_MS;
    const route53 = new Route53TrafficAdapter({
      client: route53Client(r53.url),
      config: section,
      metrics: createMetrics({ defaults: false }),
      log,
      now: clock.now,
      // Each GetChange poll waits on the injected clock; the sweep runs whenever the clock passes its period,
      // exactly as the scheduler would run it on this replica while the shift is polling.
      sleep: async (ms) => {
        clock.advance(ms);
        while (clock.now().getTime() >= nextSweep) {
          sweeps.push(nextSweep);
          nextSweep += SWEEP_EVERY_MS;
          await t.bot.deps.approvals.recover();
        }
      },
    });
    t = makeTestBot({ store, config, adapters: { traffic: { payments: { route53 } } }, now: clock.now });
    await t.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
    await r53.stop();
  });

  it('is never "recovered" by its own replica while polling: it reports the real INSYNC after 60 s', async () => {
    await t.command('alice', '/contain');
    const [requested] = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(requested);

    assert.deepEqual(await t.click('bob', APPROVE_ACTION, requested.id), []);

    assert.ok(sweeps.length >= 6, `the sweep ran ${sweeps.length} times during the 60 s of polling`);
    const done = (await t.bot.deps.approvals.get(requested.id)) as Action;
    assert.equal(done.state, 'succeeded');
    assert.doesNotMatch(done.result?.summary ?? '', /After a restart/);
    assert.match(done.result?.summary ?? '', /INSYNC after 6\d s/);
    assert.equal(done.result?.data?.recovered, undefined);
    const events = await t.bot.deps.timeline.read('INC-1');
    const kinds = events.map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'traffic.in_sync').length, 1, 'DNS in sync is reported once');
    assert.equal(kinds.filter((k) => k === 'action.succeeded').length, 1);
    assert.equal(kinds.filter((k) => k === 'action.failed').length, 0);
    assert.equal(r53.accepted.length, 1, 'one ChangeBatch');
    assert.ok(done.card);
    const card = textOf(t.chat.latest(done.card));
    assert.match(card, /Done: Shift payments to legacy 100%/);
    assert.match(card, /DNS in sync|in sync/);
    assert.doesNotMatch(card, /After a restart/);
  });
  it('an automated shift whose lease was lost writes nothing and says so', async () => {
    const lease = await takeLease(store, 'breaker:payments:trip', {
      owner: 'replica-a',
      ttlMs: 5000,
      renewMs: 20,
    });
    assert.ok(lease);
    // The lease lapses (a long pause) and another replica takes the trip over.
    await store.del('breaker:payments:trip');
    assert.ok(await takeLease(store, 'breaker:payments:trip', { owner: 'replica-b', ttlMs: 5000 }));
    for (let i = 0; i < 50 && !lease.signal.aborted; i++) await new Promise((r) => setTimeout(r, 20));

    const outcome = await shiftTraffic(t.bot.deps, {
      service: 'payments',
      incidentId: 'INC-1',
      legacyPercent: 100,
      actor: { type: 'breaker', id: 'breaker:payments', name: 'breaker' },
      opId: 'trip-payments-1',
      reason: 'memory 97% > 90% for 3 checks',
      signal: lease.signal,
    });

    assert.equal(outcome.ok, false);
    assert.match(outcome.summary, /^Nothing was written: lost the lease breaker:payments:trip/);
    assert.equal(r53.accepted.length, 0, 'no ChangeBatch from the replica that lost its lease');
    assert.equal(r53.records(DRILL_ZONE).find((r) => r.setIdentifier === 'legacy')?.weight, 20);
  });
});
