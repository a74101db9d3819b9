// The ledger audit on real PostgreSQL: 200,000-row ledgers with a known number of each difference class.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ledgerAdapters, type PgLedger } from '../../src/adapters/ledger/index.ts';
import { SideSession } from '../../src/adapters/ledger/side.ts';
import type { DifferenceClass, Ledger, LedgerDifference } from '../../src/ledger.ts';
import { CHANNEL, makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { auditAll, hoursAgo, pgLedger, pgLedgerAt, spyLedger } from '../support/ledger.ts';
import {
  clonePair,
  dropPair,
  ledgerSection,
  plantInFlight,
  seededTemplates,
  type SeededPair,
  type Templates,
} from '../support/ledger-seed.ts';
import { adminQuery, testPostgres, type PgServer } from '../support/postgres.ts';
import { freePort } from '../support/redis.ts';

function byClass(differences: LedgerDifference[], cls: DifferenceClass): LedgerDifference[] {
  return differences.filter((d) => d.class === cls);
}

describe('ledger audit (real PostgreSQL, 200,000 rows)', function () {
  this.timeout(60_000);
  let server: PgServer;
  let tpl: Templates;
  let pair: SeededPair;
  let inFlight: string[];
  let ledger: PgLedger;
  let twins: SeededPair;
  const cleanup: (() => Promise<void>)[] = [];

  before(async () => {
    server = await testPostgres();
    tpl = await seededTemplates(server);
    pair = await clonePair(server, tpl.pair);
    inFlight = await plantInFlight(server, pair);
    ledger = pgLedger(server, pair);
    twins = await clonePair(server, { legacy: tpl.pair.legacy, cloud: tpl.pair.legacy, rows: tpl.pair.rows });
  });

  // The in-flight rows are "written just now": re-stamp them before each test, so a slow machine that takes over a
  // minute to reach a test does not age them out of the in-flight margin into real differences.
  beforeEach(async () => {
    await adminQuery(
      server.url(pair.cloud),
      `UPDATE public.ledger_entries SET updated_at = now() WHERE id IN (${inFlight.join(', ')})`,
    );
  });

  after(async () => {
    await ledger.close();
    for (const fn of cleanup.reverse()) await fn();
    await dropPair(server, pair);
    await dropPair(server, twins);
  });

  it('finds exactly the planted differences of every class in the 2 h window', async () => {
    const { result, differences } = await auditAll(ledger, hoursAgo(2));

    assert.deepEqual(result.counts, { ...tpl.planted.counts, in_flight: 2 });
    assert.equal(result.method, 'hash_record_extended');
    assert.equal(result.bulkDivergence, undefined);
    assert.ok(
      result.rows.legacy > 120_000 && result.rows.legacy < 150_000,
      `window rows ${result.rows.legacy}`,
    );
    assert.equal(
      result.rows.cloud - result.rows.legacy,
      6 + 2 - 4 + 1,
      'cloud: +6 new, +2 in flight, -4, +1 moved in',
    );
    assert.equal(result.rowsCompared, result.rows.legacy + result.rows.cloud);
    assert.deepEqual(
      byClass(differences, 'missing_in_legacy')
        .map((d) => d.key)
        .sort(),
      tpl.planted.missingInLegacy,
    );
    assert.deepEqual(
      byClass(differences, 'missing_in_cloud')
        .map((d) => d.key)
        .sort(),
      tpl.planted.missingInCloud,
    );
    const mismatched = Object.fromEntries(byClass(differences, 'mismatched').map((d) => [d.key, d.columns]));
    assert.deepEqual(mismatched, tpl.planted.mismatched);
    assert.deepEqual(
      byClass(differences, 'in_flight')
        .map((d) => d.key)
        .sort(),
      inFlight,
    );
    const partial = byClass(differences, 'partial').map((d) => `${d.side}:${d.key}:${d.columns.join(',')}`);
    assert.deepEqual(partial.sort(), [
      'cloud:150001:payload',
      'cloud:150003:payload',
      'cloud:150101:payload',
      'legacy:150001:payload',
      'legacy:150003:payload',
    ]);
    const invariant = byClass(differences, 'invariant').map((d) => `${d.side}:${d.key}`);
    assert.deepEqual(invariant.sort(), ['cloud:80001', 'cloud:80051', 'legacy:80001']);
    const group = byClass(differences, 'invariant').find((d) => d.key === '80051');
    assert.match(group?.detail ?? '', /debits 241\.69, credits 239\.69 over 2 entries/);
    // Full rows only for differing keys: the values are there for humans.
    const edited = byClass(differences, 'mismatched').find((d) => d.key === '130001');
    assert.equal(edited?.legacy?.memo, 'entry 130001');
    assert.equal(edited?.cloud?.memo, 'entry 130001 (edited)');
  });

  it('sees the old edit only when the window reaches back to it', async () => {
    const { result, differences } = await auditAll(ledger, hoursAgo(4));
    assert.deepEqual(result.counts, { ...tpl.planted.countsAllRows, in_flight: 2 });
    assert.deepEqual(byClass(differences, 'mismatched').find((d) => d.key === '1000')?.columns, ['memo']);
    assert.equal(result.rows.legacy, 200_000);
  });

  it('finds the same when buckets are cut from a page sample (small buckets, many of them)', async () => {
    const sampled = pgLedger(server, pair, { bucketRows: 5000 });
    cleanup.push(() => sampled.close());
    const { result } = await auditAll(sampled, hoursAgo(2));
    assert.deepEqual(result.counts, { ...tpl.planted.counts, in_flight: 2 });
    assert.ok(result.buckets > 15, `buckets ${result.buckets}`);
    assert.ok(result.differingBuckets < result.buckets, 'untouched buckets are never drilled');
    assert.match(result.notes.join(' '), /page sample/);
  });

  it('handles a text key (coarse buckets times hash slices) with the same result', async () => {
    const copy = `CREATE TABLE public.text_entries AS
                    SELECT 'k-' || lpad(id::text, 7, '0') AS id, txn_id, account, side, amount, currency, payload, memo, updated_at
                      FROM public.ledger_entries;
                  ALTER TABLE public.text_entries ADD PRIMARY KEY (id);
                  ANALYZE public.text_entries`;
    await adminQuery(server.url(pair.legacy), copy);
    await adminQuery(server.url(pair.cloud), copy);
    const text = pgLedger(server, pair, { table: 'public.text_entries', bucketRows: 5000 });
    cleanup.push(() => text.close());
    const { result, differences } = await auditAll(text, hoursAgo(2));
    assert.deepEqual(result.counts, { ...tpl.planted.counts, in_flight: 2 });
    assert.deepEqual(
      byClass(differences, 'missing_in_cloud')
        .map((d) => d.key)
        .sort(),
      tpl.planted.missingInCloud.map((k) => `k-${k.padStart(7, '0')}`),
    );
    assert.match(result.notes.join(' '), /page sample/);
  });

  it('reports bulk divergence instead of pulling rows once the differences pass the limit', async () => {
    const capped = pgLedger(server, pair, { maxDifferences: 5 });
    cleanup.push(() => capped.close());
    const { result, differences } = await auditAll(capped, hoursAgo(2));
    assert.ok(result.bulkDivergence, 'bulk divergence is reported');
    assert.ok(result.bulkDivergence.atLeast > 5);
    assert.equal(result.bulkDivergence.legacyRows, result.rows.legacy);
    assert.ok(differences.length <= 6, `fetched ${differences.length} rows, the limit is 5`);
    // What the audit stopped before searching to the end is "not checked", never a clean 0.
    assert.ok(result.unchecked.includes('missing_in_legacy'), `unchecked: ${result.unchecked.join(', ')}`);
    assert.ok(result.unchecked.includes('invariant'));
  });

  it('compares normalised text with md5 when the column types differ between the sides', async () => {
    // text -> varchar is a catalog-only change: no rewrite, and it is undone below.
    const cloudUrl = server.url(pair.cloud);
    await adminQuery(cloudUrl, 'ALTER TABLE public.ledger_entries ALTER COLUMN memo TYPE varchar(200)');
    try {
      const { result } = await auditAll(ledger, hoursAgo(2));
      assert.equal(result.method, 'md5');
      assert.deepEqual(result.counts, { ...tpl.planted.counts, in_flight: 2 });
      assert.match(result.notes.join(' '), /memo: text vs character varying\(200\)/);
    } finally {
      await adminQuery(cloudUrl, 'ALTER TABLE public.ledger_entries ALTER COLUMN memo TYPE text');
    }
  });

  it('says clean for identical ledgers, after one hashing pass per side', async () => {
    const clean = pgLedger(server, twins, { required: [], doubleEntry: undefined });
    cleanup.push(() => clean.close());
    const { result, differences } = await auditAll(clean, hoursAgo(4));
    assert.deepEqual(differences, []);
    assert.equal(result.differingBuckets, 0);
    assert.equal(result.rows.legacy, 200_000);
    assert.equal(result.rows.legacy, result.rows.cloud);
  });

  it('reads catalog, statistics and estimates in a few round trips per side before the scan', async () => {
    // Each round trip before the scan waits on the one before it; ~20 of them cost 0.1–0.3 s on a busy server.
    const before = { legacy: 0, cloud: 0 };
    const scanning = new Set<string>();
    const count = (session: SideSession, op: string) => {
      if (op === 'scan') scanning.add(session.side);
      if (
        !scanning.has(session.side) &&
        ['inspect', 'savepoint', 'estimate', 'stats', 'prescan'].includes(op)
      )
        before[session.side] += 1;
    };
    const query = SideSession.prototype.query;
    const batch = Object.getOwnPropertyDescriptor(SideSession.prototype, 'batch')?.value as
      typeof SideSession.prototype.batch | undefined;
    SideSession.prototype.query = function counted(this: SideSession, op, text, values) {
      count(this, op);
      return query.call(this, op, text, values);
    } as typeof query;
    if (batch)
      SideSession.prototype.batch = function counted(this: SideSession, op, statements) {
        count(this, op);
        return batch.call(this, op, statements);
      } as typeof batch;
    try {
      const { result } = await auditAll(ledger, hoursAgo(2));
      assert.ok(result.rows.legacy > 0);
    } finally {
      SideSession.prototype.query = query;
      if (batch) SideSession.prototype.batch = batch;
    }
    assert.ok(before.legacy <= 4 && before.cloud <= 4, JSON.stringify(before));
  });

  describe('faults name the side and never look like a clean result', () => {
    it('unreachable legacy', async () => {
      const port = await freePort();
      const unreachable = pgLedgerAt(`postgres://postgres@127.0.0.1:${port}/ledger`, server.url(pair.cloud));
      cleanup.push(() => unreachable.close());
      await assert.rejects(auditAll(unreachable, hoursAgo(2)), (err: Error & { service?: string }) => {
        assert.equal(err.service, 'legacy database');
        assert.match(
          err.message,
          new RegExp(`127\\.0\\.0\\.1:${port}/ledger as postgres is unreachable \\(ECONNREFUSED\\)`),
        );
        return true;
      });
    });

    it('a login the server rejects', async () => {
      const ghost = pgLedgerAt(server.url(pair.legacy), server.url(pair.cloud, 'cs_no_such_role'));
      cleanup.push(() => ghost.close());
      await assert.rejects(auditAll(ghost, hoursAgo(2)), (err: Error & { service?: string }) => {
        assert.equal(err.service, 'cloud database');
        assert.match(err.message, /rejected the login .*cs_no_such_role/);
        return true;
      });
    });

    it('a missing table on one side, a missing column on both', async () => {
      await adminQuery(
        server.url(pair.legacy),
        'CREATE TABLE public.only_legacy AS SELECT * FROM public.ledger_entries WHERE id <= 1000',
      );
      const missing = pgLedger(server, pair, { table: 'public.only_legacy' });
      const nocol = pgLedger(server, pair, { columns: ['memo', 'nope'] });
      cleanup.push(async () => {
        await missing.close();
        await nocol.close();
      });
      await assert.rejects(auditAll(missing, hoursAgo(4)), (err: Error & { service?: string }) => {
        assert.equal(err.service, 'cloud database');
        assert.match(err.message, /table public\.only_legacy does not exist/);
        return true;
      });
      await assert.rejects(auditAll(nocol, hoursAgo(2)), (err: Error) => {
        assert.match(err.message, /legacy: .*has no column "nope".* — cloud: .*has no column "nope"/);
        return true;
      });
    });

    it('a key that is not unique is reported as a duplicate', async () => {
      const copy = `CREATE TABLE public.dup_entries AS SELECT * FROM public.ledger_entries WHERE id <= 1000`;
      await adminQuery(
        server.url(pair.legacy),
        `${copy}; ALTER TABLE public.dup_entries ADD PRIMARY KEY (id)`,
      );
      await adminQuery(
        server.url(pair.cloud),
        `${copy}; INSERT INTO public.dup_entries SELECT * FROM public.dup_entries WHERE id = 500`,
      );
      const dup = pgLedger(server, pair, { table: 'public.dup_entries' });
      cleanup.push(() => dup.close());
      // Reported as a duplicate (once), never compared as if the two copies were one row.
      const { result, differences } = await auditAll(dup, hoursAgo(4));
      const dups = byClass(differences, 'duplicate');
      assert.deepEqual(
        dups.map((d) => [d.key, d.side]),
        [['500', 'cloud']],
      );
      assert.ok(!differences.some((d) => d.key === '500' && d.class !== 'duplicate'), 'reported once');
      assert.match(dups[0]?.detail ?? '', /2 rows on cloud have this key \(no unique index on the key\)/);
      assert.equal(result.counts.duplicate, 1);
    });

    it('a connection lost mid-audit fails the audit', async () => {
      let killed = 0;
      const result = ledger.audit({
        since: hoursAgo(2),
        inFlightMs: 60_000,
        onDifference: async () => {
          if (killed > 0) return;
          const rows = await adminQuery<{ ended: boolean }>(
            server.url('postgres'),
            `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
              WHERE datname = $1 AND application_name = 'cloud-safety-ledger' AND state <> 'idle'`,
            [pair.cloud],
          );
          killed = rows.filter((r) => r.ended).length;
        },
      });
      await assert.rejects(result, (err: Error & { service?: string }) => {
        assert.equal(err.service, 'cloud database');
        assert.match(err.message, /connection to .* was lost .*The audit FAILED: this is not a clean result/);
        return true;
      });
      assert.equal(killed, 1);
      // The pool recovers: the next audit works.
      const again = await auditAll(ledger, hoursAgo(2));
      assert.equal(again.result.counts.missing_in_legacy, 6);
    });
  });

  describe('/ledger audit through the bot', () => {
    let t: TestBot;
    let evidence: string;
    // Trust-auth servers ignore the password, so a planted one proves redaction; a server with a password of its
    // own (TEST_DATABASE_URL) needs the real one, and then that is what must never show.
    let secret: string;

    beforeEach(async () => {
      evidence = mkdtempSync(join(tmpdir(), 'cs-evidence-'));
      secret = server.password ?? 'pw-Zq81-never-shown';
      const env = {
        PAYMENTS_LEGACY_DB_URL: server.url(pair.legacy, server.user, secret),
        PAYMENTS_CLOUD_DB_URL: server.url(pair.cloud, server.user, secret),
      };
      const config = testConfig({
        evidence: { dir: evidence },
        services: {
          payments: { ledger: ledgerSection('PAYMENTS_LEGACY_DB_URL', 'PAYMENTS_CLOUD_DB_URL') },
          checkout: {},
        },
      });
      t = makeTestBot({ config, env });
      await t.command('alice', '/incident', 'declare payments');
    });

    afterEach(async () => {
      await t.bot.stop();
      await t.bot.deps.adapters.ledger?.close();
      rmSync(evidence, { recursive: true, force: true });
    });

    it('posts progress, then a summary with counts and samples, a CSV of every difference, and a timeline event', async function () {
      const replies = await t.command('alice', '/ledger', 'audit');
      assert.match(textOf(replies[0]), /Auditing payments's ledger since/);

      const posts = t.chat.sent.filter(
        (s) => s.kind === 'post' && /Ledger audit/.test(s.message?.text ?? ''),
      );
      assert.equal(posts.length, 1);
      const ref = { channel: CHANNEL, ts: posts[0]?.ts ?? '' };
      const edits = t.chat.sent
        .filter((s) => s.kind === 'update' && s.ts === ref.ts)
        .map((s) => s.message?.text ?? '');
      assert.ok(
        edits.some((e) => /: \d+%/.test(e)),
        `progress edits: ${edits.join(' | ')}`,
      );
      const summary = textOf(t.chat.latest(ref));
      assert.match(summary, /Ledger audit: payments — 26 differences/);
      assert.match(summary, /\*missing_in_legacy\* 6/);
      assert.match(summary, /`id=130001`: memo/);
      assert.match(summary, /\*invariant\* 3/);
      assert.match(summary, /… and 1 more in the CSV/);
      assert.match(summary, /rows\/s/);
      assert.match(summary, /Next: `\/ledger lock`/);
      assert.doesNotMatch(JSON.stringify(t.chat.sent) + t.logLines.join(''), new RegExp(secret));

      const events = await t.bot.deps.timeline.read('INC-1');
      const audited = events.find((e) => e.kind === 'ledger.audited');
      assert.ok(audited);
      assert.deepEqual(audited.data.counts, { ...tpl.planted.counts, in_flight: 2 });
      assert.equal(audited.step, 'O');
      const csvUri = String(audited.data.csv);
      const csv = readFileSync(csvUri.replace('file://', ''), 'utf8').trim().split('\r\n');
      assert.equal(csv[0], 'class,key,side,columns,detail,legacy,cloud');
      assert.equal(csv.length, 1 + 28);
      assert.ok(csvUri.includes(join(evidence, 'INC-1', 'ledger-audit-')));
      assert.ok(csv.some((line) => line.startsWith('mismatched,60001,both,memo;updated_at,')));
      assert.ok(t.chat.sent.some((s) => s.kind === 'upload' && s.threadTs === ref.ts));
      const incident = await t.bot.deps.incidents.get('INC-1');
      assert.equal(incident?.checklist.O.state, 'in_progress');
      assert.deepEqual(
        events.filter((e) => e.kind.startsWith('ledger.')).map((e) => e.kind),
        ['ledger.audit_started', 'ledger.audited'],
      );
    });

    it('refuses bad input with a message and touches no database', async () => {
      const spy = spyLedger();
      const config = testConfig({
        services: {
          payments: { ledger: ledgerSection('postgres://x@h/db', 'postgres://x@h/db') },
          checkout: {},
        },
      });
      const s = makeTestBot({
        config,
        adapters: { ledger: ledgerAdapters(new Map<string, Ledger>([['payments', spy]])) },
      });
      await s.command('alice', '/incident', 'declare payments');
      const cases: [string, RegExp][] = [
        [
          'audit since=banana',
          /since=banana is neither a duration nor an ISO time; write since= as a duration/,
        ],
        ['audit since=2999-01-01T00:00Z', /is in the future/],
        ['audit since=0m', /is zero/],
        ['audit checkout', /This channel's incident INC-1 is about payments, not checkout/],
        ['audit nosuch', /Unknown service "nosuch"/],
        ['audit depth=3', /Unknown option depth=\. Known options: since=/],
        ['lock since=1h', /Unknown option since=\. This command takes no options/],
        ['lock', /lock needs services\.payments\.ledger\.lock\.role/],
        ['frobnicate', /Unknown subcommand "frobnicate"/],
        ['', /Say what to do: audit, lock, unlock or reconcile/],
      ];
      for (const [text, expected] of cases) {
        const replies = await s.command('alice', '/ledger', text);
        assert.match(textOf(replies[0]), expected, text);
        assert.match(textOf(replies[0]), /\/ledger audit \[service\] \[since=/, `usage shown for ${text}`);
      }
      const elsewhere = await s.command('alice', '/ledger', 'audit', 'C0OTHER');
      assert.match(textOf(elsewhere[0]), /no active incident/);
      const checkoutOnly = makeTestBot({ config: testConfig() });
      await checkoutOnly.command('alice', '/incident', 'declare checkout');
      const unconfigured = await checkoutOnly.command('alice', '/ledger', 'audit');
      assert.match(
        textOf(unconfigured[0]),
        /checkout has no ledger configured\. Add services\.checkout\.ledger/,
      );
      assert.deepEqual(spy.calls, []);
      await s.bot.stop();
      await checkoutOnly.bot.stop();
    });

    it('marks step O done when the audit is clean', async () => {
      const config = testConfig({
        evidence: { dir: evidence },
        services: {
          payments: {
            ledger: {
              ...ledgerSection(server.url(twins.legacy), server.url(twins.cloud)),
              required: [],
              doubleEntry: undefined,
            },
          },
        },
      });
      const c = makeTestBot({ config });
      try {
        await c.command('alice', '/incident', 'declare payments');
        await c.command('alice', '/ledger', 'audit since=4h');
        const incident = await c.bot.deps.incidents.get('INC-1');
        assert.equal(incident?.checklist.O.state, 'done');
        const post = c.chat.sent.find((s) => s.kind === 'post' && /Ledger audit/.test(s.message?.text ?? ''));
        assert.match(textOf(c.chat.latest({ channel: CHANNEL, ts: post?.ts ?? '' })), /payments — clean/);
      } finally {
        await c.bot.stop();
        await c.bot.deps.adapters.ledger?.close();
      }
    });

    it('reports a failed audit as FAILED on the channel and the timeline', async () => {
      const config = testConfig({
        evidence: { dir: evidence },
        services: {
          payments: {
            ledger: ledgerSection(
              server.url(pair.legacy),
              `postgres://postgres@127.0.0.1:${await freePort()}/gone`,
            ),
          },
        },
      });
      const f = makeTestBot({ config });
      try {
        await f.command('alice', '/incident', 'declare payments');
        const replies = await f.command('alice', '/ledger', 'audit');
        assert.match(textOf(replies[1]), /The audit FAILED: cloud database: .* is unreachable/);
        const events = await f.bot.deps.timeline.read('INC-1');
        assert.ok(
          events.some((e) => e.kind === 'ledger.audit_failed' && /cloud database/.test(String(e.data.error))),
        );
        assert.ok(!events.some((e) => e.kind === 'ledger.audited'));
        const post = f.chat.sent.find((s) => s.kind === 'post' && /Ledger audit/.test(s.message?.text ?? ''));
        assert.match(
          textOf(f.chat.latest({ channel: CHANNEL, ts: post?.ts ?? '' })),
          /FAILED .*not a clean result/s,
        );
      } finally {
        await f.bot.stop();
        await f.bot.deps.adapters.ledger?.close();
      }
    });
  });
});
