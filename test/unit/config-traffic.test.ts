// The traffic section of cloud-safety.yml: defaults, normalisation, and errors that name the path.
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

const access = { responders: ['U0ALICE'], approvers: ['U0BOB'] };

function withTraffic(traffic: unknown) {
  return parseConfig({ access, services: { payments: { traffic } } }, 'cloud-safety.yml');
}

describe('config: services.<name>.traffic', () => {
  it('normalises the record name and zone id and defaults recordType A and maxTtl 60', () => {
    const config = withTraffic({
      route53: {
        hostedZoneId: '/hostedzone/Z0ABC',
        recordName: 'API.Payments.example.com',
        legacy: 'legacy',
        cloud: 'cloud',
      },
    });
    assert.deepEqual(config.services.payments?.traffic?.route53, {
      hostedZoneId: 'Z0ABC',
      recordName: 'api.payments.example.com.',
      recordType: 'A',
      legacy: 'legacy',
      cloud: 'cloud',
      maxTtl: 60,
    });
  });

  it('names the path of every mistake', () => {
    assert.throws(
      () =>
        withTraffic({
          route53: {
            hostedZoneId: 'not a zone',
            recordName: 'api.example.com',
            legacy: 'x',
            cloud: 'x',
            maxTtl: -1,
          },
          alb: { listenerArn: 'arn:aws:s3:::bucket', legacyTargetGroupArn: 'x', cloudTargetGroupArn: 'y' },
        }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /services\.payments\.traffic\.route53\.hostedZoneId: a hosted zone id/);
        assert.match(err.message, /services\.payments\.traffic\.route53\.maxTtl/);
        assert.match(
          err.message,
          /services\.payments\.traffic\.alb\.listenerArn: an Elastic Load Balancing listener ARN/,
        );
        return true;
      },
    );
    assert.throws(
      () => withTraffic({}),
      /services\.payments\.traffic: configure at least one of traffic\.route53, traffic\.alb, traffic\.arc, traffic\.gateway, traffic\.istio/,
    );
    assert.throws(
      () =>
        withTraffic({
          route53: { hostedZoneId: 'Z1', recordName: 'a.example.com', legacy: 'same', cloud: 'same' },
        }),
      /legacy and cloud must be different SetIdentifiers/,
    );
  });
});
