// CDC health against a real logical replication setup (throwaway server, wal_level=logical), and Debezium via nock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { LedgerConfig } from '../../src/config.ts';
import { PgLedger } from '../../src/adapters/ledger/index.ts';
import { createMetrics } from '../../src/metrics.ts';
import { CHANNEL, makeTestBot, memoryLogger, testConfig, textOf } from '../support/bot.ts';
import { auditAll, hoursAgo } from '../support/ledger.ts';
import { ledgerSection, seedIdenticalPair, type SeededPair } from '../support/ledger-seed.ts';
import { useNock } from '../support/nock.ts';
import { adminQuery, startPostgres, type PgServer } from '../support/postgres.ts';

const PASSWORD = 'cdc-Pw-7731-secret';

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function ledgerWith(
  legacy: string,
  cloud: string,
  extra: Record<string, unknown>,
  env: Record<string, string> = {},
) {
  const config = LedgerConfig.parse(ledgerSection(legacy, cloud, extra));
  const auth =
    config.cdc?.kind === 'debezium' && config.cdc.auth && typeof config.cdc.auth === 'object'
      ? env[config.cdc.auth.env]
      : undefined;
  return new PgLedger({
    service: 'payments',
    config,
    legacy,
    cloud,
    metrics: createMetrics({ defaults: false }),
    log: memoryLogger().log,
    ...(auth ? { debeziumAuth: auth } : {}),
  });
}

describe('ledger CDC health (real logical replication)', function () {
  this.timeout(60_000);
  let server: PgServer;
  let pair: SeededPair;

  before(async function () {
    try {
      server = await startPostgres({ password: PASSWORD });
    } catch (err) {
      // Without PostgreSQL binaries to start a wal_level=logical server there is no real replication to check.
      console.warn(`skipping real CDC tests: ${(err as Error).message}`);
      this.skip();
    }
    pair = await seedIdenticalPair(server, 1000, 'cs_cdc');
    const cloud = server.url(pair.cloud);
    await adminQuery(cloud, 'CREATE PUBLICATION cs_pub FOR TABLE public.ledger_entries');
    // Publisher and subscriber share a cluster: the slot must exist before the subscription (create_slot = false).
    await adminQuery(cloud, `SELECT pg_create_logical_replication_slot('cs_sub', 'pgoutput')`);
    await adminQuery(
      server.url(pair.legacy),
      `CREATE SUBSCRIPTION cs_sub
         CONNECTION 'host=127.0.0.1 port=${server.port} dbname=${pair.cloud} user=postgres password=${PASSWORD}'
         PUBLICATION cs_pub WITH (create_slot = false, slot_name = 'cs_sub', copy_data = false)`,
    );
  });

  after(async () => {
    if (!server) return;
    const legacy = server.url(pair.legacy);
    await adminQuery(legacy, 'ALTER SUBSCRIPTION cs_sub DISABLE').catch(() => {});
    await adminQuery(legacy, 'ALTER SUBSCRIPTION cs_sub SET (slot_name = NONE)').catch(() => {});
    await adminQuery(legacy, 'DROP SUBSCRIPTION IF EXISTS cs_sub').catch(() => {});
    await server.stop();
  });

  const subscription = { kind: 'pg-subscription', subscription: 'cs_sub', subscriber: 'legacy' };

  it('reports a running subscription as healthy once rows flow from cloud to legacy', async () => {
    const ledger = ledgerWith(server.url(pair.legacy), server.url(pair.cloud), { cdc: subscription });
    try {
      await adminQuery(
        server.url(pair.cloud),
        `INSERT INTO public.ledger_entries VALUES
           (5001, 9001, 'acct-x', 'debit', 1, 'EUR', '{"ref": "x1"}', 'via cdc', now() - interval '5 minutes'),
           (5002, 9001, 'acct-x', 'credit', 1, 'EUR', '{"ref": "x2"}', 'via cdc', now() - interval '5 minutes')`,
      );
      await until('the row to replicate', async () => {
        const rows = await adminQuery(
          server.url(pair.legacy),
          'SELECT 1 FROM public.ledger_entries WHERE id = 5001',
        );
        return rows.length > 0 ? true : undefined;
      });
      const health = await until('caught up', async () => {
        const h = await ledger.cdcHealth();
        return h?.healthy && h.lagBytes === 0 ? h : undefined;
      });
      assert.equal(health.kind, 'pg-subscription');
      assert.match(health.detail, /subscription cs_sub \(cloud → legacy\) running, 0 bytes behind/);
      assert.equal(health.lagSeconds, 0);
    } finally {
      await ledger.close();
    }
  });

  it('loudly reports a stopped subscription, an inactive slot and its growing lag', async () => {
    const ledger = ledgerWith(server.url(pair.legacy), server.url(pair.cloud), { cdc: subscription });
    const slot = ledgerWith(server.url(pair.legacy), server.url(pair.cloud), {
      cdc: { kind: 'pg-slot', slot: 'cs_sub', on: 'cloud', maxLagBytes: 1 },
    });
    try {
      await adminQuery(server.url(pair.legacy), 'ALTER SUBSCRIPTION cs_sub DISABLE');
      await until('the slot to go inactive', async () => {
        const rows = await adminQuery<{ active: boolean }>(
          server.url(pair.cloud),
          `SELECT active FROM pg_replication_slots WHERE slot_name = 'cs_sub'`,
        );
        return rows[0]?.active === false ? true : undefined;
      });
      await adminQuery(
        server.url(pair.cloud),
        `INSERT INTO public.ledger_entries
         SELECT 6000 + i, 9500 + (i + 1) / 2, 'acct-y', CASE WHEN i % 2 = 1 THEN 'debit' ELSE 'credit' END, 1, 'EUR',
                jsonb_build_object('ref', 'y' || i), 'stuck', now() - interval '5 minutes'
           FROM generate_series(1, 50) i`,
      );
      const health = await ledger.cdcHealth();
      assert.equal(health?.healthy, false);
      assert.match(
        health?.detail ?? '',
        /subscription cs_sub on legacy is disabled; slot cs_sub on cloud is not active/,
      );
      assert.ok((health?.lagBytes ?? 0) > 0, 'lag in bytes is measured on the publisher');
      const slotHealth = await slot.cdcHealth();
      assert.equal(slotHealth?.healthy, false);
      assert.match(
        slotHealth?.detail ?? '',
        /slot cs_sub on cloud is not active .*; slot cs_sub on cloud is \d+ bytes behind \(limit 1 bytes\)/,
      );
    } finally {
      await ledger.close();
      await slot.close();
    }
  });

  it('puts the CDC warning on the audit summary and the timeline', async () => {
    const env = {
      LEGACY_DB_URL: server.url(pair.legacy),
      CLOUD_DB_URL: server.url(pair.cloud),
    };
    const evidence = mkdtempSync(join(tmpdir(), 'cs-evidence-'));
    const config = testConfig({
      evidence: { dir: evidence },
      services: {
        payments: { ledger: ledgerSection('LEGACY_DB_URL', 'CLOUD_DB_URL', { cdc: subscription }) },
      },
    });
    const t = makeTestBot({ config, env });
    try {
      await t.command('alice', '/incident', 'declare payments');
      await t.command('alice', '/ledger', 'audit since=4h');
      const post = t.chat.sent.find((s) => s.kind === 'post' && /Ledger audit/.test(s.message?.text ?? ''));
      const summary = textOf(t.chat.latest({ channel: CHANNEL, ts: post?.ts ?? '' }));
      assert.match(
        summary,
        /CDC is not healthy\* \(pg-subscription\): subscription cs_sub on legacy is disabled/,
      );
      assert.match(summary, /Rolled-back cloud writes will NOT flow back to legacy/);
      assert.match(summary, /\*missing_in_legacy\* 50/);
      const events = await t.bot.deps.timeline.read('INC-1');
      const audited = events.find((e) => e.kind === 'ledger.audited');
      assert.equal((audited?.data.cdc as { healthy: boolean }).healthy, false);
      assert.match(audited?.summary ?? '', /CDC NOT HEALTHY/);
      assert.equal((await t.bot.deps.incidents.get('INC-1'))?.checklist.O.state, 'in_progress');
      assert.doesNotMatch(JSON.stringify(t.chat.sent) + t.logLines.join(''), new RegExp(PASSWORD));
    } finally {
      await t.bot.stop();
      await t.bot.deps.adapters.ledger?.close();
      rmSync(evidence, { recursive: true, force: true });
    }
  });

  it('names the side and never shows the password when credentials are wrong', async () => {
    const wrong = 'not-the-Pw-4471';
    const ledger = ledgerWith(server.url(pair.legacy), server.url(pair.cloud, 'postgres', wrong), {});
    try {
      await assert.rejects(auditAll(ledger, hoursAgo(2)), (err: Error & { service?: string }) => {
        assert.equal(err.service, 'cloud database');
        assert.match(
          err.message,
          /refused the password \(wrong credentials\)\. Fix the secret the config names for ledger\.cloud/,
        );
        assert.doesNotMatch(err.message, new RegExp(`${wrong}|${PASSWORD}`));
        return true;
      });
    } finally {
      await ledger.close();
    }
  });
});

describe('ledger CDC health (Debezium through Kafka Connect REST)', () => {
  useNock();
  const base = 'http://connect.internal:8083';
  const env = { CONNECT_AUTH: 'cdc:connect-pass' };
  const cdc = { kind: 'debezium', url: base, connector: 'ledger-cdc', auth: { env: 'CONNECT_AUTH' } };
  const basic = `Basic ${Buffer.from(env.CONNECT_AUTH).toString('base64')}`;
  // Never connected: the Debezium check does not touch the databases.
  const ledger = () => ledgerWith('postgres://x@127.0.0.1:1/l', 'postgres://x@127.0.0.1:1/c', { cdc }, env);

  it('is healthy when the connector and every task are RUNNING', async () => {
    nock(base)
      .get('/connectors/ledger-cdc/status')
      .matchHeader('authorization', basic)
      .reply(200, {
        name: 'ledger-cdc',
        connector: { state: 'RUNNING', worker_id: '10.0.4.12:8083' },
        tasks: [{ id: 0, state: 'RUNNING', worker_id: '10.0.4.12:8083' }],
        type: 'source',
      });
    const health = await ledger().cdcHealth();
    assert.deepEqual(health, {
      kind: 'debezium',
      healthy: true,
      detail: 'connector ledger-cdc and its 1 task(s) RUNNING',
    });
  });

  it('names a failed task with the first line of its trace', async () => {
    nock(base)
      .get('/connectors/ledger-cdc/status')
      .reply(200, {
        name: 'ledger-cdc',
        connector: { state: 'RUNNING', worker_id: '10.0.4.12:8083' },
        tasks: [
          {
            id: 0,
            state: 'FAILED',
            worker_id: '10.0.4.12:8083',
            trace:
              'org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer.\n\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:50)',
          },
        ],
        type: 'source',
      });
    const health = await ledger().cdcHealth();
    assert.equal(health?.healthy, false);
    assert.equal(
      health?.detail,
      'task 0 is FAILED (org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer.)',
    );
  });

  it('is unhealthy for an unknown connector or an unreachable Kafka Connect', async () => {
    nock(base)
      .get('/connectors/ledger-cdc/status')
      .reply(404, { error_code: 404, message: 'No status found for connector ledger-cdc' });
    const missing = await ledger().cdcHealth();
    assert.equal(missing?.healthy, false);
    assert.equal(
      missing?.detail,
      'Kafka Connect answered 404 for connector ledger-cdc: No status found for connector ledger-cdc',
    );
    nock(base).get('/connectors/ledger-cdc/status').replyWithError('connect ECONNREFUSED 10.0.4.12:8083');
    const down = await ledger().cdcHealth();
    assert.equal(down?.healthy, false);
    assert.match(down?.detail ?? '', /could not reach Kafka Connect for connector ledger-cdc/);
  });
});
