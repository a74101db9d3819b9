// Named breaker conditions in cloud-safety.yml: memory/errors configs unchanged, new conditions, errors with the path.
import assert from 'node:assert/strict';
import { conditionsOf } from '../../flows/breaker/conditions.ts';
import { parseConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { ERRORS_QUERY, GUARD_QUERY, MEMORY_QUERY } from '../support/breaker.ts';

const access = { responders: ['U0ALICE'], approvers: ['U0BOB'] };
const LATENCY =
  'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="payments-{stack}"}[2m])))';
const RPS = 'sum(rate(http_requests_total{service="payments-{stack}"}[2m])) >= bool 5';

function breakerOf(breaker: Record<string, unknown>) {
  const config = parseConfig({ access, services: { payments: { breaker } } }, 'cloud-safety.yml');
  const parsed = config.services.payments?.breaker;
  assert.ok(parsed);
  return parsed;
}

function problems(breaker: Record<string, unknown>): string {
  try {
    breakerOf(breaker);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('the config was accepted');
}

const source = { prometheus: 'http://prometheus:9090' };

describe('config: services.<name>.breaker.conditions', () => {
  it('an existing memory/errors config becomes exactly the two conditions it always was', () => {
    const breaker = breakerOf({ source, memory: MEMORY_QUERY, errors: ERRORS_QUERY, minRps: GUARD_QUERY });
    assert.deepEqual(conditionsOf(breaker), [
      { name: 'memory', label: 'memory', query: MEMORY_QUERY, op: 'above', threshold: 0.8, unit: 'ratio' },
      {
        name: 'errors',
        label: '5xx',
        query: ERRORS_QUERY,
        op: 'above',
        threshold: 0.01,
        unit: 'ratio',
        guard: GUARD_QUERY,
      },
    ]);
  });

  it('adds named conditions after memory and errors, with their guard and comparison settings', () => {
    const breaker = breakerOf({
      source,
      memory: MEMORY_QUERY,
      errors: ERRORS_QUERY,
      compare: { effect: 0.2 },
      conditions: {
        latency: { query: LATENCY, above: 0.5, unit: 'seconds', minTraffic: RPS, compare: true },
        throughput: { query: 'sum(rate(payments_settled_total[5m]))', below: 10 },
      },
    });
    const [, , latency, throughput] = conditionsOf(breaker);
    assert.deepEqual(latency, {
      name: 'latency',
      label: 'latency',
      query: LATENCY,
      op: 'above',
      threshold: 0.5,
      unit: 'seconds',
      guard: RPS,
      compare: { effect: 0.2, confidence: 0.95, minSamples: 10 },
    });
    assert.equal(throughput?.op, 'below');
    assert.equal(throughput?.threshold, 10);
    assert.equal(throughput?.compare, undefined);
    assert.deepEqual(breaker.stacks, { cloud: 'cloud', legacy: 'legacy' });
  });

  it('a CloudWatch condition may name its stack in a dimension only, and still compare', () => {
    const breaker = breakerOf({
      source: { cloudwatch: { region: 'eu-west-1' } },
      conditions: {
        latency: {
          query: {
            expression: 'm1',
            metrics: {
              m1: {
                namespace: 'AWS/ApplicationELB',
                metricName: 'TargetResponseTime',
                stat: 'p99',
                dimensions: { TargetGroup: 'targetgroup/payments-{stack}/abc' },
              },
            },
          },
          above: 0.5,
          compare: true,
        },
      },
    });
    assert.equal(conditionsOf(breaker)[0]?.compare?.confidence, 0.95);
  });

  it('a breaker of named conditions only needs no memory or errors query', () => {
    const breaker = breakerOf({ source, conditions: { latency: { query: LATENCY, above: 0.5 } } });
    assert.deepEqual(
      conditionsOf(breaker).map((c) => c.name),
      ['latency'],
    );
  });

  it('refuses badly shaped conditions, naming the path of each problem', () => {
    const message = problems({
      source,
      memory: MEMORY_QUERY,
      conditions: {
        latency: { query: LATENCY, above: 0.5, below: 0.1 },
        saturation: { query: 'max(cpu)', unit: 'percent', above: 1 },
        'Bad Name': { query: 'x', above: 1 },
      },
    });
    assert.match(message, /payments\.breaker\.conditions\.latency\.above: give exactly one of above/);
    assert.match(message, /payments\.breaker\.conditions\.saturation\.unit: /);
    assert.match(message, /payments\.breaker\.conditions\.Bad Name: a name like latency/);
  });

  it('refuses conditions that do not fit the breaker, naming the path of each problem', () => {
    const message = problems({
      source,
      memory: MEMORY_QUERY,
      conditions: {
        memory: { query: 'max(x)', above: 1 },
        cw: { query: { expression: 'm1' }, above: 1 },
        drift: { query: 'max(cpu)', above: 1, compare: true },
      },
    });
    assert.match(
      message,
      /payments\.breaker\.conditions\.memory: memory is already the breaker's memory query/,
    );
    assert.match(
      message,
      /payments\.breaker\.conditions\.cw\.query: a Prometheus source takes a PromQL string/,
    );
    assert.match(
      message,
      /payments\.breaker\.conditions\.drift\.compare: .*put \{stack\} where the stack name goes/,
    );
  });

  it('refuses a breaker that watches nothing, and a missing threshold', () => {
    assert.match(problems({ source }), /payments\.breaker\.conditions: the breaker watches nothing/);
    assert.match(
      problems({ source, conditions: { latency: { query: LATENCY } } }),
      /payments\.breaker\.conditions\.latency\.above: give exactly one of above: <threshold> or below: <threshold>/,
    );
    assert.match(
      problems({
        source,
        conditions: { latency: { query: LATENCY, above: 0.5, compare: { confidence: 1.5 } } },
      }),
      /payments\.breaker\.conditions\.latency\.compare/,
    );
  });
});
