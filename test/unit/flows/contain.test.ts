// planShift (pure): which layers move, toward legacy only for /contain, and the warnings the card carries.
import assert from 'node:assert/strict';
import { planShift } from '../../../flows/contain/contain.ts';
import type { TrafficState } from '../../../src/adapters/traffic.ts';
import { trafficConfig } from '../../support/aws.ts';

function state(legacy: number, cloud: number, extra: Partial<TrafficState> = {}): TrafficState {
  return {
    layer: 'route53',
    resource: 'api.payments.example.com. A (zone Z0)',
    legacy: { id: 'legacy', weight: legacy, target: '192.0.2.10' },
    cloud: { id: 'cloud', weight: cloud, target: '198.51.100.20' },
    others: [],
    maxWeight: 255,
    ttl: 60,
    convergence: { seconds: 60, basis: 'record TTL 60 s' },
    healthChecks: false,
    fingerprint: 'f',
    snapshot: { kind: 'route53', hostedZoneId: 'Z0', records: [] },
    ...extra,
  };
}

const deps = { config: trafficConfig() };

describe('planShift', () => {
  it('plans weights and shares for each layer that moves, and leaves layers already there alone', () => {
    const alb = state(100, 0, {
      layer: 'alb',
      ttl: undefined,
      convergence: { seconds: 0, basis: 'per request' },
    });
    const plan = planShift(deps, 'payments', [state(20, 80), alb], 100, { direction: 'toLegacy' });
    assert.equal(plan.change.layers.length, 1);
    assert.deepEqual(plan.change.layers[0]?.from, { legacy: 20, cloud: 80 });
    assert.deepEqual(plan.change.layers[0]?.to, { legacy: 100, cloud: 0 });
    assert.deepEqual(plan.change.layers[0]?.toSplit, { legacy: 100, cloud: 0 });
    assert.deepEqual(plan.unchanged, [alb]);
    assert.deepEqual(plan.change.layers[0]?.warnings, []);
  });

  it('counts 255/0 as already at 100% (same share, different scale)', () => {
    const plan = planShift(deps, 'payments', [state(255, 0)], 100, { direction: 'toLegacy' });
    assert.equal(plan.change.layers.length, 0);
  });

  it('refuses to lower the legacy share toward the cloud unless asked for any direction', () => {
    assert.throws(
      () => planShift(deps, 'payments', [state(90, 10)], 50, { direction: 'toLegacy' }),
      /already sends 90% to legacy; legacy=50 would move traffic back to the cloud stack/,
    );
    const canary = planShift(deps, 'payments', [state(100, 0)], 95, { direction: 'any' });
    assert.deepEqual(canary.change.layers[0]?.to, { legacy: 95, cloud: 5 });
  });

  it('warns about TTL above maxTtl, health checks making weight 0 not "off", unmanaged weights and unknown health', () => {
    const plan = planShift(
      deps,
      'payments',
      [
        state(20, 80, {
          ttl: 3600,
          convergence: { seconds: 3600, basis: 'record TTL 3600 s' },
          healthChecks: true,
          others: [{ id: 'canary', weight: 20, target: '203.0.113.5' }],
        }),
      ],
      100,
      { direction: 'toLegacy', health: { route53: { status: 'unknown', detail: 'no observations yet' } } },
    );
    const warnings = plan.change.layers[0]?.warnings ?? [];
    assert.equal(warnings.length, 4);
    assert.match(
      warnings[0] ?? '',
      /TTL 3600 s is above maxTtl 60 s: .* for up to 60 min after Route 53 is in sync\. Configure traffic\.alb/,
    );
    assert.match(warnings[1] ?? '', /weight 0 is not "off"/);
    assert.match(
      warnings[2] ?? '',
      /203\.0\.113\.5 \(weight 20\) also carry weight .* legacy gets 83\.3%, not 100%/,
    );
    assert.match(warnings[3] ?? '', /Legacy health unknown: no observations yet/);
  });
});
