// CloudWatch GetMetricData on the wire (nock): the installed SDK speaks AWS JSON 1.0 (x-amz-target
// GraniteServiceVersion20100801.GetMetricData, epoch-second timestamps); answers and errors in that shape.
import assert from 'node:assert/strict';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import nock from 'nock';
import { cloudWatchQueries } from '../../../flows/breaker/evaluator.ts';
import { SdkCloudWatchMetrics } from '../../../src/adapters/cloudwatch.ts';
import { ExternalServiceError } from '../../../src/errors.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { CREDENTIALS } from '../../support/aws.ts';
import { useNock } from '../../support/nock.ts';

const ENDPOINT = 'https://monitoring.test';
const start = new Date('2026-11-26T09:55:00Z');
const end = new Date('2026-11-26T10:00:00Z');

function adapter(): SdkCloudWatchMetrics {
  const client = new CloudWatchClient({
    endpoint: ENDPOINT,
    region: 'eu-west-1',
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
  return new SdkCloudWatchMetrics({ clientFor: () => client, metrics: createMetrics({ defaults: false }) });
}

const memory = {
  expression: 'm1 / 100',
  metrics: {
    m1: {
      namespace: 'ContainerInsights',
      metricName: 'pod_memory_utilization_over_pod_limit',
      dimensions: { ClusterName: 'prod', Namespace: 'payments', Service: 'payments-cloud' },
      stat: 'Maximum',
    },
  },
};

describe('CloudWatch GetMetricData adapter', () => {
  useNock();

  it('sends the metric math with its input metrics and reads the series oldest first', async () => {
    let body: Record<string, unknown> = {};
    nock(ENDPOINT)
      .post('/', (b: Record<string, unknown>) => {
        body = b;
        return true;
      })
      .matchHeader('x-amz-target', 'GraniteServiceVersion20100801.GetMetricData')
      .matchHeader('content-type', 'application/x-amz-json-1.0')
      .reply(
        200,
        {
          MetricDataResults: [
            {
              Id: 'result',
              Label: 'result',
              Timestamps: [1795687140, 1795687080, 1795687020],
              Values: [0.91, 0.88, 0.62],
              StatusCode: 'Complete',
            },
          ],
          Messages: [],
        },
        {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-requestid': 'b5f3a2c1-0000-4000-8000-000000000001',
        },
      );
    const series = await adapter().getMetricData('eu-west-1', cloudWatchQueries(memory, undefined, 60), {
      start,
      end,
    });
    assert.deepEqual(body, {
      MetricDataQueries: [
        {
          Id: 'm1',
          ReturnData: false,
          MetricStat: {
            Metric: {
              Namespace: 'ContainerInsights',
              MetricName: 'pod_memory_utilization_over_pod_limit',
              Dimensions: [
                { Name: 'ClusterName', Value: 'prod' },
                { Name: 'Namespace', Value: 'payments' },
                { Name: 'Service', Value: 'payments-cloud' },
              ],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        },
        { Id: 'result', ReturnData: true, Expression: 'm1 / 100', Period: 60 },
      ],
      StartTime: 1795686900,
      EndTime: 1795687200,
      ScanBy: 'TimestampAscending',
    });
    assert.equal(series.length, 1);
    assert.deepEqual(
      series[0]?.points.map((p) => [new Date(p.t).toISOString().slice(11, 16), p.v]),
      [
        ['09:57', 0.62],
        ['09:58', 0.88],
        ['09:59', 0.91],
      ],
    );
  });

  it('keeps the several series of a SEARCH apart by label, and reports PartialData', async () => {
    nock(ENDPOINT)
      .post('/')
      .reply(
        200,
        {
          MetricDataResults: [
            {
              Id: 'result',
              Label: 'payments-cloud-a',
              Timestamps: [1795687140],
              Values: [0.4],
              StatusCode: 'Complete',
            },
            {
              Id: 'result',
              Label: 'payments-cloud-b',
              Timestamps: [1795687140],
              Values: [0.93],
              StatusCode: 'PartialData',
            },
          ],
          Messages: [{ Code: 'MaxMetricsExceeded', Value: 'The limit of 500 metrics was exceeded' }],
        },
        { 'content-type': 'application/x-amz-json-1.0' },
      );
    const series = await adapter().getMetricData(
      undefined,
      cloudWatchQueries(
        "SEARCH('{ContainerInsights,PodName} pod_memory_utilization_over_pod_limit', 'Maximum')",
        undefined,
        60,
      ),
      { start, end },
    );
    assert.deepEqual(
      series.map((s) => [s.label, s.status, s.points[0]?.v]),
      [
        ['payments-cloud-a', 'Complete', 0.4],
        ['payments-cloud-b', 'PartialData', 0.93],
      ],
    );
  });

  it('maps a refused query to ExternalServiceError in its own words, and a 500 as retryable', async () => {
    nock(ENDPOINT).post('/').reply(
      400,
      {
        __type: 'com.amazonaws.cloudwatch#InvalidParameterValueException',
        message:
          'The value m9 for parameter MetricDataQueries.member.2.Expression is not valid: Unknown metric m9.',
      },
      { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'InvalidParameterValue;Sender' },
    );
    await assert.rejects(
      adapter().getMetricData(undefined, cloudWatchQueries('m9 * 2', undefined, 60), { start, end }),
      (err: Error) => {
        assert.ok(err instanceof ExternalServiceError);
        assert.equal(err.retryable, false);
        assert.match(
          err.message,
          /^GetMetricData failed: InvalidParameterValue\w*: The value m9 for parameter/,
        );
        return true;
      },
    );
    nock(ENDPOINT).post('/').reply(
      500,
      { __type: 'com.amazonaws.cloudwatch#InternalServiceFault', message: 'Internal service error' },
      {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-query-error': 'InternalServiceError;Receiver',
      },
    );
    await assert.rejects(
      adapter().getMetricData(undefined, cloudWatchQueries('m1', undefined, 60), { start, end }),
      (err: Error) => err instanceof ExternalServiceError && err.retryable && /HTTP 500/.test(err.message),
    );
  });
});
