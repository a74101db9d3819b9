// The breaker's judgement: readings, breach versus inconclusive, the traffic guard, and when to trip or alert.
import assert from 'node:assert/strict';
import {
  advance,
  describeEvaluation,
  evaluate,
  judge,
  queryText,
  readingOf,
  type BreakerSettings,
  type Counters,
  type Outcome,
} from '../../flows/breaker/rules.ts';

const settings: BreakerSettings = {
  thresholds: { memory: 0.8, errors: 0.01 },
  intervalMs: 30_000,
  failureLimit: 3,
  errorLimit: 4,
  onNoData: 'alert',
};

function run(outcomes: Outcome[], s = settings) {
  let counters: Counters = { breaches: 0, inconclusive: 0, alerted: false };
  return outcomes.map((o) => {
    const step = advance(counters, o, s);
    counters = step.counters;
    return step;
  });
}

describe('breaker judgement', () => {
  it('reads the worst finite series; NaN, Inf and nothing are never values', () => {
    assert.deepEqual(readingOf([0.5, 0.93, 0.7]), { kind: 'value', value: 0.93, series: 3, partial: false });
    assert.deepEqual(readingOf([]), { kind: 'empty' });
    assert.deepEqual(readingOf([NaN, Infinity]), { kind: 'nan', series: 2 });
    assert.deepEqual(readingOf([NaN, 0.4]), { kind: 'value', value: 0.4, series: 2, partial: true });
  });

  it('breaches only above the threshold; partial data below it is inconclusive, not a pass', () => {
    assert.equal(judge(readingOf([0.81]), 0.8).outcome, 'breach');
    assert.equal(judge(readingOf([0.8]), 0.8).outcome, 'ok');
    assert.equal(judge(readingOf([NaN, 0.9]), 0.8).outcome, 'breach');
    assert.equal(judge(readingOf([NaN, 0.5]), 0.8).outcome, 'inconclusive');
    assert.equal(judge({ kind: 'error', message: 'HTTP 503' }, 0.8).note, 'query failed: HTTP 503');
  });

  it('any breach breaches; otherwise anything unreadable makes the evaluation inconclusive', () => {
    const ok = readingOf([0.3]);
    assert.equal(
      evaluate({ memory: readingOf([0.95]), errors: { kind: 'empty' } }, settings.thresholds).outcome,
      'breach',
    );
    assert.equal(evaluate({ memory: ok, errors: readingOf([0.02]) }, settings.thresholds).outcome, 'breach');
    assert.equal(
      evaluate({ memory: ok, errors: readingOf([NaN]) }, settings.thresholds).outcome,
      'inconclusive',
    );
    assert.equal(evaluate({ memory: ok, errors: readingOf([0.001]) }, settings.thresholds).outcome, 'ok');
  });

  it('the traffic guard: 0 skips the error ratio, unreadable makes an ok error ratio inconclusive', () => {
    const low = evaluate(
      { memory: readingOf([0.3]), errors: readingOf([0.5]), guard: readingOf([0]) },
      settings.thresholds,
    );
    assert.equal(low.outcome, 'ok');
    assert.equal(low.traffic, 'low');
    assert.equal(low.errors?.skipped, true);
    const unknown = evaluate(
      { memory: readingOf([0.3]), errors: readingOf([0.001]), guard: { kind: 'empty' } },
      settings.thresholds,
    );
    assert.equal(unknown.outcome, 'inconclusive');
    assert.equal(unknown.errors?.note, 'traffic guard (minRps) unreadable');
    const breach = evaluate(
      { memory: readingOf([0.3]), errors: readingOf([0.5]), guard: readingOf([1]) },
      settings.thresholds,
    );
    assert.equal(breach.outcome, 'breach');
    assert.equal(describeEvaluation(breach), 'memory 30.0% ≤ 80.0%, 5xx 50.0% > 1.00%');
  });

  it('trips on exactly the failureLimit-th breach in a row; an ok resets, an inconclusive does neither', () => {
    assert.deepEqual(
      run(['breach', 'breach', 'breach']).map((s) => s.trip),
      [undefined, undefined, 'breach'],
    );
    assert.deepEqual(
      run(['breach', 'breach', 'ok', 'breach', 'breach']).map((s) => s.trip ?? '-'),
      ['-', '-', '-', '-', '-'],
    );
    const steps = run(['breach', 'inconclusive', 'breach', 'inconclusive', 'breach']);
    assert.deepEqual(
      steps.map((s) => s.counters.breaches),
      [1, 1, 2, 2, 3],
    );
    assert.equal(steps.at(-1)?.trip, 'breach');
  });

  it('alerts once when errorLimit inconclusive evaluations come in a row; trips on them only with rollback', () => {
    const steps = run([
      'inconclusive',
      'inconclusive',
      'inconclusive',
      'inconclusive',
      'inconclusive',
      'ok',
      'inconclusive',
    ]);
    assert.deepEqual(
      steps.map((s) => s.alert),
      [false, false, false, true, false, false, false],
    );
    assert.ok(steps.every((s) => s.trip === undefined));
    const rollback = run(['inconclusive', 'inconclusive', 'inconclusive', 'inconclusive'], {
      ...settings,
      onNoData: 'rollback',
    });
    assert.equal(rollback.at(-1)?.trip, 'no_data');
  });

  it('puts minRps into the {minRps} placeholders of a query', () => {
    assert.equal(queryText('a and on() b >= {minRps} or c > {minRps}', 5), 'a and on() b >= 5 or c > 5');
    assert.equal(
      queryText({ expression: 'IF(m2 >= {minRps}, m3 / m2, 0)', metrics: {} }, 2.5),
      'IF(m2 >= 2.5, m3 / m2, 0)',
    );
  });
});
