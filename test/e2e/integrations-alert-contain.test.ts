// A firing alert that may request /contain: the approval card is posted, and it still waits for a second person.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { integrationRoutes } from '../../flows/integrations/routes.ts';
import { startHealthServer } from '../../src/http.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { fakeClock, nockList, pair, trafficAdapters, ZONE } from '../support/aws.ts';
import { makeTestBot, testConfig, type TestBot } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const TOKEN = 'cs-hook-token-contain-1';
const CHANNEL = 'C0PAYMENTS';

function firing(fingerprint: string) {
  return {
    receiver: 'cloud-safety',
    status: 'firing',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'CloudPodsOOMKilled', service: 'payments' },
        annotations: { summary: 'cloud pods OOMKilled' },
        startsAt: '2026-11-26T10:00:00.000Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example.org:9090/graph',
        fingerprint,
      },
    ],
    groupLabels: { alertname: 'CloudPodsOOMKilled' },
    commonLabels: { service: 'payments' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.org:9093',
    version: '4',
    groupKey: '{}:{alertname="CloudPodsOOMKilled"}',
    truncatedAlerts: 0,
  };
}

describe('alerts that request /contain (real Redis, nock Route 53)', () => {
  useNock();
  let store: RedisStore;
  let t: TestBot;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    const config = testConfig({
      integrations: { token: { env: 'CS_API_TOKEN' } },
      services: {
        payments: {
          channel: CHANNEL,
          alerts: { match: { service: 'payments' }, requestContain: true },
          traffic: {
            route53: {
              hostedZoneId: ZONE,
              recordName: 'api.payments.example.com',
              recordType: 'A',
              legacy: 'legacy',
              cloud: 'cloud',
            },
          },
        },
      },
    });
    const clock = fakeClock();
    const kit = trafficAdapters(config, clock);
    const env = { CS_API_TOKEN: TOKEN };
    t = makeTestBot({ store, config, env, adapters: { traffic: kit.traffic }, now: clock.now });
    const started = await startHealthServer(integrationRoutes(t.bot.deps, env), 0, '127.0.0.1');
    server = started.server;
    base = `http://127.0.0.1:${started.port}`;
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.bot.stop();
    await store.close();
  });

  function post(body: unknown) {
    return fetch(`${base}/hooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
  }

  it('posts one approval card requested by Alertmanager, which nobody has approved', async () => {
    nockList(pair());
    const res = await post(firing('0a0a0a0a0a0a0a0a'));
    assert.equal(res.status, 200);
    await t.bot.idle();
    const actions = await t.bot.deps.approvals.listForIncident('INC-1');
    assert.equal(actions.length, 1);
    assert.equal(actions[0]?.state, 'requested');
    assert.equal(actions[0]?.requester.name, 'Alertmanager');
    assert.match(actions[0]?.summary ?? '', /Shift payments to legacy 100%/);

    // A second alert on the same incident asks for nothing more (no Route 53 read is mocked).
    await post(firing('0b0b0b0b0b0b0b0b'));
    await t.bot.idle();
    assert.equal((await t.bot.deps.approvals.listForIncident('INC-1')).length, 1);
  });
});
