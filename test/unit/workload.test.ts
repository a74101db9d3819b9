// The workload domain (pure): quantities, ranking, label selectors, how many pods may be quarantined.
import assert from 'node:assert/strict';
import {
  buildSnapshot,
  formatBytes,
  parseQuantity,
  quarantineAllowance,
  selectorMatches,
  type PodInfo,
} from '../../src/workload.ts';

function pod(name: string, limit: number | undefined, restarts = 0): PodInfo {
  return {
    name,
    uid: `uid-${name}`,
    namespace: 'payments',
    phase: 'Running',
    ready: true,
    labels: {},
    annotations: {},
    container: {
      name: 'app',
      image: 'x',
      ready: true,
      state: 'running',
      restarts,
      ...(limit !== undefined ? { memoryLimitBytes: limit } : {}),
    },
  };
}

describe('workload', () => {
  it('parses Kubernetes memory quantities', () => {
    assert.equal(parseQuantity('2Gi'), 2 * 1024 ** 3);
    assert.equal(parseQuantity('1843Mi'), 1843 * 1024 ** 2);
    assert.equal(parseQuantity('61200Ki'), 61200 * 1024);
    assert.equal(parseQuantity('2G'), 2e9);
    assert.equal(parseQuantity('129e6'), 129e6);
    assert.equal(parseQuantity('1932735283'), 1932735283);
    assert.equal(parseQuantity('lots'), undefined);
    assert.equal(formatBytes(2 * 1024 ** 3), '2.0 GiB');
  });

  it('ranks pods closest to their limit first; pods without metrics after, by restarts', () => {
    const snapshot = buildSnapshot({
      service: 'payments',
      namespace: 'payments',
      selector: 'app=payments',
      container: 'app',
      at: new Date('2026-11-26T09:45:00Z'),
      pods: [pod('a', 1000), pod('b', 1000), pod('c', undefined, 9), pod('d', 1000, 1)],
      metrics: {
        available: true,
        usage: [
          { pod: 'a', bytes: 300, at: '' },
          { pod: 'b', bytes: 900, at: '' },
          { pod: 'c', bytes: 900, at: '' },
        ],
      },
      events: [],
    });
    assert.deepEqual(
      snapshot.pods.map((p) => [p.name, p.percent]),
      [
        ['b', 90],
        ['a', 30],
        ['c', undefined],
        ['d', undefined],
      ],
    );
  });

  it('evaluates label selectors like the API server', () => {
    const labels = { app: 'payments', track: 'cloud' };
    assert.equal(selectorMatches({}, labels), true, 'an empty selector selects every pod');
    assert.equal(selectorMatches({ matchLabels: { app: 'payments' } }, labels), true);
    assert.equal(selectorMatches({ matchLabels: { app: 'billing' } }, labels), false);
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: 'track', operator: 'In', values: ['cloud'] }] }, labels),
      true,
    );
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: 'track', operator: 'NotIn', values: ['cloud'] }] }, labels),
      false,
    );
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, labels),
      true,
    );
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels), false);
  });

  it('never isolates more than maxQuarantine pods, nor more ready pods than the fraction allows', () => {
    const ready = { ready: true };
    const notReady = { ready: false };
    assert.deepEqual(quarantineAllowance([ready, ready, ready], 6, { max: 3, fraction: 0.5 }), {
      allowed: 3,
      readyBudget: 3,
    });
    assert.deepEqual(quarantineAllowance([ready, ready], 2, { max: 3, fraction: 0.5 }), {
      allowed: 1,
      readyBudget: 1,
    });
    assert.deepEqual(quarantineAllowance([ready], 1, { max: 3, fraction: 0.5 }), {
      allowed: 0,
      readyBudget: 0,
    });
    // Pods that serve nothing cost no capacity.
    assert.deepEqual(quarantineAllowance([notReady, notReady, ready], 1, { max: 3, fraction: 0.5 }), {
      allowed: 2,
      readyBudget: 0,
    });
    assert.equal(
      quarantineAllowance([notReady, notReady, notReady, notReady], 4, { max: 3, fraction: 1 }).allowed,
      3,
    );
  });
});
