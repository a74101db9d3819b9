// The Route 53 adapter against Route 53's real XML (nock): pagination, the DELETE+CREATE batch, retries, errors, health.
import assert from 'node:assert/strict';
import nock from 'nock';
import { TrafficDriftError, TrafficRejectedError, type TrafficPort } from '../../../src/adapters/traffic.ts';
import { ExternalServiceError } from '../../../src/errors.ts';
import { NotWrittenError, UnknownOutcomeError } from '../../../src/outcome.ts';
import { Route53TrafficAdapter } from '../../../src/adapters/route53.ts';
import { DROP_AFTER_COMMIT, startRoute53Server } from '../../../src/drill/route53.ts';
import {
  fakeClock,
  forbidAws,
  LEGACY_HC,
  NEXT_RECORD,
  nockChange,
  nockChangeError,
  nockGetChange,
  nockList,
  pair,
  RECORD,
  route53Client,
  ROUTE53_ENDPOINT,
  trafficAdapters,
  trafficConfig,
  ZONE,
  type AdapterKit,
} from '../../support/aws.ts';
import { useNock } from '../../support/nock.ts';
import {
  deleteMismatchMessage,
  errorXml,
  healthCheckStatusXml,
  listRecordSetsXml,
  observations,
  parseChangeBatch,
  XML_HEADERS,
  type ChangeBatch,
} from '../../../src/drill/route53-xml.ts';

describe('Route 53 traffic adapter (nock, real XML)', () => {
  useNock();
  let kit: AdapterKit;
  let r53: TrafficPort;

  beforeEach(() => {
    kit = trafficAdapters(trafficConfig());
    const port = kit.traffic.payments?.route53;
    assert.ok(port);
    r53 = port;
  });

  it('reads the pair across pages with StartRecordName/Type/Identifier and stops at the next name/type', async () => {
    const [cloud, legacy] = pair();
    assert.ok(cloud && legacy);
    const first = nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/hostedzone/${ZONE}/rrset`)
      .query({ name: RECORD, type: 'A' })
      .reply(
        200,
        listRecordSetsXml([cloud], { next: { name: RECORD, type: 'A', identifier: 'legacy' }, maxItems: 1 }),
        XML_HEADERS,
      );
    const second = nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/hostedzone/${ZONE}/rrset`)
      .query({ name: RECORD, type: 'A', identifier: 'legacy' })
      .reply(200, listRecordSetsXml([legacy, NEXT_RECORD]), XML_HEADERS);

    const state = await r53.read();

    assert.ok(first.isDone() && second.isDone());
    assert.equal(state.legacy.weight, 20);
    assert.equal(state.cloud.weight, 80);
    assert.equal(state.legacy.target, '192.0.2.10');
    assert.equal(state.cloud.target, '198.51.100.20, 198.51.100.21');
    assert.equal(state.ttl, 60);
    assert.deepEqual(state.convergence, { seconds: 60, basis: 'record TTL 60 s' });
    assert.equal(state.resource, `${RECORD} A (zone ${ZONE})`);
    assert.deepEqual(state.others, []);
    assert.match(state.fingerprint, /^[0-9a-f]{64}$/);
  });

  it('says which SetIdentifier is missing and which exist', async () => {
    nockList([{ ...pair()[0], setIdentifier: 'cloud-v2' } as never, pair()[1] as never]);
    await assert.rejects(
      r53.read(),
      (err: Error) =>
        err instanceof ExternalServiceError &&
        /SetIdentifier cloud "cloud" in zone Z0PAYMENTS1234567890 \(weighted SetIdentifiers found: "cloud-v2", "legacy"\)/.test(
          err.message,
        ),
    );
  });

  it('writes one ChangeBatch: DELETE of both records exactly as read, CREATE with new weights, every field kept', async () => {
    nockList(pair({ healthCheck: true }));
    const state = await r53.read();
    const batches: ChangeBatch[] = [];
    nockChange(batches, { id: 'C0000000000001' });

    const receipt = await r53.shift(
      state,
      { legacy: 100, cloud: 0 },
      { comment: 'cloud-safety INC-1 act-1: test' },
    );

    assert.equal(batches.length, 1);
    const batch = batches[0];
    assert.ok(batch);
    assert.equal(batch.xmlns, 'https://route53.amazonaws.com/doc/2013-04-01/');
    assert.equal(batch.comment, 'cloud-safety INC-1 act-1: test');
    const legacy = {
      name: RECORD,
      type: 'A',
      setIdentifier: 'legacy',
      ttl: 60,
      values: ['192.0.2.10'],
      healthCheckId: LEGACY_HC,
    };
    const cloud = {
      name: RECORD,
      type: 'A',
      setIdentifier: 'cloud',
      ttl: 60,
      values: ['198.51.100.20', '198.51.100.21'],
    };
    assert.deepEqual(batch.changes, [
      { action: 'DELETE', record: { ...legacy, weight: 20 } },
      { action: 'DELETE', record: { ...cloud, weight: 80 } },
      { action: 'CREATE', record: { ...legacy, weight: 100 } },
      { action: 'CREATE', record: { ...cloud, weight: 0 } },
    ]);
    assert.equal(receipt.changeId, 'C0000000000001');
    assert.equal(receipt.status, 'PENDING');
    assert.deepEqual(receipt.before, { legacy: 20, cloud: 80 });
    assert.deepEqual(receipt.after, { legacy: 100, cloud: 0 });
    assert.equal(receipt.attempts, 1);
  });

  it('preserves alias records: AliasTarget and EvaluateTargetHealth, no TTL, no ResourceRecords', async () => {
    nockList(pair({ alias: true }));
    const state = await r53.read();
    assert.equal(state.ttl, undefined);
    assert.equal(state.convergence.seconds, 60);
    assert.match(state.convergence.basis, /alias target’s TTL/);
    assert.equal(state.healthChecks, true, 'EvaluateTargetHealth counts as health checking');
    const batches: ChangeBatch[] = [];
    nockChange(batches);

    await r53.shift(state, { legacy: 100, cloud: 0 }, { comment: 'alias' });

    const created = batches[0]?.changes.filter((c) => c.action === 'CREATE').map((c) => c.record);
    assert.deepEqual(created, [
      {
        name: RECORD,
        type: 'A',
        setIdentifier: 'legacy',
        weight: 100,
        alias: {
          hostedZoneId: 'Z35SXDOTRQ7X7K',
          dnsName: 'dualstack.payments-legacy-0987654321.us-east-1.elb.amazonaws.com.',
          evaluateTargetHealth: true,
        },
      },
      {
        name: RECORD,
        type: 'A',
        setIdentifier: 'cloud',
        weight: 0,
        alias: {
          hostedZoneId: 'Z35SXDOTRQ7X7K',
          dnsName: 'dualstack.payments-cloud-1234567890.us-east-1.elb.amazonaws.com.',
          evaluateTargetHealth: true,
        },
      },
    ]);
  });

  it('turns InvalidChangeBatch "values do not match" into drift (compare-and-swap lost), with Route 53’s words', async () => {
    nockList(pair());
    const state = await r53.read();
    nockChangeError('InvalidChangeBatch', deleteMismatchMessage(RECORD, 'A', 'legacy'));
    await assert.rejects(r53.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' }), (err: Error) => {
      assert.ok(err instanceof TrafficDriftError);
      assert.match(err.message, /records no longer match what was read/);
      assert.match(
        err.providerMessage ?? '',
        /set-identifier='legacy'\] but the values provided do not match/,
      );
      return true;
    });
  });

  it('hands other InvalidChangeBatch and InvalidInput messages to people as they are', async () => {
    nockList(pair());
    const state = await r53.read();
    nockChangeError(
      'InvalidChangeBatch',
      '[RRSet of type A with DNS name api.payments.example.com. is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone example.com.]',
    );
    await assert.rejects(
      r53.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' }),
      (err: Error) =>
        err instanceof TrafficRejectedError && /conflicting RRSet of type CNAME/.test(err.message),
    );
    nockChangeError(
      'InvalidInput',
      'Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=CREATE, Name=api.payments.example.com., Type=A, SetIdentifier=legacy]',
    );
    await assert.rejects(
      r53.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' }),
      (err: Error) =>
        err instanceof TrafficRejectedError &&
        err.providerCode === 'InvalidInput' &&
        /Expected exactly one of/.test(err.message),
    );
  });

  it('backs off on Throttling and PriorRequestNotComplete (1 s doubling, jittered) and then succeeds', async () => {
    nockList(pair());
    const state = await r53.read();
    nockChangeError('Throttling', 'Rate exceeded');
    nockChangeError(
      'PriorRequestNotComplete',
      'The request was rejected because Route 53 was still processing a prior request.',
    );
    const batches: ChangeBatch[] = [];
    nockChange(batches);

    const receipt = await r53.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' });

    assert.equal(receipt.attempts, 3);
    assert.equal(batches.length, 1);
    // Equal jitter with random() = 0.5: three quarters of 1 s, then of 2 s.
    assert.deepEqual(kit.clock.sleeps, [750, 1500]);
    assert.ok(kit.logLines.some((l) => /"code":"Throttling".*aws call refused, backing off/.test(l)));
  });

  it('gives up after 5 throttled tries with a message that nothing was changed', async () => {
    nockList(pair());
    const state = await r53.read();
    for (let i = 0; i < 5; i++) nockChangeError('Throttling', 'Rate exceeded');
    await assert.rejects(r53.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' }), (err: Error) => {
      assert.ok(err instanceof ExternalServiceError);
      assert.equal(err.service, 'Route 53');
      assert.match(
        err.message,
        /ChangeResourceRecordSets was throttled 5 times \(Throttling: Rate exceeded\); nothing was changed/,
      );
      return true;
    });
    assert.deepEqual(kit.clock.sleeps, [750, 1500, 3000, 6000]);
  });

  it('never sends an all-zero batch', async () => {
    nockList(pair());
    const state = await r53.read();
    const guard = forbidAws();
    try {
      await assert.rejects(
        r53.shift(state, { legacy: 0, cloud: 0 }, { comment: 'x' }),
        /refusing to write all weights 0/,
      );
    } finally {
      guard.stop();
    }
    assert.deepEqual(guard.calls, []);
  });

  it('polls GetChange until INSYNC, every 2-5 s, reporting each poll', async () => {
    nockGetChange(['PENDING', 'PENDING', 'INSYNC']);
    const seen: string[] = [];
    const result = await r53.waitInSync(
      {
        layer: 'route53',
        resource: 'x',
        before: { legacy: 20, cloud: 80 },
        after: { legacy: 100, cloud: 0 },
        changeId: 'C2682N5HXP0BZ4',
        status: 'PENDING',
        submittedAt: '2026-11-26T10:00:00.000Z',
        attempts: 1,
      },
      { onProgress: (p) => void seen.push(`${p.polls}:${p.status}:${p.elapsedMs}`) },
    );
    assert.equal(result.status, 'INSYNC');
    assert.deepEqual(kit.clock.sleeps, [2000, 3000, 4000]);
    assert.deepEqual(seen, ['1:PENDING:2000', '2:PENDING:5000', '3:INSYNC:9000']);
    assert.equal(result.elapsedMs, 9000);
  });

  it('reads the legacy health check: healthy above 18% of checkers, unhealthy with the checker’s reason', async () => {
    nockList(pair({ healthCheck: true }));
    const state = await r53.read();
    nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/healthcheck/${LEGACY_HC}/status`)
      .reply(200, healthCheckStatusXml(observations(8)), XML_HEADERS);
    assert.deepEqual(await r53.checkLegacyHealth(state), {
      status: 'healthy',
      detail: `health check ${LEGACY_HC}: 8 of 8 Route 53 health checkers report the legacy endpoint healthy`,
    });
    nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/healthcheck/${LEGACY_HC}/status`)
      .reply(200, healthCheckStatusXml(observations(1)), XML_HEADERS);
    const bad = await r53.checkLegacyHealth(state);
    assert.equal(bad.status, 'unhealthy');
    assert.match(bad.detail, /1 of 8 .* \(us-west-1: Failure: HTTP Status Code 503, Service Unavailable\.\)/);
  });

  it('reports an unreadable health check as unknown (it does not block), and no health check as unchecked', async () => {
    nockList(pair({ healthCheck: true }));
    const state = await r53.read();
    nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/healthcheck/${LEGACY_HC}/status`)
      .reply(400, errorXml('InvalidInput', 'Cannot get status of calculated health check'), XML_HEADERS);
    const unknown = await r53.checkLegacyHealth(state);
    assert.equal(unknown.status, 'unknown');
    assert.match(unknown.detail, /InvalidInput: Cannot get status of calculated health check/);

    nockList(pair());
    assert.equal((await r53.checkLegacyHealth(await r53.read())).status, 'unchecked');
  });

  it('rechecks after a restart without writing: GetChange by id, then the records', async () => {
    nockGetChange(['INSYNC']);
    nockList(pair({ legacy: 100, cloud: 0 }));
    const report = await r53.recheck({
      changeId: 'C2682N5HXP0BZ4',
      before: { legacy: 20, cloud: 80 },
      after: { legacy: 100, cloud: 0 },
    });
    assert.equal(report.status, 'INSYNC');
    assert.equal(report.applied, true);
    assert.equal(report.untouched, false);
  });

  it('retries reads on 5xx but never a write; after a 500 it reads the records back before saying nothing was written', async () => {
    nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/hostedzone/${ZONE}/rrset`)
      .query({ name: RECORD, type: 'A' })
      .reply(503, errorXml('ServiceUnavailable', 'Service Unavailable', 'Receiver'), XML_HEADERS);
    nockList(pair());
    const state = await r53.read();
    assert.deepEqual(kit.clock.sleeps, [750]);

    nockChangeError('InternalFailure', 'An internal error occurred', 500);
    nockList(pair());
    nockList(pair());
    await assert.rejects(
      r53.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' }),
      (err: Error) =>
        err instanceof NotWrittenError &&
        err.message ===
          'ChangeResourceRecordSets answered HTTP 500 (InternalFailure: An internal error occurred); the records read back still show legacy 20 / cloud 80, so nothing was written',
    );
    assert.deepEqual(kit.clock.sleeps, [750, 1000], 'no retry of the write: two reads, a second apart');
  });

  it('a 500 after Route 53 committed: reads the change back, then follows a no-op marker change to INSYNC', async () => {
    nockList(pair());
    const state = await r53.read();
    const batches: ChangeBatch[] = [];
    nock(ROUTE53_ENDPOINT)
      .post(`/2013-04-01/hostedzone/${ZONE}/rrset`, (body: string) => {
        batches.push(parseChangeBatch(body));
        return true;
      })
      .reply(500, errorXml('InternalFailure', 'An internal error occurred', 'Receiver'), XML_HEADERS);
    nockList(pair({ legacy: 100, cloud: 0 }));
    nockChange(batches, { id: 'C0MARKER00001' });
    const receipt = await r53.shift(
      state,
      { legacy: 100, cloud: 0 },
      { comment: 'cloud-safety INC-1 act-1' },
    );
    assert.equal(receipt.changeId, 'C0MARKER00001');
    assert.equal(receipt.status, 'PENDING');
    assert.deepEqual(
      [receipt.before, receipt.after],
      [
        { legacy: 20, cloud: 80 },
        { legacy: 100, cloud: 0 },
      ],
    );
    assert.match(
      receipt.observed ?? '',
      /^ChangeResourceRecordSets answered HTTP 500 \(InternalFailure: An internal error occurred\), but the records read back show legacy 100 \/ cloud 0 as asked: the change was applied; .*follows change C0MARKER00001/,
    );
    assert.equal(batches.length, 2);
    assert.deepEqual(
      batches[1]?.changes.map((c) => `${c.action} ${c.record.setIdentifier} ${c.record.weight}`),
      ['DELETE legacy 100', 'DELETE cloud 0', 'CREATE legacy 100', 'CREATE cloud 0'],
      'the marker rewrites the records exactly as they are',
    );
    assert.match(batches[1]?.comment ?? '', /^sync marker \(no-op\) for: cloud-safety INC-1 act-1$/);
    nockGetChange(['PENDING', 'INSYNC'], 'C0MARKER00001');
    assert.equal((await r53.waitInSync(receipt)).status, 'INSYNC');
  });

  it('a write with no answer and no way to read back is UNKNOWN, never "nothing was written" (local Route 53)', async () => {
    const server = await startRoute53Server({ zones: { [ZONE]: [...pair(), NEXT_RECORD] } });
    try {
      const local = new Route53TrafficAdapter({
        client: route53Client(server.url),
        config: {
          hostedZoneId: ZONE,
          recordName: RECORD,
          recordType: 'A',
          legacy: 'legacy',
          cloud: 'cloud',
          maxTtl: 60,
        },
        metrics: kit.metrics,
        log: kit.log,
        sleep: kit.clock.sleep,
        now: kit.clock.now,
        random: () => 0.5,
      });
      const state = await local.read();
      server.failNext('ChangeResourceRecordSets', 1, DROP_AFTER_COMMIT);
      server.failNext('ListResourceRecordSets', 5, {
        code: 'ServiceUnavailable',
        message: 'Service Unavailable',
        status: 503,
      });
      await assert.rejects(
        local.shift(state, { legacy: 100, cloud: 0 }, { comment: 'x' }),
        (err: Error) =>
          err instanceof UnknownOutcomeError &&
          /^ChangeResourceRecordSets got no answer \(.+\), and reading it back failed too .*whether the write happened is UNKNOWN/.test(
            err.message,
          ) &&
          !/nothing was (written|changed)/i.test(err.message),
      );
      assert.deepEqual(
        server
          .records(ZONE)
          .filter((r) => r.setIdentifier)
          .map((r) => `${r.setIdentifier}=${r.weight}`),
        ['cloud=0', 'legacy=100'],
        'and indeed it had been written',
      );
    } finally {
      await server.stop();
    }
  });

  it('uses its own clock for sync timeouts', async () => {
    const clock = fakeClock();
    const slow = trafficAdapters(trafficConfig(), clock).traffic.payments?.route53;
    assert.ok(slow);
    nockGetChange(['PENDING', 'PENDING']);
    const result = await slow.waitInSync(
      {
        layer: 'route53',
        resource: 'x',
        before: { legacy: 20, cloud: 80 },
        after: { legacy: 100, cloud: 0 },
        changeId: 'C2682N5HXP0BZ4',
        status: 'PENDING',
        submittedAt: '2026-11-26T10:00:00.000Z',
        attempts: 1,
      },
      { timeoutMs: 4000 },
    );
    assert.equal(result.status, 'PENDING');
    assert.equal(result.polls, 2);
  });
});
