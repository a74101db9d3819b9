// The drill world's ELBv2, CloudWatch and PagerDuty are what the production adapters reach: built by buildAdapters from
// the example config and the world's environment, every call lands on the simulators and none on the real endpoints.
import assert from 'node:assert/strict';
import nock from 'nock';
import { latestValues } from '../../../flows/breaker/source.ts';
import { buildAdapters } from '../../../src/adapters-build.ts';
import { loadConfig, type Config } from '../../../src/config.ts';
import { BreakerSource } from '../../../src/config-breaker.ts';
import { resolveSecret } from '../../../src/config-common.ts';
import { createMetrics } from '../../../src/metrics.ts';
import { pointAtDrill } from '../../../src/startup.ts';
import { DRILL_CLOUD_TG, DRILL_LEGACY_TG, DRILL_LISTENER } from '../../../src/drill/elbv2.ts';
import { startDrillWorld, type DrillWorld } from '../../../src/drill/world.ts';
import { memoryLogger } from '../../support/bot.ts';
import { CW_ERRORS, CW_MEMORY } from '../../support/drill-cloudwatch.ts';

// No ledger: nothing listens there and no embedded PostgreSQL stands in (PGlite takes seconds to start per world, and
// these tests never reach the ledger).
const NO_LEDGER = { postgresUrl: 'postgres://postgres@127.0.0.1:1/postgres', embeddedLedger: false } as const;
const REAL = [
  'https://elasticloadbalancing.us-east-1.amazonaws.com',
  'https://monitoring.us-east-1.amazonaws.com',
  'https://api.pagerduty.com',
  'https://events.pagerduty.com',
];

describe('drill world: ELBv2, CloudWatch and PagerDuty behind the production adapters', function () {
  this.timeout(60_000);
  let world: DrillWorld | undefined;
  /** The world's clock runs in real time (the adapters really sleep between reads), shifted by `ahead`. */
  let ahead: number;
  const clock = () => Date.now() + ahead;
  let real: string[];

  beforeEach(() => {
    ahead = 0;
    real = [];
    // Any request to the real services is counted (and answered, so nothing hangs): the test expects none.
    for (const host of REAL) {
      const scope = nock(host).persist();
      for (const method of ['get', 'post', 'put'] as const)
        scope
          .intercept(() => true, method.toUpperCase())
          .reply((req: Request) => {
            real.push(`${req.method} ${req.url}`);
            return [500, ''];
          });
    }
  });

  afterEach(async () => {
    nock.cleanAll();
    await world?.stop();
    world = undefined;
  });

  async function drill(): Promise<{ world: DrillWorld; config: Config; env: NodeJS.ProcessEnv }> {
    world = await startDrillWorld({ timeFactor: 0.05, now: clock, ...NO_LEDGER });
    const config = loadConfig('cloud-safety.example.yml');
    pointAtDrill(config, world);
    // What main.ts does: the user's environment, overridden by the simulators' endpoints.
    return { world, config, env: { PAGERDUTY_TOKEN: 'a-real-looking-token', ...world.env } };
  }

  it('/contain layer=alb: the ALB adapter shifts the simulated listener, and the story sees the traffic leave', async () => {
    const { world, config, env } = await drill();
    const alb = buildAdapters(config, env, createMetrics({ defaults: false }), memoryLogger().log).traffic
      ?.payments?.alb;
    assert.ok(alb, 'the example config has an alb layer');
    const shareBefore = world.cloudShare();

    const state = await alb.read();
    const health = await alb.checkLegacyHealth(state);
    const receipt = await alb.shift(state, { legacy: 100, cloud: 0 }, { comment: 'drill' });

    assert.deepEqual([state.legacy.weight, state.cloud.weight], [0, 100]);
    assert.equal(health.status, 'healthy');
    assert.deepEqual(receipt.after, { legacy: 100, cloud: 0 });
    assert.deepEqual(world.elbv2.weights(DRILL_LISTENER), { [DRILL_LEGACY_TG]: 100, [DRILL_CLOUD_TG]: 0 });
    assert.equal(shareBefore, 0.8);
    assert.equal(world.cloudShare(), 0);
    assert.deepEqual(real, []);
  });

  it('/drill inject alb-fail-after-commit: the ALB commits and answers 500, and the adapter reads back the truth', async () => {
    const { world, config, env } = await drill();
    const alb = buildAdapters(config, env, createMetrics({ defaults: false }), memoryLogger().log).traffic
      ?.payments?.alb;
    assert.ok(alb);

    const said = world.inject('alb-fail-after-commit');
    const receipt = await alb.shift(await alb.read(), { legacy: 100, cloud: 0 }, { comment: 'drill' });

    assert.match(said, /commits, then answers HTTP 500 InternalFailure/);
    assert.equal(world.elbv2.refused.InternalFailure, 1);
    assert.match(receipt.observed ?? '', /ModifyListener .*500.*the change was applied/);
    assert.equal(world.cloudShare(), 0);
  });

  it('a breaker reading CloudWatch gets the story: memory of the worst pod and the 5xx ratio', async () => {
    const { world, config, env } = await drill();
    const payments = config.services.payments;
    assert.ok(payments?.breaker);
    payments.breaker.source = BreakerSource.parse({ cloudwatch: { region: 'us-east-1' } });
    const adapters = buildAdapters(config, env, createMetrics({ defaults: false }), memoryLogger().log);
    const deps = { adapters, now: () => new Date(clock()) };
    const memory = await latestValues(deps, payments.breaker, 'payments', CW_MEMORY);
    const errors = await latestValues(deps, payments.breaker, 'payments', CW_ERRORS);

    // The story runs on (twenty times real speed) while the test reads it: close, not equal.
    const near = (a: number | undefined, b: number) => Math.abs((a ?? -1) - b) < 0.005;
    assert.ok(near(memory.values[0], world.story.worstFraction()), `memory ${memory.values[0]}`);
    assert.ok(near(errors.values[0], world.story.cloudErrorRatio()), `errors ${errors.values[0]}`);
    assert.ok((errors.values[0] ?? 0) > 0.01, 'the seed story is failing');
    assert.ok(world.cloudwatch.requests.length >= 2);
    assert.deepEqual(real, []);
  });

  it('/incident declare pages through REST and the breaker pages through Events, both on the simulated PagerDuty', async () => {
    const { world, config, env } = await drill();
    const adapters = buildAdapters(config, env, createMetrics({ defaults: false }), memoryLogger().log);
    const routingKey = config.services.payments?.pagerduty?.routingKey;
    assert.ok(adapters.pagerduty && adapters.pagerdutyEvents && routingKey);

    const incident = await adapters.pagerduty.createIncident({
      title: 'payments: Cloud pods OOMKilled',
      serviceId: 'PWIXJZS',
      urgency: 'high',
      incidentKey: 'cloud-safety:INC-1',
    });
    const page = await adapters.pagerdutyEvents.trigger({
      routingKey: resolveSecret(routingKey, 'services.payments.pagerduty.routingKey', env),
      summary: 'payments breaker tripped',
      source: 'cloud-safety',
      severity: 'critical',
    });
    const early = await adapters.pagerduty.findByIncidentKey(page.dedupKey);
    ahead += 2000;
    const late = await adapters.pagerduty.findByIncidentKey(page.dedupKey);

    assert.equal((await adapters.pagerduty.getIncident(incident.id)).title, 'payments: Cloud pods OOMKilled');
    assert.deepEqual(early, []);
    assert.equal(late[0]?.title, 'payments breaker tripped');
    assert.deepEqual(
      world.pagerduty.server.incidents.map((i) => i.via),
      ['rest', 'events'],
    );
    assert.deepEqual(real, []);
  });
});
