// The traffic port's pure rules: percent to weights, shares, the all-zero guard, drift descriptions, backoff.
import assert from 'node:assert/strict';
import { backoffMs } from '../../../src/adapters/aws-retry.ts';
import { unescapeDnsName } from '../../../src/adapters/route53.ts';
import {
  assertWritable,
  describeDrift,
  splitOf,
  weightsForPercent,
  type TrafficState,
} from '../../../src/adapters/traffic.ts';

function state(legacy: number, cloud: number, extra: Partial<TrafficState> = {}): TrafficState {
  return {
    layer: 'route53',
    resource: 'api. A',
    legacy: { id: 'legacy', weight: legacy, target: '192.0.2.10' },
    cloud: { id: 'cloud', weight: cloud, target: '198.51.100.20' },
    others: [],
    maxWeight: 255,
    ttl: 60,
    convergence: { seconds: 60, basis: 'record TTL 60 s' },
    healthChecks: false,
    fingerprint: `${legacy}/${cloud}`,
    snapshot: { kind: 'route53', hostedZoneId: 'Z1', records: [] },
    ...extra,
  };
}

describe('traffic port rules', () => {
  it('maps a legacy percent to weights on a scale of 100: legacy 100% is 100/0, never 0/0', () => {
    assert.deepEqual(weightsForPercent(100), { legacy: 100, cloud: 0 });
    assert.deepEqual(weightsForPercent(90), { legacy: 90, cloud: 10 });
    assert.deepEqual(weightsForPercent(1), { legacy: 1, cloud: 99 });
    assert.throws(() => weightsForPercent(101), RangeError);
    assert.throws(() => weightsForPercent(12.5), RangeError);
  });

  it('computes shares over the whole group; all zero means Route 53 splits evenly', () => {
    assert.deepEqual(splitOf({ legacy: 1, cloud: 255 }), { legacy: 0.4, cloud: 99.6 });
    assert.deepEqual(splitOf({ legacy: 100, cloud: 0 }, [{ weight: 100 }]), { legacy: 50, cloud: 0 });
    assert.deepEqual(splitOf({ legacy: 0, cloud: 0 }), { legacy: 50, cloud: 50 });
  });

  it('refuses to write all-zero weights or weights beyond the provider’s range', () => {
    assert.throws(() => assertWritable({ legacy: 0, cloud: 0 }, [], 255), /refusing to write all weights 0/);
    assert.throws(() => assertWritable({ legacy: 256, cloud: 0 }, [], 255), /outside 0-255/);
    assert.doesNotThrow(() => assertWritable({ legacy: 0, cloud: 0 }, [{ weight: 5 }], 255));
    assert.doesNotThrow(() => assertWritable({ legacy: 999, cloud: 0 }, [], 999));
  });

  it('describes what moved between two reads', () => {
    assert.deepEqual(describeDrift(state(20, 80), state(50, 50, { ttl: 300 })), [
      'legacy weight 20 -> 50',
      'cloud weight 80 -> 50',
      'TTL 60 -> 300',
    ]);
    assert.deepEqual(
      describeDrift(state(20, 80), state(20, 80, { others: [{ id: 'canary', weight: 5, target: 'x' }] })),
      ['new entry canary (weight 5)'],
    );
  });

  it('backs off 1 s doubling to 20 s with equal jitter', () => {
    const policy = { baseMs: 1000, capMs: 20_000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffMs({ ...policy, random: () => 0 }, n)),
      [500, 1000, 2000, 4000, 8000, 10_000],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffMs({ ...policy, random: () => 0.999999 }, n)),
      [1000, 2000, 4000, 8000, 16_000, 20_000],
    );
  });

  it('reads Route 53’s escaped names', () => {
    assert.equal(unescapeDnsName('\\052.Payments.Example.com.'), '*.payments.example.com.');
  });
});
