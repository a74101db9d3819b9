// The local Route 53 endpoint (drills, benchmarks) driven by the real adapter over HTTP: CAS, sync, pages, health.
import assert from 'node:assert/strict';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { Route53TrafficAdapter } from '../../src/adapters/route53.ts';
import { TrafficDriftError } from '../../src/adapters/traffic.ts';
import { createMetrics } from '../../src/metrics.ts';
import { fakeClock, route53Client } from '../support/aws.ts';
import { memoryLogger } from '../support/bot.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import {
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  drillRecords,
  DROP_AFTER_COMMIT,
  FAIL_AFTER_COMMIT,
  REAL_RATE_PER_SECOND,
  REAL_SYNC_DELAY_MS,
  startRoute53Server,
  type Route53Server,
} from '../../src/drill/route53.ts';
import { errorXml, PRIOR_REQUEST_NOT_COMPLETE, THROTTLING } from '../../src/drill/route53-xml.ts';

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

describe('local Route 53 endpoint behaves like the real service', () => {
  let server: Route53Server;
  let proxy: FaultProxy | undefined;
  let serverNow: number;
  let client: Route53Client;

  async function start(opts: { rateLimit?: { perSecond: number }; priorRequestMs?: number } = {}) {
    serverNow = Date.parse('2026-11-26T10:00:00Z');
    server = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords() },
      syncDelayMs: REAL_SYNC_DELAY_MS,
      now: () => serverNow,
      ...opts,
    });
    client = route53Client(server.url);
  }

  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    await server.stop();
  });

  const list = (c = client) =>
    c.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: DRILL_ZONE,
        StartRecordName: 'api.payments.example.com.',
        StartRecordType: 'A',
      }),
    );

  /** The pair moved to legacy `legacy` / cloud 100-legacy, as a CAS batch against what the server holds now. */
  function shiftTo(legacy: number, c = client) {
    const pair = server.records(DRILL_ZONE).filter((r) => r.setIdentifier !== undefined);
    const toSet = (r: (typeof pair)[number], weight?: number) => ({
      Name: r.name,
      Type: r.type as 'A',
      SetIdentifier: r.setIdentifier,
      Weight: weight ?? r.weight,
      TTL: r.ttl,
      ResourceRecords: (r.values ?? []).map((Value) => ({ Value })),
      ...(r.healthCheckId ? { HealthCheckId: r.healthCheckId } : {}),
    });
    const weight = (r: (typeof pair)[number]) => (r.setIdentifier === 'legacy' ? legacy : 100 - legacy);
    return c.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: DRILL_ZONE,
        ChangeBatch: {
          Comment: `legacy ${legacy}`,
          Changes: [
            ...pair.map((r) => ({ Action: 'DELETE' as const, ResourceRecordSet: toSet(r) })),
            ...pair.map((r) => ({ Action: 'CREATE' as const, ResourceRecordSet: toSet(r, weight(r)) })),
          ],
        },
      }),
    );
  }

  const weights = () =>
    server
      .records(DRILL_ZONE)
      .filter((r) => r.setIdentifier !== undefined)
      .map((r) => `${r.setIdentifier}=${r.weight}`)
      .join(' ');

  it('keeps a change PENDING for the real-world 60 s on the injected clock, then INSYNC', async () => {
    await start();
    const out = await shiftTo(100);
    const id = out.ChangeInfo?.Id?.replace('/change/', '');
    assert.equal(out.ChangeInfo?.Status, 'PENDING');
    serverNow += 59_000;
    assert.equal((await client.send(new GetChangeCommand({ Id: id }))).ChangeInfo?.Status, 'PENDING');
    serverNow += 1000;
    assert.equal((await client.send(new GetChangeCommand({ Id: id }))).ChangeInfo?.Status, 'INSYNC');
  });

  it('throttles the account at 5 requests per second, every operation counted, with Route 53’s XML', async () => {
    await start({ rateLimit: { perSecond: REAL_RATE_PER_SECOND } });
    for (let i = 0; i < 5; i++) await list();
    await assert.rejects(list(), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(err.name, 'Throttling');
      assert.equal(err.message, 'Rate exceeded');
      assert.equal(err.$metadata?.httpStatusCode, 400);
      return true;
    });
    // The raw answer, as curl would see it (the endpoint only checks that a SigV4 header is there).
    const raw = await fetch(`${server.url}/2013-04-01/change/C0000000000000`, {
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=drill' },
    });
    assert.equal(raw.status, 400);
    assert.match(
      await raw.text(),
      /^<\?xml version="1\.0"\?>\n<ErrorResponse xmlns="https:\/\/route53\.amazonaws\.com\/doc\/2013-04-01\/"><Error><Type>Sender<\/Type><Code>Throttling<\/Code><Message>Rate exceeded<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/,
    );
    assert.equal(server.refused.Throttling, 2);
    serverNow += 200; // one token back after 1/5 s
    await list();
    await assert.rejects(list(), { name: 'Throttling' });
  });

  it('refuses a second change to the zone with PriorRequestNotComplete while the first is processed', async () => {
    await start({ priorRequestMs: 2000 });
    await shiftTo(100);
    await assert.rejects(shiftTo(90), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(err.name, PRIOR_REQUEST_NOT_COMPLETE.code);
      assert.equal(err.message, PRIOR_REQUEST_NOT_COMPLETE.message);
      assert.equal(err.$metadata?.httpStatusCode, 400);
      return true;
    });
    assert.equal(weights(), 'cloud=0 legacy=100', 'the refused change wrote nothing');
    serverNow += 2000;
    await shiftTo(90);
    assert.equal(weights(), 'cloud=10 legacy=90');
  });

  it('commits a ChangeBatch and then answers 500, or drops the connection (failAfterCommit)', async () => {
    await start();
    server.failNext('ChangeResourceRecordSets', 1, FAIL_AFTER_COMMIT);
    await assert.rejects(shiftTo(100), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(err.name, 'InternalFailure');
      assert.equal(err.$metadata?.httpStatusCode, 500);
      return true;
    });
    assert.equal(weights(), 'cloud=0 legacy=100', 'the batch committed despite the 500');
    assert.equal(server.accepted.length, 1);

    server.failNext('ChangeResourceRecordSets', 1, DROP_AFTER_COMMIT);
    await assert.rejects(shiftTo(50), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(err.$metadata?.httpStatusCode, undefined, 'no answer at all');
      return true;
    });
    assert.equal(weights(), 'cloud=50 legacy=50', 'the batch committed though the connection dropped');
    assert.equal(server.accepted.length, 2);
  });

  it('sits behind the fault proxy: latency, 5xx after commit, refusals and a throttle in front of any double', async () => {
    await start();
    proxy = await startFaultProxy({
      target: server.url,
      rateLimit: {
        perSecond: 0.5,
        burst: 4,
        reply: { status: 400, body: errorXml(THROTTLING.code, THROTTLING.message), headers: {} },
      },
    });
    const viaProxy = route53Client(proxy.url);
    proxy.add({ method: 'GET', times: 1, latencyMs: 300 });
    const started = Date.now();
    await list(viaProxy);
    assert.ok(Date.now() - started >= 300, 'the answer came late');
    proxy.add({
      method: 'POST',
      times: 1,
      afterCommit: { status: 503, body: errorXml('ServiceUnavailable', 'Service Unavailable', 'Receiver') },
    });
    await assert.rejects(shiftTo(100, viaProxy), { name: 'ServiceUnavailable' });
    assert.equal(weights(), 'cloud=0 legacy=100', 'Route 53 behind the proxy committed');
    proxy.add({
      method: 'POST',
      times: 1,
      refuse: { status: 400, body: errorXml('Throttling', 'Rate exceeded') },
    });
    await assert.rejects(shiftTo(10, viaProxy), { name: 'Throttling' });
    assert.equal(weights(), 'cloud=0 legacy=100', 'a refused request never reached Route 53');
    await list(viaProxy);
    await assert.rejects(
      list(viaProxy),
      { name: 'Throttling' },
      'the fifth request at once is over the burst',
    );
    assert.deepEqual(
      proxy.requests.map((r) => r.fate),
      ['forwarded', 'after-commit', 'refused', 'forwarded', 'throttled'],
    );
  });
});
