// The simulated CloudWatch on its wire (AWS JSON 1.0), read by the production GetMetricData adapter through the
// real @aws-sdk/client-cloudwatch: the story's memory, 5xx and traffic as metrics, metric math, throttling.
import assert from 'node:assert/strict';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { cloudWatchQueries } from '../../../flows/breaker/source.ts';
import { SdkCloudWatchMetrics } from '../../../src/adapters/cloudwatch.ts';
import { ExternalServiceError } from '../../../src/errors.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { startCloudWatchServer, storyMetrics, type CloudWatchServer } from '../../../src/drill/cloudwatch.ts';
import { loadScenario } from '../../../src/drill/scenario.ts';
import { Story } from '../../../src/drill/story.ts';
import { CREDENTIALS } from '../../support/aws.ts';
import { CW_ERRORS, CW_MEMORY } from '../../support/drill-cloudwatch.ts';

const memory = CW_MEMORY;
const errors = CW_ERRORS;

describe('drill CloudWatch simulator (GetMetricData over AWS JSON 1.0, through the adapter and the real SDK)', () => {
  let clock: number;
  let share: number;
  let story: Story;
  let cw: CloudWatchServer;
  let metrics: SdkCloudWatchMetrics;

  beforeEach(async () => {
    clock = Date.parse('2026-12-03T10:00:30Z');
    share = 0.8;
    story = new Story({
      scenario: loadScenario('seed'),
      timeFactor: 1,
      now: () => clock,
      cloudShare: () => share,
    });
    cw = await startCloudWatchServer({ sample: storyMetrics(story, () => share, 0.002), now: () => clock });
    const client = new CloudWatchClient({
      endpoint: cw.url,
      region: 'us-east-1',
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    metrics = new SdkCloudWatchMetrics({
      clientFor: () => client,
      metrics: createMetrics({ defaults: false }),
    });
  });

  afterEach(async () => {
    await cw.stop();
  });

  const window = () => ({ start: new Date(clock - 5 * 60_000), end: new Date(clock) });

  it('answers the breaker memory query with the story, one datapoint per period, oldest first', async () => {
    const first = await metrics.getMetricData(undefined, cloudWatchQueries(memory, undefined, 60), window());
    const worstThen = story.worstFraction();
    clock += 60_000;
    const second = await metrics.getMetricData(undefined, cloudWatchQueries(memory, undefined, 60), window());

    assert.equal(first.length, 1);
    assert.equal(first[0]?.status, 'Complete');
    assert.equal(first[0]?.points.length, 1);
    assert.ok(Math.abs((first[0]?.points[0]?.v ?? 0) - worstThen) < 1e-9);
    assert.deepEqual(
      second[0]?.points.map((p) => new Date(p.t).toISOString()),
      ['2026-12-03T10:00:00.000Z', '2026-12-03T10:01:00.000Z'],
    );
    // The leak went on for a minute in between.
    assert.ok((second[0]?.points[1]?.v ?? 0) > (second[0]?.points[0]?.v ?? 1));
    const sent = cw.requests[0];
    assert.equal(sent?.target, 'GraniteServiceVersion20100801.GetMetricData');
    assert.equal((sent?.body.MetricDataQueries as unknown[]).length, 2);
  });

  it('evaluates the metric math of the 5xx ratio: the story ratio with traffic, 0 once traffic left the cloud', async () => {
    const busy = await metrics.getMetricData(undefined, cloudWatchQueries(errors, undefined, 60), window());
    const ratio = story.cloudErrorRatio();
    clock += 60_000;
    share = 0;
    const idle = await metrics.getMetricData(undefined, cloudWatchQueries(errors, undefined, 60), window());

    assert.ok(Math.abs((busy[0]?.points[0]?.v ?? 0) - ratio) < 1e-9, `${busy[0]?.points[0]?.v} vs ${ratio}`);
    assert.ok(ratio > 0.01, 'the seed story starts failing');
    assert.equal(idle[0]?.points.at(-1)?.v, 0);
  });

  it('throttles with the Query-compatible Throttling error, which the adapter reports as retryable', async () => {
    cw.throttleNext(1);

    const err = await metrics
      .getMetricData(undefined, cloudWatchQueries(memory, undefined, 60), window())
      .then(
        () => undefined,
        (e: unknown) => e,
      );

    assert.ok(err instanceof ExternalServiceError);
    assert.equal(err.retryable, true);
    assert.match(err.message, /GetMetricData failed \(Throttling, HTTP 400: Rate exceeded\)/);
    assert.equal(cw.refused.Throttling, 1);
  });

  it('throttles past 50 requests in a second (the default GetMetricData quota)', async () => {
    const run = () => metrics.getMetricData(undefined, cloudWatchQueries(memory, undefined, 60), window());
    for (let i = 0; i < 50; i++) await run();

    const err = await run().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    clock += 100;
    const again = await run();

    assert.match(err?.message ?? '', /Throttling/);
    assert.equal(again[0]?.status, 'Complete');
  });

  it('refuses what it does not simulate with a message saying what is', async () => {
    const err = await metrics
      .getMetricData(
        undefined,
        cloudWatchQueries("SEARCH('{AWS/ApplicationELB} 5XX', 'Sum')", undefined, 60),
        window(),
      )
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );

    assert.match(
      err?.message ?? '',
      /SEARCH queries \(search expressions, Metrics Insights\) are not simulated in the drill; name metrics with MetricStat/,
    );
    assert.equal(cw.refused.ValidationError, 1);
  });
});
