// The Mann–Whitney U test and the cloud-against-legacy decision, checked against published values.
import assert from 'node:assert/strict';
import { compareStacks, mannWhitney, median, normalCdf } from '../../src/stats.ts';

const close = (actual: number, expected: number, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

describe('stats', () => {
  it('normalCdf matches the standard normal table', () => {
    close(normalCdf(1.96), 0.9750021048517795);
    close(normalCdf(-3), 0.0013498980316301);
    close(normalCdf(0.5), 0.6914624612740131);
    close(normalCdf(0), 0.5);
  });

  it('median of odd and even counts', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  it("U of the tortoise and the hare (Wikipedia's worked example: U_T = 25, U_H = 11)", () => {
    // Finishing order T H H H H H T T T T T H: the tortoises take ranks 1, 7, 8, 9, 10, 11.
    const tortoise = [1, 7, 8, 9, 10, 11];
    const hare = [2, 3, 4, 5, 6, 12];
    assert.equal(mannWhitney(tortoise, hare, 'greater').u, 25);
    assert.equal(mannWhitney(hare, tortoise, 'greater').u, 11);
    // Reference p-values: scipy.stats.mannwhitneyu(method="asymptotic", use_continuity=True).
    close(mannWhitney(tortoise, hare, 'greater').p, 0.1489765308040839);
    close(mannWhitney(tortoise, hare, 'less').p, 0.885116864769431);
    close(mannWhitney(tortoise, hare, 'two-sided').p, 0.2979530616081678);
  });

  it('corrects the variance for ties', () => {
    const x = [1, 2, 2, 3, 3, 3, 4, 5];
    const y = [3, 4, 4, 5, 5, 6, 7, 7, 7];
    const less = mannWhitney(x, y, 'less');
    assert.equal(less.u, 7.5);
    close(less.p, 0.0031371169249193305);
    close(mannWhitney(x, y, 'two-sided').p, 0.006274233849838661);
    close(mannWhitney(x, y, 'greater').p, 0.9976777228691651);
  });

  it('keeps a tiny p-value instead of rounding it to 0 (upper tail as Φ(−z))', () => {
    const low = Array.from({ length: 46 }, (_, i) => i);
    const high = low.map((v) => v + 100);
    const { p } = mannWhitney(high, low, 'greater');
    assert.ok(p > 0 && p < 1e-12, `p = ${p}`);
  });

  it('every value tied is no evidence at all (p = 1)', () => {
    assert.deepEqual(mannWhitney([2, 2, 2], [2, 2], 'greater'), { u: 3, z: 0, p: 1 });
  });

  it('an empty side is refused', () => {
    assert.throws(() => mannWhitney([], [1], 'greater'), /at least one value on each side/);
  });

  describe('compareStacks', () => {
    const settings = { effect: 0.1, confidence: 0.95, minSamples: 8 };
    const legacy = [0.2, 0.21, 0.19, 0.22, 0.2, 0.18, 0.21, 0.2, 0.19, 0.2];

    it('a clearly higher cloud latency is worse, with both medians, U and p', () => {
      const cloud = legacy.map((v) => v * 1.5);
      const c = compareStacks(legacy, cloud, 'higher', settings);
      assert.equal(c.decision, 'worse');
      assert.equal(c.legacy.median, 0.2);
      close(c.cloud.median, 0.3);
      assert.equal(c.u, 100);
      assert.ok((c.p ?? 1) < 0.001);
      close(c.ratio ?? 0, 1.5);
    });

    it('the same distribution is no difference', () => {
      const c = compareStacks(legacy, [...legacy].reverse(), 'higher', settings);
      assert.equal(c.decision, 'same');
      assert.ok((c.p ?? 0) > 0.4);
    });

    it('significant but smaller than the effect size is no difference', () => {
      const c = compareStacks(
        legacy,
        legacy.map((v) => v * 1.05),
        'higher',
        settings,
      );
      assert.ok((c.p ?? 1) < 0.05, 'the shift is significant');
      assert.equal(c.decision, 'same', 'but 5 % is under the 10 % effect size');
    });

    it('better in the other direction is never worse', () => {
      assert.equal(
        compareStacks(
          legacy,
          legacy.map((v) => v / 2),
          'higher',
          settings,
        ).decision,
        'same',
      );
      assert.equal(
        compareStacks(
          legacy,
          legacy.map((v) => v / 2),
          'lower',
          settings,
        ).decision,
        'worse',
      );
    });

    it('too few finite values on a side is not enough data, and no test is run', () => {
      const c = compareStacks(legacy, [0.5, 0.6, NaN, Infinity, 0.7, 0.5, 0.6, 0.5], 'higher', settings);
      assert.equal(c.decision, 'not_enough_data');
      assert.equal(c.cloud.n, 6);
      assert.equal(c.p, undefined);
    });
  });
});
