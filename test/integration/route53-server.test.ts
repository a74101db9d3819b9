// The local Route 53 endpoint (drills, benchmarks) driven by the real adapter over HTTP: CAS, sync, pages, health.
import assert from 'node:assert/strict';
import { Route53TrafficAdapter } from '../../src/adapters/route53.ts';
import { TrafficDriftError } from '../../src/adapters/traffic.ts';
import { createMetrics } from '../../src/metrics.ts';
import { fakeClock, route53Client } from '../support/aws.ts';
import { memoryLogger } from '../support/bot.ts';
import {
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  drillRecords,
  startRoute53Server,
  type Route53Server,
} from '../../src/drill/route53.ts';

describe('local Route 53 endpoint', () => {
  let server: Route53Server;
  let serverNow: number;
  let adapter: Route53TrafficAdapter;

  beforeEach(async () => {
    serverNow = Date.parse('2026-11-26T10:00:00Z');
    server = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords() },
      healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
      syncDelayMs: 3000,
      pageSize: 1,
      now: () => serverNow,
    });
    const clock = fakeClock();
    adapter = new Route53TrafficAdapter({
      client: route53Client(server.url),
      config: {
        hostedZoneId: DRILL_ZONE,
        recordName: 'api.payments.example.com.',
        recordType: 'A',
        legacy: 'legacy',
        cloud: 'cloud',
        maxTtl: 60,
      },
      metrics: createMetrics({ defaults: false }),
      log: memoryLogger().log,
      // Each poll's sleep moves the server's clock too, so PENDING turns INSYNC without waiting.
      sleep: async (ms) => {
        await clock.sleep(ms);
        serverNow += ms;
      },
      now: clock.now,
      random: () => 0.5,
    });
  });

  afterEach(async () => {
    await server.stop();
  });

  it('lists in pages of one, takes the CAS batch, goes PENDING then INSYNC, and rejects a stale DELETE', async () => {
    const state = await adapter.read();
    assert.deepEqual([state.legacy.weight, state.cloud.weight], [20, 80]);
    assert.ok(server.requests.filter((r) => r.method === 'GET').length >= 2, 'followed NextRecordIdentifier');

    const receipt = await adapter.shift(state, { legacy: 100, cloud: 0 }, { comment: 'drill' });
    assert.equal(receipt.status, 'PENDING');
    const sync = await adapter.waitInSync(receipt);
    assert.equal(sync.status, 'INSYNC');
    assert.deepEqual(
      server
        .records(DRILL_ZONE)
        .filter((r) => r.type === 'A')
        .map((r) => `${r.setIdentifier}=${r.weight}`),
      ['cloud=0', 'legacy=100'],
    );
    assert.equal(
      server.records(DRILL_ZONE).find((r) => r.setIdentifier === 'legacy')?.healthCheckId,
      DRILL_HEALTH_CHECK,
    );

    await assert.rejects(
      adapter.shift(state, { legacy: 90, cloud: 10 }, { comment: 'stale' }),
      (err: Error) =>
        err instanceof TrafficDriftError &&
        /set-identifier='legacy'\] but the values provided do not match/.test(err.message),
    );
    assert.equal(server.accepted.length, 1, 'the stale batch changed nothing');
  });

  it('answers health checks and throttles on demand', async () => {
    const state = await adapter.read();
    assert.equal((await adapter.checkLegacyHealth(state)).status, 'healthy');
    server.setHealth(DRILL_HEALTH_CHECK, 0);
    assert.equal((await adapter.checkLegacyHealth(state)).status, 'unhealthy');
    server.throttleNext(2);
    const receipt = await adapter.shift(state, { legacy: 100, cloud: 0 }, { comment: 'drill' });
    assert.equal(receipt.attempts, 3);
  });
});
