// The breaker on Prometheus answers with warnings (partial data), real Redis, a local Route 53 and Prometheus by nock:
// what came back may be only part of the pods, so a value under the threshold is never a clean "healthy".
import assert from 'node:assert/strict';
import { getBreaker } from '../../flows/breaker/evaluator.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { textOf } from '../support/bot.ts';
import {
  breakerBot,
  breakerConfig,
  nockEvaluation,
  startRoute53,
  vector,
  type BreakerBot,
  type Route53Kit,
} from '../support/breaker.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const INTERVAL = 30_000;
/** What Prometheus says when a remote-read store (Thanos sidecar, another shard) did not answer in time. */
const WARNING = 'error reading from remote storage "thanos-store-eu-2": context deadline exceeded';
const partial = (values: string[]) => ({
  status: 200,
  body: vector(values, 1795687200.123, { warnings: [WARNING] }),
});

describe('breaker on partial Prometheus data (real Redis, local Route 53, nock)', () => {
  useNock();
  let store: RedisStore;
  let r53: Route53Kit;
  let t: BreakerBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    r53 = await startRoute53();
    t = breakerBot({ store, config: breakerConfig(), r53 });
    await t.command('alice', '/incident', 'declare payments sev=1 cloud pods OOMKilled');
    await t.command('alice', '/breaker', 'arm');
    const action = (await t.bot.deps.approvals.listForIncident('INC-1')).find(
      (a) => a.kind === 'breaker.arm',
    );
    assert.ok(action);
    await t.click('bob', APPROVE_ACTION, action.id);
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
    await r53.server.stop();
  });

  it(
    'a value under the threshold read with warnings is inconclusive and says why, never ok ' +
      '(prometheus.io/docs/prometheus/latest/querying/api, "Format overview": "status":"success" with "warnings" ' +
      'for errors that do not inhibit the request; only the data successfully collected is returned)',
    async () => {
      // Two of the cloud pods answered: 44% is the highest of those two, not of the fleet.
      nockEvaluation(partial(['0.41', '0.44']), ['0.0004'], ['1']);
      await t.step(0);
      let state = await getBreaker(t.bot.deps, 'payments');
      const first = state?.last.at(-1);
      assert.equal(first?.outcome, 'inconclusive');
      assert.equal(first?.memory?.outcome, 'inconclusive');
      assert.equal(first?.memory?.note, `partial data: Prometheus warned "${WARNING}"`);
      assert.deepEqual(state?.counters, { breaches: 0, inconclusive: 1, alerted: false });
      const status = textOf((await t.command('carol', '/breaker', 'status'))[0]);
      assert.match(status, /inconclusive/);
      assert.match(
        status,
        /memory 44\.0% ≤ 80\.0% \(partial data: Prometheus warned "error reading from remote storage/,
      );

      // A traffic guard read with warnings cannot say there is too little traffic: the 5xx ratio is not skipped.
      nockEvaluation(['0.41'], ['0.0004'], partial(['0']));
      await t.step(INTERVAL);
      state = await getBreaker(t.bot.deps, 'payments');
      assert.equal(state?.last.at(-1)?.outcome, 'inconclusive');
      assert.equal(state?.last.at(-1)?.traffic, 'unknown');
      assert.notEqual(state?.last.at(-1)?.errors?.skipped, true);

      // A breach in partial data is real (the missing pods can only be worse): it counts, with the warning noted.
      nockEvaluation(partial(['0.93']), ['0.0004'], ['1']);
      await t.step(INTERVAL);
      state = await getBreaker(t.bot.deps, 'payments');
      assert.equal(state?.last.at(-1)?.outcome, 'breach');
      assert.match(state?.last.at(-1)?.memory?.note ?? '', /^partial data: Prometheus warned/);
      assert.equal(state?.counters.breaches, 1);
      assert.equal(r53.server.accepted.length, 0);
    },
  );
});
