// /preflight on real Redis and a local Route 53 (records, TTL, health check, legacy health), with the ledger's CDC
// through Kafka Connect's REST API by nock, the breaker's state, and who else can approve.
import assert from 'node:assert/strict';
import nock from 'nock';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { CHANNEL, textOf } from '../support/bot.ts';
import {
  breakerBot,
  breakerConfig,
  nockConditions,
  paymentsRecords,
  startRoute53,
  type BreakerBot,
  type Route53Kit,
} from '../support/breaker.ts';
import { ledgerSection } from '../support/ledger-seed.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const CONNECT = 'http://connect.test:8083';
const ledger = {
  ledger: ledgerSection('postgres://x@127.0.0.1:1/legacy', 'postgres://x@127.0.0.1:1/cloud', {
    cdc: { kind: 'debezium', url: CONNECT, connector: 'ledger-cdc' },
  }),
};

function connectStatus(task: 'RUNNING' | 'FAILED') {
  return nock(CONNECT)
    .get('/connectors/ledger-cdc/status')
    .reply(200, {
      name: 'ledger-cdc',
      connector: { state: 'RUNNING', worker_id: '10.0.4.12:8083' },
      tasks: [
        task === 'RUNNING'
          ? { id: 0, state: 'RUNNING', worker_id: '10.0.4.12:8083' }
          : {
              id: 0,
              state: 'FAILED',
              worker_id: '10.0.4.12:8083',
              trace:
                'org.apache.kafka.connect.errors.ConnectException: replication slot "ledger" is active for PID 4211\n\tat io.debezium...',
            },
      ],
      type: 'source',
    });
}

describe('/preflight (real Redis, local Route 53)', () => {
  useNock();
  let store: RedisStore;
  let r53: Route53Kit | undefined;
  const bots: BreakerBot[] = [];

  beforeEach(async () => {
    store = await isolatedRedisStore();
  });

  afterEach(async () => {
    for (const b of bots.splice(0)) await b.bot.stop();
    await store.close();
    await r53?.server.stop();
    r53 = undefined;
  });

  async function setup(
    records = paymentsRecords({ legacy: 100, cloud: 0 }),
    config = breakerConfig({ payments: ledger }),
    healthy = 8,
  ): Promise<BreakerBot> {
    r53 = await startRoute53(records, healthy);
    const t = breakerBot({ store, config, r53 });
    bots.push(t);
    return t;
  }

  it('says ready when every check passes, and records the result on the incident', async () => {
    const t = await setup();
    await t.command('alice', '/incident', 'declare payments sev=4 re-migration');
    await t.command('alice', '/breaker', 'arm');
    const arm = (await t.bot.deps.approvals.listForIncident('INC-1')).find((a) => a.kind === 'breaker.arm');
    await t.click('bob', APPROVE_ACTION, arm?.id ?? '');
    connectStatus('RUNNING');
    nockConditions();
    const reply = textOf((await t.command('alice', '/preflight'))[0]);
    assert.match(reply, /Preflight payments: ready\n/);
    assert.match(reply, /Ready to migrate/);
    for (const line of [
      'PASS Weighted records exist and are well formed: Route 53 legacy 100 / cloud 0 (100% / 0%)',
      'PASS TTL ≤ maxTtl (60 s) on every record of the pair: legacy 60 s, cloud 60 s',
      'PASS Health check attached to the legacy record: health check c0ffee00-0000-4000-8000-00000000b001',
      'PASS Legacy is healthy: Route 53: healthy (health check c0ffee00-0000-4000-8000-00000000b001: 8 of 8 Route 53 health checkers report the legacy endpoint healthy)',
      'PASS CDC sync running, lag within bounds: connector ledger-cdc and its 1 task(s) RUNNING',
      'PASS An approver other than you is reachable: 2 approver(s) besides you: U0BOB, U0DAVE',
      "PASS Every breaker condition's query returns data for both stacks: 2 condition(s) answer: memory, 5xx; memory, 5xx for cloud only (no {stack} in the query, so legacy cannot be asked)",
    ]) {
      assert.ok(reply.includes(line), line);
    }
    assert.match(
      reply,
      /PASS Breaker armed: armed by alice \(approved by bob\) at 2026-11-26T10:00:00\.000Z; trips after 3 × 30s/,
    );
    const event = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'preflight.checked');
    assert.equal(event?.data.verdict, 'ready');
    assert.equal((event?.data.checks as unknown[]).length, 8);
    assert.ok(!r53?.server.requests.some((r) => r.method === 'POST'), 'preflight only reads');
  });

  it('checks every policy of the service for quorum + 1 eligible people and says who to add', async () => {
    const groups = { 'sre-oncall': ['U0ALICE', 'U0CAROL'], 'sre-leads': ['U0BOB', 'U0DAVE'] };
    const t = await setup(
      undefined,
      breakerConfig({
        payments: ledger,
        access: {
          groups: { ...groups, 'dba-leads': ['U0DAVE', 'U0CAROL'], 'ledger-owners': ['U0ALICE', 'U0DAVE'] },
          policies: [
            // 2 eligible for a quorum of 2: enough for alice, not for dave or carol asking.
            {
              name: 'ledger writes',
              kinds: ['ledger.reconcile', 'ledger.lock'],
              approvers: ['@dba-leads'],
              quorum: 2,
            },
            // Only alice and dave: alice's own request could never get 2 approvals.
            { name: 'unlock', kinds: ['ledger.unlock'], approvers: ['@ledger-owners'], quorum: 2 },
            { name: 'shifts', kinds: ['traffic.shift'], services: ['payments'], approvers: ['@sre-leads'] },
            { name: 'checkout only', services: ['checkout'], approvers: ['U0BOB'] },
          ],
        },
      }),
    );
    connectStatus('RUNNING');
    nockConditions();
    const reply = textOf((await t.command('alice', '/preflight', 'payments'))[0]);
    assert.match(reply, /Preflight payments: not_ready/);
    assert.match(
      reply,
      /FAIL Each action kind has quorum \+ 1 people who may approve it: "ledger writes" \(ledger\.lock, ledger\.reconcile\): quorum 2, 2 eligible of @dba-leads, needs 3; "unlock" \(ledger\.unlock\): quorum 2, 2 eligible of @ledger-owners, needs 3; "shifts" \(traffic\.shift\): quorum 1, 2 eligible of @sre-leads/,
    );
    assert.match(
      reply,
      /fix: add 1 more person\(s\) to @dba-leads for "ledger writes" \(or lower its quorum\), so ledger\.lock, ledger\.reconcile can be approved whoever of them asks; add 1 more person\(s\) to @ledger-owners for "unlock"/,
    );
    assert.doesNotMatch(reply, /checkout only/, 'a policy of another service is not this preflight');
  });

  it('fails TTL 300 and a missing health check, with how to fix each, and more', async () => {
    const t = await setup(
      paymentsRecords({ legacy: 100, cloud: 0, ttl: 300, healthCheck: false }),
      breakerConfig({ payments: ledger, access: { approvers: ['U0ALICE'] } }),
    );
    connectStatus('FAILED');
    nockConditions();
    const reply = textOf((await t.command('alice', '/preflight', 'payments', 'C0ANYWHERE'))[0]);
    assert.match(reply, /Preflight payments: not_ready/);
    assert.match(reply, /NOT ready/);
    assert.match(
      reply,
      /FAIL TTL ≤ maxTtl \(60 s\) on every record of the pair: legacy TTL 300 s, cloud TTL 300 s: after a trip, resolvers may keep sending clients to the cloud stack for up to 5m — fix: Lower the TTL of both records to 60 s at least 5m before the migration/,
    );
    assert.match(
      reply,
      /FAIL Health check attached to the legacy record: the legacy record \(SetIdentifier legacy\) has no health check: nothing tells the bot, or Route 53, that legacy is down — fix: Create a Route 53 health check on the legacy endpoint and set it as HealthCheckId of payments's legacy record/,
    );
    assert.match(
      reply,
      /WARN Legacy is healthy: Route 53: unchecked \(no health check attached to the legacy record\)/,
    );
    assert.match(
      reply,
      /FAIL CDC sync running, lag within bounds: task 0 is FAILED \(org\.apache\.kafka\.connect\.errors\.ConnectException: replication slot "ledger" is active for PID 4211\) — fix: Repair the sync before migrating/,
    );
    assert.match(reply, /FAIL Breaker armed: never armed — fix: \/breaker arm payments/);
    assert.match(
      reply,
      /FAIL An approver other than you is reachable: no approver other than you: canary start and a re-arm would wait forever — fix: Add a second person to access\.approvers/,
    );
  });

  it('fails when the weighted pair is missing or legacy is unhealthy, and warns without a ledger', async () => {
    const t = await setup(
      paymentsRecords().filter((r) => r.setIdentifier !== 'cloud'),
      breakerConfig(),
    );
    nockConditions();
    const missing = textOf((await t.command('carol', '/preflight', 'payments', 'C0ANYWHERE'))[0]);
    assert.match(
      missing,
      /FAIL Weighted records exist and are well formed: Route 53: no weighted api\.payments\.example\.com\. A record with SetIdentifier cloud "cloud" in zone Z0BREAKERPAYMENTS/,
    );
    assert.match(missing, /WARN CDC sync running, lag within bounds: no ledger section/);
    assert.doesNotMatch(missing, /TTL ≤ maxTtl/, 'no TTL verdict on records that could not be read');

    r53?.server.setRecords('Z0BREAKERPAYMENTS', paymentsRecords());
    r53?.server.setHealth('c0ffee00-0000-4000-8000-00000000b001', 1);
    nockConditions();
    const sick = textOf((await t.command('carol', '/preflight', 'payments', 'C0ANYWHERE'))[0]);
    assert.match(
      sick,
      /FAIL Legacy is healthy: Route 53: unhealthy \(health check c0ffee00-0000-4000-8000-00000000b001: 1 of 8 Route 53 health checkers/,
    );
    assert.match(sick, /fix: Fix legacy first/);
  });

  it('fails only the CDC check, naming the variable, when a ledger connection string is not set', async () => {
    const unset = {
      ledger: ledgerSection(
        { env: 'PAYMENTS_LEGACY_DB_URL' },
        { env: 'PAYMENTS_CLOUD_DB_URL' },
        {
          cdc: { kind: 'debezium', url: CONNECT, connector: 'ledger-cdc' },
        },
      ),
    };
    const t = await setup(paymentsRecords({ legacy: 100, cloud: 0 }), breakerConfig({ payments: unset }));
    nockConditions();
    const reply = textOf((await t.command('carol', '/preflight', 'payments', 'C0ANYWHERE'))[0]);
    assert.match(
      reply,
      /FAIL CDC sync running, lag within bounds: services\.payments\.ledger\.legacy names the environment variable PAYMENTS_LEGACY_DB_URL, which is not set/,
    );
    assert.match(reply, /PASS Weighted records exist and are well formed/, 'the other checks still ran');
  });

  it('refuses bad input with a message and calls nothing', async () => {
    const t = await setup();
    assert.match(
      textOf((await t.command('alice', '/preflight', 'payments checkout', CHANNEL))[0]),
      /\/preflight takes one service at most/,
    );
    assert.match(
      textOf((await t.command('alice', '/preflight', 'nosuch', CHANNEL))[0]),
      /Unknown service "nosuch"/,
    );
    assert.match(textOf((await t.command('alice', '/preflight', '', 'C0ANYWHERE'))[0]), /Name the service/);
    assert.match(
      textOf((await t.command('alice', '/preflight', 'verbose=1', CHANNEL))[0]),
      /Unknown option verbose=/,
    );
    assert.equal(r53?.server.requests.length, 0);
  });
});
