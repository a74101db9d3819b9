// The breaker and canary sections of cloud-safety.yml: defaults, the standard queries, and errors that name the path.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadConfig, parseConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { ERRORS_QUERY, GUARD_QUERY, MEMORY_QUERY } from '../support/breaker.ts';

const access = { responders: ['U0ALICE'], approvers: ['U0BOB'] };

function withPayments(payments: Record<string, unknown>) {
  return parseConfig({ access, services: { payments } }, 'cloud-safety.yml');
}

function problems(payments: Record<string, unknown>): string {
  try {
    withPayments(payments);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('the config was accepted');
}

describe('config: services.<name>.breaker and .canary', () => {
  it('fills in thresholds 0.80 / 0.01, 30s, 3 breaches, 4 inconclusive, alert on no data; canary 1,5,25,50 x 10m', () => {
    const config = withPayments({
      breaker: {
        source: { prometheus: 'http://prometheus:9090' },
        memory: MEMORY_QUERY,
        errors: ERRORS_QUERY,
        minRps: GUARD_QUERY,
      },
      canary: {},
    });
    const breaker = config.services.payments?.breaker;
    assert.deepEqual(breaker?.thresholds, { memory: 0.8, errors: 0.01 });
    assert.deepEqual(
      [breaker?.interval, breaker?.failureLimit, breaker?.errorLimit, breaker?.onNoData],
      [30_000, 3, 4, 'alert'],
    );
    assert.deepEqual(config.services.payments?.canary, { steps: [1, 5, 25, 50], bake: 600_000 });
  });

  it('takes CloudWatch metric math over named metrics, with a number for {minRps}', () => {
    const config = withPayments({
      breaker: {
        source: { cloudwatch: { region: 'eu-west-1' } },
        memory: {
          expression: 'm1 / 100',
          metrics: {
            m1: {
              namespace: 'ContainerInsights',
              metricName: 'pod_memory_utilization_over_pod_limit',
              dimensions: { ClusterName: 'prod', Namespace: 'payments', Service: 'payments-cloud' },
              stat: 'Maximum',
            },
          },
        },
        errors: 'IF(m2 >= {minRps}, m3 / m2, 0)',
        minRps: 5,
      },
    });
    const cw = config.services.payments?.breaker?.source;
    assert.ok(cw && 'cloudwatch' in cw);
    assert.deepEqual(cw.cloudwatch, { region: 'eu-west-1', period: 60_000, lookback: 300_000 });
  });

  it('names the path of every mistake', () => {
    const message = problems({
      breaker: {
        source: { prometheus: 'not a url' },
        memory: { expression: 'm1' },
        errors: 'sum(x)',
        minRps: 5,
        thresholds: { memory: 0, errors: 2 },
        interval: '10ms',
        failureLimit: 0,
        onNoData: 'panic',
      },
    });
    assert.match(message, /services\.payments\.breaker\.source/);
    assert.match(message, /services\.payments\.breaker\.thresholds\.memory/);
    assert.match(message, /services\.payments\.breaker\.thresholds\.errors/);
    assert.match(message, /services\.payments\.breaker\.interval: at least 1s, like 30s/);
    assert.match(message, /services\.payments\.breaker\.failureLimit/);
    assert.match(message, /services\.payments\.breaker\.onNoData/);
  });

  it('refuses a CloudWatch-style query for Prometheus and a number minRps without {minRps}', () => {
    const message = problems({
      breaker: {
        source: { prometheus: 'http://prometheus:9090' },
        memory: { expression: 'm1' },
        errors: ERRORS_QUERY,
        minRps: 5,
      },
    });
    assert.match(message, /breaker\.memory: a Prometheus source takes a PromQL string here/);
    assert.match(message, /breaker\.minRps: minRps is a number, but errors has no \{minRps\} placeholder/);
    assert.match(
      problems({
        breaker: { source: { prometheus: 'http://p:9090' }, memory: MEMORY_QUERY, errors: 'x >= {minRps}' },
      }),
      /breaker\.errors: errors uses \{minRps\}: set minRps/,
    );
  });

  it('refuses canary steps that do not increase and a bake shorter than three breaker intervals', () => {
    const message = problems({
      breaker: {
        source: { prometheus: 'http://p:9090' },
        memory: MEMORY_QUERY,
        errors: ERRORS_QUERY,
        interval: '1m',
      },
      canary: { steps: [5, 5, 200], bake: '2m' },
    });
    assert.match(message, /services\.payments\.canary\.steps\.2/);
    assert.match(message, /services\.payments\.canary\.steps: steps must increase/);
    const short = problems({
      breaker: {
        source: { prometheus: 'http://p:9090' },
        memory: MEMORY_QUERY,
        errors: ERRORS_QUERY,
        interval: '1m',
      },
      canary: { bake: '2m' },
    });
    assert.match(
      short,
      /services\.payments\.canary\.bake: a step must bake at least three breaker intervals \(180s\)/,
    );
  });

  it('accepts every services: example in docs/breaker.md and the drill config', () => {
    const blocks = [...readFileSync('docs/breaker.md', 'utf8').matchAll(/```yaml\n(services:[\s\S]*?)```/g)];
    assert.ok(blocks.length >= 3);
    for (const [, text] of blocks) {
      const doc = parse(text ?? '') as { services: { payments: Record<string, unknown> } };
      const payments = doc.services.payments;
      const breaker = {
        source: { prometheus: 'http://p:9090' },
        memory: MEMORY_QUERY,
        errors: ERRORS_QUERY,
        ...(payments.breaker as object),
      };
      assert.doesNotThrow(() => withPayments({ ...payments, breaker }), text);
    }
    const drill = loadConfig('docs/drill/breaker.drill.yml');
    assert.equal(drill.services.payments?.breaker?.interval, 5000);
  });
});
