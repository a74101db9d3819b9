// A condition's judgement (pure): which side of the threshold is bad, unreadable values, the traffic guard, wording.
import assert from 'node:assert/strict';
import {
  combine,
  describeJudgement,
  forStack,
  formatValue,
  judgeCondition,
  worstOf,
  type ConditionSpec,
} from '../../../flows/breaker/conditions.ts';

const latency: ConditionSpec = {
  name: 'latency',
  label: 'latency',
  query: 'histogram_quantile(0.99, x{service="payments-{stack}"})',
  op: 'above',
  threshold: 0.5,
  unit: 'seconds',
};
const throughput: ConditionSpec = {
  ...latency,
  name: 'throughput',
  label: 'throughput',
  op: 'below',
  threshold: 10,
  unit: 'number',
};

describe('breaker conditions', () => {
  it('above: the highest series counts and breaches over the threshold', () => {
    const j = judgeCondition(latency, worstOf([0.2, 1.2, 0.3], 'above'));
    assert.deepEqual([j.outcome, j.value], ['breach', 1.2]);
    assert.equal(describeJudgement(j), 'latency 1.20 s > 500 ms');
    assert.equal(judgeCondition(latency, worstOf([0.5], 'above')).outcome, 'ok', 'at the threshold is ok');
  });

  it('below: the lowest series counts and breaches under the threshold', () => {
    const j = judgeCondition(throughput, worstOf([40, 3, 25], 'below'));
    assert.deepEqual([j.outcome, j.value], ['breach', 3]);
    assert.equal(describeJudgement(j), 'throughput 3 < 10');
    assert.equal(describeJudgement(judgeCondition(throughput, worstOf([12], 'below'))), 'throughput 12 ≥ 10');
  });

  it('NaN, empty and failed readings are inconclusive, never a pass; a partial reading breaches only when bad', () => {
    assert.equal(judgeCondition(latency, worstOf([], 'above')).outcome, 'inconclusive');
    assert.equal(judgeCondition(latency, worstOf([NaN, Infinity], 'above')).outcome, 'inconclusive');
    assert.equal(
      judgeCondition(latency, { kind: 'error', message: 'timeout' }).note,
      'query failed: timeout',
    );
    assert.equal(judgeCondition(latency, worstOf([NaN, 0.2], 'above')).outcome, 'inconclusive');
    assert.equal(judgeCondition(latency, worstOf([NaN, 0.9], 'above')).outcome, 'breach');
  });

  it('the traffic guard: 0 skips the condition, unreadable makes an ok value inconclusive, a breach stays a breach', () => {
    const low = judgeCondition(latency, worstOf([5], 'above'), worstOf([0], 'above'));
    assert.deepEqual([low.outcome, low.skipped, low.traffic], ['ok', true, 'low']);
    assert.equal(describeJudgement(low), 'latency skipped (too little traffic to judge (minTraffic guard))');
    const unknown = judgeCondition(latency, worstOf([0.2], 'above'), { kind: 'empty' });
    assert.deepEqual(
      [unknown.outcome, unknown.note],
      ['inconclusive', 'traffic guard (minTraffic) unreadable'],
    );
    assert.equal(judgeCondition(latency, worstOf([0.9], 'above'), { kind: 'empty' }).outcome, 'breach');
  });

  it('combines: any breach, else any inconclusive, else ok', () => {
    const ok = judgeCondition(latency, worstOf([0.1], 'above'));
    const bad = judgeCondition(throughput, worstOf([1], 'below'));
    const unread = judgeCondition(latency, { kind: 'empty' });
    assert.equal(combine([ok, unread, bad]), 'breach');
    assert.equal(combine([ok, unread]), 'inconclusive');
    assert.equal(combine([ok]), 'ok');
  });

  it('fills {stack} (and {minRps}) in strings and CloudWatch expressions alike', () => {
    const stacks = { stacks: { cloud: 'cloud', legacy: 'legacy' } };
    assert.equal(
      forStack(latency.query, 'legacy', stacks),
      'histogram_quantile(0.99, x{service="payments-legacy"})',
    );
    assert.deepEqual(forStack({ expression: 'm1 > {minRps} {stack}', metrics: {} }, 'cloud', stacks, 5), {
      expression: 'm1 > 5 cloud',
      metrics: {},
    });
  });

  it('writes values in their unit', () => {
    assert.deepEqual(
      [
        formatValue(0.931, 'ratio'),
        formatValue(0.0042, 'ratio'),
        formatValue(0.25, 'seconds'),
        formatValue(2.5, 'seconds'),
        formatValue(1234.5, 'number'),
        formatValue(NaN, 'number'),
      ],
      ['93.1%', '0.420%', '250 ms', '2.50 s', '1230', 'n/a'],
    );
  });
});
