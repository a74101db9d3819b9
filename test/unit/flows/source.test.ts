// Where a condition's numbers come from, with CloudWatch as the source: the filled-in query per stack, the window,
// the newest datapoint per series, and a Forbidden answer that is an error rather than "no data".
import assert from 'node:assert/strict';
import { forStack } from '../../../flows/breaker/conditions.ts';
import { latestValues, windowValues } from '../../../flows/breaker/source.ts';
import type { CloudWatchMetrics, MetricQuery, MetricSeries } from '../../../src/adapters/cloudwatch.ts';
import { parseConfig } from '../../../src/config.ts';

const LATENCY = {
  expression: 'm1 / 1000',
  metrics: {
    m1: {
      namespace: 'AWS/ApplicationELB',
      metricName: 'TargetResponseTime',
      stat: 'p99',
      dimensions: { TargetGroup: 'targetgroup/payments-{stack}/abc' },
    },
  },
};

function breaker() {
  const config = parseConfig(
    {
      access: { responders: ['U0ALICE'], approvers: ['U0BOB'] },
      services: {
        payments: {
          breaker: {
            source: { cloudwatch: { region: 'eu-west-1', period: '60s', lookback: '5m' } },
            conditions: { latency: { query: { expression: 'm1 * {stack}', metrics: {} }, above: 0.5 } },
          },
        },
      },
    },
    'cloud-safety.yml',
  );
  const cfg = config.services.payments?.breaker;
  assert.ok(cfg);
  return cfg;
}

class FakeCloudWatch implements CloudWatchMetrics {
  calls: { region: string | undefined; queries: MetricQuery[]; range: { start: Date; end: Date } }[] = [];
  answer: MetricSeries[] = [];

  async getMetricData(region: string | undefined, queries: MetricQuery[], range: { start: Date; end: Date }) {
    this.calls.push({ region, queries, range });
    return this.answer;
  }
}

const NOW = new Date('2026-11-26T10:00:00Z');
const point = (minute: number, v: number) => ({ t: NOW.getTime() - minute * 60_000, v });

describe('breaker sources: CloudWatch', () => {
  it('the bake window: every datapoint of every series, for the expression filled in for that stack', async () => {
    const cloudwatch = new FakeCloudWatch();
    cloudwatch.answer = [
      { id: 'result', status: 'Complete', points: [point(2, 0.3), point(1, 0.4)], messages: [] },
    ];
    const cfg = breaker();
    const window = { start: new Date(NOW.getTime() - 600_000), end: NOW, stepSeconds: 10 };
    const read = await windowValues(
      { adapters: { cloudwatch } },
      cfg,
      'payments',
      forStack(LATENCY, 'legacy', cfg),
      window,
    );
    assert.deepEqual(read, { values: [0.3, 0.4], warnings: [] });
    const [call] = cloudwatch.calls;
    assert.equal(call?.region, 'eu-west-1');
    assert.deepEqual([call?.range.start, call?.range.end], [window.start, window.end]);
    assert.deepEqual(
      call?.queries.map((q) => [
        q.id,
        q.expression ?? q.metric?.dimensions.TargetGroup,
        q.periodSeconds,
        q.returnData,
      ]),
      [
        ['m1', 'targetgroup/payments-legacy/abc', 60, false],
        ['result', 'm1 / 1000', 60, true],
      ],
    );
  });

  it('now: the newest datapoint of each series within the lookback', async () => {
    const cloudwatch = new FakeCloudWatch();
    cloudwatch.answer = [
      { id: 'result', label: 'a', status: 'Complete', points: [point(3, 9), point(1, 0.2)], messages: [] },
      { id: 'result', label: 'b', status: 'Complete', points: [], messages: [] },
      { id: 'result', label: 'c', status: 'PartialData', points: [point(2, 0.7)], messages: [] },
    ];
    const cfg = breaker();
    const read = await latestValues({ adapters: { cloudwatch }, now: () => NOW }, cfg, 'payments', 'm1');
    // CloudWatch's PartialData means "more pages", not data that could not be read: no warning.
    assert.deepEqual(read, { values: [0.2, 0.7], warnings: [] });
    assert.equal(cloudwatch.calls[0]?.range.start.getTime(), NOW.getTime() - 5 * 60_000);
  });

  it('a Forbidden answer is an error (a failed query), not an empty result', async () => {
    const cloudwatch = new FakeCloudWatch();
    cloudwatch.answer = [
      {
        id: 'result',
        status: 'Forbidden',
        points: [],
        messages: ['Forbidden: cloudwatch:GetMetricData denied'],
      },
    ];
    await assert.rejects(
      latestValues({ adapters: { cloudwatch }, now: () => NOW }, breaker(), 'payments', 'm1'),
      /CloudWatch answered Forbidden: Forbidden: cloudwatch:GetMetricData denied/,
    );
  });

  it('no CloudWatch client set up is said plainly', async () => {
    await assert.rejects(
      latestValues({ adapters: {}, now: () => NOW }, breaker(), 'payments', 'm1'),
      /no CloudWatch client is set up/,
    );
  });
});
