// Where a drill's simulators listen (CLOUD_SAFETY_DRILL_BIND) and the name other replicas reach them by
// (CLOUD_SAFETY_DRILL_ADVERTISE): the URLs a drill records for the other replicas carry the advertised name.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { drillBindFromEnv } from '../../../src/drill/bind.ts';
import { FakeCluster } from '../../../src/drill/kubernetes.ts';
import { startPrometheusServer } from '../../../src/drill/prometheus.ts';
import { startRoute53Server } from '../../../src/drill/route53.ts';
import { startCloudWatchServer } from '../../../src/drill/cloudwatch-server.ts';
import { drillLoadBalancer, startElbv2Server } from '../../../src/drill/elbv2.ts';
import { startKafkaConnect } from '../../../src/drill/kafka-connect.ts';
import { startDrillPagerDuty } from '../../../src/drill/pagerduty.ts';
import { ConfigError } from '../../../src/errors.ts';

describe('drill simulators: listen address and advertised name', () => {
  it('defaults to this machine only; every interface advertises the host name unless told otherwise', () => {
    assert.deepEqual(drillBindFromEnv({}), { host: '127.0.0.1', advertise: '127.0.0.1' });
    assert.deepEqual(drillBindFromEnv({ CLOUD_SAFETY_DRILL_BIND: '0.0.0.0' }), {
      host: '0.0.0.0',
      advertise: hostname(),
    });
    assert.deepEqual(
      drillBindFromEnv({ CLOUD_SAFETY_DRILL_BIND: '0.0.0.0', CLOUD_SAFETY_DRILL_ADVERTISE: '10.0.3.7' }),
      { host: '0.0.0.0', advertise: '10.0.3.7' },
    );
  });

  it('refuses a listen address that is not an IP, or an advertised name that is not one, saying what to write', () => {
    assert.throws(
      () => drillBindFromEnv({ CLOUD_SAFETY_DRILL_BIND: 'every interface' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /CLOUD_SAFETY_DRILL_BIND=every interface is not an IP address to listen on; write 127\.0\.0\.1/.test(
          err.message,
        ),
    );
    assert.throws(
      () => drillBindFromEnv({ CLOUD_SAFETY_DRILL_ADVERTISE: 'http://pod/' }),
      /CLOUD_SAFETY_DRILL_ADVERTISE=http:\/\/pod\/ is not a host name or address/,
    );
  });

  it('the servers listen where told and put the advertised name in their URLs', async () => {
    const bind = { host: '127.0.0.1', advertise: 'drill-host.internal' };
    const cluster = new FakeCluster();
    await cluster.start(bind);
    const route53 = await startRoute53Server({ zones: {}, bind });
    const prometheus = await startPrometheusServer({ bind });
    try {
      assert.equal(cluster.url, `http://drill-host.internal:${cluster.port}`);
      assert.match(route53.url, /^http:\/\/drill-host\.internal:\d+$/);
      assert.match(prometheus.url, /^http:\/\/drill-host\.internal:\d+$/);
      // Listening on the bind address: reachable there.
      const res = await fetch(`http://127.0.0.1:${new URL(prometheus.url).port}/api/v1/query?query=up`);
      assert.equal(res.status, 200);
    } finally {
      await cluster.stop();
      await route53.stop();
      await prometheus.stop();
    }
  });

  it('so do ELBv2, CloudWatch, PagerDuty (REST and Events, whose certificate names the advertised host) and Kafka Connect', async () => {
    const bind = { host: '127.0.0.1', advertise: 'drill-host.internal' };
    const elbv2 = await startElbv2Server({ ...drillLoadBalancer(0, 100), bind });
    const cloudwatch = await startCloudWatchServer({ sample: () => 1, bind });
    const pagerduty = await startDrillPagerDuty({ service: 'payments', ingestionMs: 0, bind });
    const cdc = await startKafkaConnect({ connector: 'ledger_sync', state: 'RUNNING', restartMs: 0, bind });
    try {
      for (const url of [elbv2.url, cloudwatch.url, pagerduty.server.url, cdc.url])
        assert.match(url, /^http:\/\/drill-host\.internal:\d+$/);
      assert.match(pagerduty.server.eventsUrl ?? '', /^https:\/\/drill-host\.internal:\d+$/);
      const ca = new X509Certificate(pagerduty.env.PAGERDUTY_EVENTS_CA ?? '');
      assert.equal(ca.checkHost('drill-host.internal'), 'drill-host.internal');
      assert.equal(ca.checkIP('127.0.0.1'), '127.0.0.1');
      const res = await fetch(`http://127.0.0.1:${new URL(cdc.url).port}/connectors`);
      assert.deepEqual(await res.json(), ['ledger_sync']);
    } finally {
      await elbv2.stop();
      await cloudwatch.stop();
      await pagerduty.server.stop();
      await cdc.stop();
    }
  });
});
