// The Prometheus client on the wire (nock): instant vectors with string values, NaN, empty, scalar, and the API's
// error bodies (400 bad_data, 422 execution, 503 timeout) mapped to ExternalServiceError.
import assert from 'node:assert/strict';
import nock from 'nock';
import { PrometheusClient } from '../../../src/adapters/prometheus.ts';
import { ExternalServiceError } from '../../../src/errors.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { MEMORY_QUERY, PROM_ERRORS, PROMETHEUS, vector } from '../../support/breaker.ts';
import { useNock } from '../../support/nock.ts';

const endpoint = { url: `${PROMETHEUS}/`, token: 'prom-token-4f1e' };

describe('Prometheus client: instant queries', () => {
  useNock();
  const client = new PrometheusClient(createMetrics({ defaults: false }), { timeoutMs: 2000 });

  function expectQuery(status: number, reply: unknown): { body: string } {
    const seen = { body: '' };
    nock(PROMETHEUS, { reqheaders: { authorization: 'Bearer prom-token-4f1e' } })
      .post('/api/v1/query', (body: unknown) => {
        seen.body =
          typeof body === 'string' ? body : new URLSearchParams(body as Record<string, string>).toString();
        return true;
      })
      .matchHeader('content-type', 'application/x-www-form-urlencoded')
      .reply(status, reply as nock.Body, { 'content-type': 'application/json' });
    return seen;
  }

  it('posts the query form-encoded and parses string values, NaN and +Inf per series', async () => {
    const seen = expectQuery(200, vector(['0.912', 'NaN', '+Inf']));
    const { samples, warnings } = await client.query(endpoint, MEMORY_QUERY);
    assert.equal(new URLSearchParams(seen.body).get('query'), MEMORY_QUERY);
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      samples.map((s) => s.value),
      [0.912, NaN, Infinity],
    );
    assert.equal(samples[0]?.labels.pod, 'payments-cloud-7d9f8-a0');
  });

  it('returns an empty result as no samples (no data, not zero) and a scalar as one sample', async () => {
    expectQuery(200, { status: 'success', data: { resultType: 'vector', result: [] } });
    assert.deepEqual(await client.query(endpoint, 'absent_metric'), { samples: [], warnings: [] });
    expectQuery(200, { status: 'success', data: { resultType: 'scalar', result: [1795687200.5, '0.25'] } });
    assert.deepEqual(await client.query(endpoint, 'scalar(x)'), {
      samples: [{ labels: {}, value: 0.25 }],
      warnings: [],
    });
  });

  it('keeps the warnings of a successful answer: partial data (prometheus.io/docs/prometheus/latest/querying/api, "Format overview": warnings are returned for errors that do not inhibit the request; all data successfully collected is in data), ignoring infos', async () => {
    const warning = 'error reading from remote storage "thanos-store-2": context deadline exceeded';
    expectQuery(200, {
      ...vector(['0.41'], 1795687200.123, { warnings: [warning] }),
      infos: ['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket'],
    });
    assert.deepEqual(await client.query(endpoint, MEMORY_QUERY), {
      samples: [
        {
          labels: { namespace: 'payments', pod: 'payments-cloud-7d9f8-a0', container: 'app' },
          value: 0.41,
        },
      ],
      warnings: [warning],
    });
  });

  it('refuses a range vector with a message saying how to write the query', async () => {
    expectQuery(200, {
      status: 'success',
      data: { resultType: 'matrix', result: [{ metric: {}, values: [[1795687200, '1']] }] },
    });
    await assert.rejects(
      client.query(endpoint, 'up[5m]'),
      /returned a matrix result; the breaker needs an instant vector/,
    );
  });

  it('maps 400 bad_data, 422 execution and 503 timeout with their errorType and text', async () => {
    for (const [status, body, retryable] of [
      [400, PROM_ERRORS.badData, false],
      [422, PROM_ERRORS.execution, false],
      [503, PROM_ERRORS.timeout, true],
    ] as const) {
      expectQuery(status, body);
      await assert.rejects(client.query(endpoint, 'x'), (err: Error) => {
        assert.ok(err instanceof ExternalServiceError);
        assert.equal(err.status, status);
        assert.equal(err.retryable, retryable);
        assert.equal(err.message, `query failed (HTTP ${status}, ${body.errorType}): ${body.error}`);
        return true;
      });
    }
  });

  it('says so when the answer is not JSON (a proxy error page)', async () => {
    nock(PROMETHEUS)
      .post('/api/v1/query')
      .reply(502, '<html>Bad Gateway</html>', { 'content-type': 'text/html' });
    await assert.rejects(client.query({ url: PROMETHEUS }, 'x'), /query answered HTTP 502 without JSON/);
  });
});
