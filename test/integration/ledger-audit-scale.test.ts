// The one-pass audit on real PostgreSQL: buckets from statistics, double-entry groups found in the scan, sides at once.
import assert from 'node:assert/strict';
import type { PgLedger } from '../../src/adapters/ledger/index.ts';
import type { LedgerDifference } from '../../src/ledger.ts';
import { auditAll, hoursAgo, pgLedger } from '../support/ledger.ts';
import {
  clonePair,
  dropPair,
  plantDifferences,
  seedIdenticalPair,
  seededTemplates,
  type SeededPair,
} from '../support/ledger-seed.ts';
import { adminQuery, testPostgres, type PgServer } from '../support/postgres.ts';

function keys(differences: LedgerDifference[], cls: LedgerDifference['class']): string[] {
  return differences
    .filter((d) => d.class === cls)
    .map((d) => `${d.side ?? ''}:${d.key}`)
    .sort();
}

describe('ledger audit at scale (real PostgreSQL)', function () {
  this.timeout(600_000);
  let server: PgServer;
  const cleanup: (() => Promise<void>)[] = [];

  before(async () => {
    server = await testPostgres();
  });

  after(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it('cuts buckets from the table statistics for a big window and still finds exactly what was planted', async () => {
    const pair = await seedIdenticalPair(server, 600_000, 'cs_stats');
    cleanup.push(() => dropPair(server, pair));
    const planted = await plantDifferences(server, pair);
    for (const db of [pair.legacy, pair.cloud])
      await adminQuery(server.url(db), 'ANALYZE public.ledger_entries');
    const ledger = pgLedger(server, pair);
    cleanup.push(() => ledger.close());

    const { result, differences } = await auditAll(ledger, hoursAgo(4));

    assert.match(result.notes.join(' '), /interpolated from the table statistics \(pg_stats\)/);
    assert.doesNotMatch(result.notes.join(' '), /page sample/);
    assert.deepEqual(result.counts, planted.countsAllRows);
    assert.equal(result.rows.legacy, 600_000);
    assert.deepEqual(
      keys(differences, 'missing_in_cloud'),
      planted.missingInCloud.map((k) => `:${k}`).sort(),
    );
    assert.ok(result.differingBuckets < result.buckets, 'untouched buckets are never drilled');
  });

  describe('on the 200,000-row templates', () => {
    let pair: SeededPair;
    let ledger: PgLedger;

    before(async () => {
      const tpl = await seededTemplates(server);
      pair = await clonePair(server, tpl.pair);
      ledger = pgLedger(server, pair);
    });

    after(async () => {
      await ledger.close();
      await dropPair(server, pair);
    });

    it('finds two groups off by opposite amounts in the same group range (a leg posted to the neighbour)', async () => {
      // 3.00 moves from txn 85001 to txn 85002 on cloud: the range's plain debit and credit totals still match.
      await adminQuery(
        server.url(pair.cloud),
        `UPDATE public.ledger_entries SET amount = amount - 3 WHERE id = 170001;
         UPDATE public.ledger_entries SET amount = amount + 3 WHERE id = 170003`,
      );
      const { result, differences } = await auditAll(ledger, hoursAgo(2));
      assert.deepEqual(keys(differences, 'invariant'), [
        'cloud:80001',
        'cloud:80051',
        'cloud:85001',
        'cloud:85002',
        'legacy:80001',
      ]);
      assert.equal(result.counts.invariant, 5);
    });

    it('finds half-written rows and unbalanced groups in cells whose hashes match on both sides', async () => {
      // The same damage on both sides: no cell differs, so only the scan's own counts can find it.
      for (const db of [pair.legacy, pair.cloud])
        await adminQuery(
          server.url(db),
          `UPDATE public.ledger_entries SET account = '   ' WHERE id = 175001;
           UPDATE public.ledger_entries SET side = 'debet' WHERE id = 176001`,
        );
      const { differences } = await auditAll(ledger, hoursAgo(2));
      const partial = keys(differences, 'partial');
      assert.ok(partial.includes('legacy:175001') && partial.includes('cloud:175001'), partial.join(' '));
      const invariant = keys(differences, 'invariant');
      assert.ok(invariant.includes('legacy:88001') && invariant.includes('cloud:88001'), invariant.join(' '));
      const group = differences.find((d) => d.class === 'invariant' && d.key === '88001');
      assert.match(group?.detail ?? '', /1 with no amount or a side other than debit\/credit/);
    });

    it('finds a group whose amounts balance but that holds a leg with no side or a side other than debit/credit', async () => {
      // Zero-amount legs leave every weighted sum as it was: only the scan's count of bad legs flags the ranges.
      for (const db of [pair.legacy, pair.cloud])
        await adminQuery(
          server.url(db),
          `ALTER TABLE public.ledger_entries ALTER COLUMN side DROP NOT NULL;
           INSERT INTO public.ledger_entries
           SELECT id, txn_id, account, s, 0, currency, payload, memo, now() - interval '30 minutes'
             FROM (VALUES (10000001, 89001, NULL), (10000002, 89101, 'memo')) AS v (id, txn_id, s),
                  LATERAL (SELECT account, currency, payload, memo FROM public.ledger_entries WHERE id = 1) AS r`,
        );
      const { differences } = await auditAll(ledger, hoursAgo(2));
      const invariant = keys(differences, 'invariant');
      for (const key of ['legacy:89001', 'cloud:89001', 'legacy:89101', 'cloud:89101'])
        assert.ok(invariant.includes(key), `${key} in ${invariant.join(' ')}`);
      for (const txn of ['89001', '89101'])
        assert.match(
          differences.find((d) => d.class === 'invariant' && d.key === txn)?.detail ?? '',
          /1 with no amount or a side other than debit\/credit/,
        );
    });

    it('finds a row whose only change is its timestamptz, by one microsecond', async () => {
      await adminQuery(
        server.url(pair.cloud),
        `UPDATE public.ledger_entries SET updated_at = updated_at + interval '1 microsecond' WHERE id = 177001`,
      );
      const { differences } = await auditAll(ledger, hoursAgo(2));
      const row = differences.find((d) => d.class === 'mismatched' && d.key === '177001');
      assert.deepEqual(row?.columns, ['updated_at']);
    });

    it('scans both sides at once, each in its own snapshot', async () => {
      // Polls the server while the audit runs: at some instant both sides' scans are running together.
      let together = false;
      let running = true;
      const poll = (async () => {
        while (running && !together) {
          const rows = await adminQuery<{ datname: string }>(
            server.url('postgres'),
            `SELECT DISTINCT datname FROM pg_stat_activity
              WHERE application_name = 'cloud-safety-ledger' AND datname = ANY($1) AND state = 'active'
                AND query LIKE '%AS cell%'`,
            [[pair.legacy, pair.cloud]],
          );
          if (rows.length === 2) together = true;
        }
      })();
      try {
        await auditAll(ledger, hoursAgo(2));
      } finally {
        running = false;
        await poll;
      }
      assert.ok(together, 'both sides were scanned at the same time');
    });
  });
});
