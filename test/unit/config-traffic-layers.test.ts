// The ARC, Gateway API and Istio traffic sections: defaults, and mistakes named by path with how to write them.
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';

const access = { responders: ['U0ALICE'], approvers: ['U0BOB'] };
const PANEL = 'arn:aws:route53-recovery-control::111122223333:controlpanel/0123456789abcdef0123456789abcdef';

function withTraffic(traffic: unknown) {
  return parseConfig({ access, services: { payments: { traffic } } }, 'cloud-safety.yml');
}

const arc = (extra: Record<string, unknown> = {}) => ({
  controlPanelArn: PANEL,
  legacyRoutingControlArn: `${PANEL}/routingcontrol/aaaa`,
  cloudRoutingControlArn: `${PANEL}/routingcontrol/bbbb`,
  clusterEndpoints: [{ endpoint: 'https://host-aaaaaa.us-west-2.example.com/v1', region: 'us-west-2' }],
  ...extra,
});

describe('config: services.<name>.traffic.arc, .gateway, .istio', () => {
  it('accepts each layer alone, with defaults', () => {
    const a = withTraffic({ arc: arc() }).services.payments?.traffic?.arc;
    assert.equal(a?.recordTtl, 60);
    assert.deepEqual(a?.safetyRules, []);
    const g = withTraffic({
      gateway: {
        namespace: 'payments',
        httpRoute: 'payments',
        legacy: { service: 'l' },
        cloud: { service: 'c' },
      },
    }).services.payments?.traffic?.gateway;
    assert.equal(g?.httpRoute, 'payments');
    const i = withTraffic({
      istio: {
        namespace: 'payments',
        virtualService: 'vs',
        legacy: { host: 'l' },
        cloud: { host: 'c', subset: 'v2' },
      },
    }).services.payments?.traffic?.istio;
    assert.equal(i?.cloud.subset, 'v2');
  });

  it('names the path of every mistake and says how to write it', () => {
    assert.throws(
      () => withTraffic({ arc: arc({ legacyRoutingControlArn: 'arn:aws:route53:::x' }) }),
      /services\.payments\.traffic\.arc\.legacyRoutingControlArn: an ARC routing control ARN \(arn:aws:route53-recovery-control::<account>:controlpanel\/<id>\/routingcontrol\/<id>\)/,
    );
    assert.throws(
      () => withTraffic({ arc: arc({ clusterEndpoints: [] }) }),
      /traffic\.arc\.clusterEndpoints: list the cluster endpoints/,
    );
    assert.throws(
      () =>
        withTraffic({
          arc: arc({
            cloudRoutingControlArn:
              'arn:aws:route53-recovery-control::111122223333:controlpanel/ffff/routingcontrol/bbbb',
          }),
        }),
      /the routing controls and safety rules must belong to controlPanelArn/,
    );
    assert.throws(
      () =>
        withTraffic({
          gateway: {
            namespace: 'Payments',
            httpRoute: 'p',
            legacy: { service: 'l' },
            cloud: { service: 'c' },
          },
        }),
      /traffic\.gateway\.namespace: a Kubernetes name/,
    );
    assert.throws(
      () =>
        withTraffic({
          istio: { namespace: 'p', virtualService: 'v', legacy: { host: 'x' }, cloud: { host: 'x' } },
        }),
      /legacy and cloud must be different destinations/,
    );
  });
});
