// The ledger's pure parts: since= parsing, the config section, SQL quoting, error wording, CSV fields, views.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLedgerAdapters } from '../../src/adapters/ledger/index.ts';
import { compareC } from '../../src/adapters/ledger/audit.ts';
import { describeTarget, sideError } from '../../src/adapters/ledger/side.ts';
import {
  canonicalValue,
  emptyPredicate,
  hashableAlike,
  ident,
  parseTableName,
  qualified,
  rowHash,
  textArray,
  toleratedDifference,
  type ColumnInfo,
} from '../../src/adapters/ledger/sql.ts';
import { auditSummaryMessage } from '../../flows/ledger/blocks.ts';
import { parseConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { parseSince, zeroCounts, type AuditResult } from '../../src/ledger.ts';
import { csvField, openCsvEvidence } from '../../flows/ledger/csv.ts';
import { createMetrics } from '../../src/metrics.ts';
import { makeTestBot, memoryLogger, testConfig, textOf } from '../support/bot.ts';
import { ledgerSection } from '../support/ledger-seed.ts';

const NOW = new Date('2026-05-20T12:00:00Z');

function config(ledger: Record<string, unknown>) {
  return parseConfig(
    { access: { responders: ['*'], approvers: ['*'] }, services: { payments: { ledger } } },
    'cloud-safety.yml',
  );
}

describe('ledger: since=', () => {
  it('reads durations back from now and ISO times (UTC when no zone is given)', () => {
    assert.deepEqual(parseSince('30m', NOW), { since: new Date('2026-05-20T11:30:00Z') });
    assert.deepEqual(parseSince('1h30m', NOW), { since: new Date('2026-05-20T10:30:00Z') });
    assert.deepEqual(parseSince('2026-05-20T09:30Z', NOW), { since: new Date('2026-05-20T09:30:00Z') });
    assert.deepEqual(parseSince('2026-05-20T09:30', NOW), { since: new Date('2026-05-20T09:30:00Z') });
    assert.deepEqual(parseSince('2026-05-20T11:30:00+02:00', NOW), {
      since: new Date('2026-05-20T09:30:00Z'),
    });
    assert.deepEqual(parseSince('2026-05-19', NOW), { since: new Date('2026-05-19T00:00:00Z') });
  });

  it('says how to write it when it is wrong', () => {
    const error = (text: string) => {
      const parsed = parseSince(text, NOW);
      return 'error' in parsed ? parsed.error : '';
    };
    assert.match(
      error('yesterday'),
      /since=yesterday is neither a duration nor an ISO time; write since= as a duration back from now \(30m, 2h, 1h30m\) or an ISO time/,
    );
    assert.match(error('2026-13-45T99:00Z'), /is not a real time/);
    assert.match(error('2026-05-21T00:00Z'), /is in the future/);
    assert.match(error('0h'), /is zero/);
    assert.match(error('100d'), /over 90 days/);
    assert.match(error(''), /since= is empty/);
    assert.match(error("1h'; DROP TABLE x"), /neither a duration nor an ISO time/);
  });

  it('caps an ISO time at 90 days back, like a duration', () => {
    const error = (text: string) => {
      const parsed = parseSince(text, NOW);
      return 'error' in parsed ? parsed.error : '';
    };
    assert.match(
      error('2025-01-01T00:00Z'),
      /since=2025-01-01T00:00Z is over 90 days ago; audit a shorter window/,
    );
    assert.match(error('2026-02-19'), /over 90 days ago/);
    assert.deepEqual(parseSince('2026-02-20T12:00Z', NOW), { since: new Date('2026-02-20T12:00:00Z') });
  });
});

describe('ledger: config section', () => {
  it('applies defaults', () => {
    const parsed = config(ledgerSection('LEGACY_DB_URL', { env: 'CLOUD_DB_URL' }));
    const ledger = parsed.services.payments?.ledger;
    assert.equal(ledger?.window, 2 * 3_600_000);
    assert.equal(ledger?.bucketRows, 50_000);
    assert.equal(ledger?.maxDifferences, 10_000);
    assert.equal(ledger?.doubleEntry?.debit, 'debit');
  });

  it('names the path of every mistake', () => {
    const bad = (ledger: Record<string, unknown>) => {
      try {
        config(ledger);
        return '';
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
    };
    assert.match(
      bad({ ...ledgerSection('L', 'C'), columns: ['id', 'memo'] }),
      /services\.payments\.ledger\.columns: the key identifies a row and is not one of the compared columns/,
    );
    assert.match(
      bad({ ...ledgerSection('L', 'C'), table: 'a.b.c' }),
      /services\.payments\.ledger\.table: a table name, optionally schema-qualified/,
    );
    assert.match(
      bad({ ...ledgerSection('L', 'C'), legacy: 'mysql://x' }),
      /services\.payments\.ledger\.legacy: a postgres:\/\/ URL/,
    );
    assert.match(
      bad({ ...ledgerSection('L', 'C'), cdc: { kind: 'kafka' } }),
      /services\.payments\.ledger\.cdc\.kind/,
    );
    assert.match(
      bad({ ...ledgerSection('L', 'C'), window: 'soon' }),
      /services\.payments\.ledger\.window: "soon" is not a duration/,
    );
    assert.match(
      bad({ ...ledgerSection('L', 'C'), lock: { role: 'a.b' } }),
      /services\.payments\.ledger\.lock\.role: a column or role name/,
    );
  });

  it('reads connection strings from the environment and says which variable is missing', () => {
    const parsed = config(ledgerSection('PAYMENTS_LEGACY_DB_URL', { env: 'PAYMENTS_CLOUD_DB_URL' }));
    const { log } = memoryLogger();
    const missing = buildLedgerAdapters(
      parsed,
      { PAYMENTS_LEGACY_DB_URL: 'postgres://u@h/db' },
      createMetrics({ defaults: false }),
      log,
    );
    const notSet =
      /services\.payments\.ledger\.cloud names the environment variable PAYMENTS_CLOUD_DB_URL, which is not set/;
    // check() is what Slack modes run at start; get() is what a command hits in console mode.
    assert.throws(() => missing?.check(), notSet);
    assert.throws(() => missing?.get('payments'), notSet);
    const adapters = buildLedgerAdapters(
      parsed,
      {
        PAYMENTS_LEGACY_DB_URL: 'postgres://app:pw@legacy.db:5433/ledger',
        PAYMENTS_CLOUD_DB_URL: 'postgres://app:pw@cloud.db/ledger',
      },
      createMetrics({ defaults: false }),
      log,
    );
    assert.equal(
      adapters?.get('payments')?.describe(),
      'public.ledger_entries on legacy legacy.db:5433/ledger as app and cloud cloud.db:5432/ledger as app',
    );
    assert.equal(adapters?.get('checkout'), undefined);
  });
});

describe('ledger: command checks before connections', () => {
  it('names a bad since= even when a connection string is not set, then the missing variable', async () => {
    const config = testConfig({
      services: {
        payments: {
          ledger: ledgerSection({ env: 'PAYMENTS_LEGACY_DB_URL' }, { env: 'PAYMENTS_CLOUD_DB_URL' }),
        },
      },
    });
    const t = makeTestBot({ config, env: {} });
    await t.command('alice', '/incident', 'declare payments');

    const bad = await t.command('alice', '/ledger', 'audit since=yesterday');
    const unset = await t.command('alice', '/ledger', 'audit since=2h');

    assert.match(textOf(bad[0]), /since=yesterday is neither a duration nor an ISO time/);
    assert.match(textOf(unset[0]), /PAYMENTS_LEGACY_DB_URL, which is not set/);
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.deepEqual(kinds, ['incident.declared'], 'nothing was started');
  });

  it('refuses an ISO since= more than 90 days back before touching a database', async () => {
    const config = testConfig({
      services: {
        payments: {
          ledger: ledgerSection({ env: 'PAYMENTS_LEGACY_DB_URL' }, { env: 'PAYMENTS_CLOUD_DB_URL' }),
        },
      },
    });
    const t = makeTestBot({ config, env: {} });
    await t.command('alice', '/incident', 'declare payments');

    const old = await t.command('alice', '/ledger', 'audit since=2001-01-01T00:00Z');

    assert.match(textOf(old[0]), /since=2001-01-01T00:00Z is over 90 days ago; audit a shorter window/);
    assert.doesNotMatch(textOf(old[0]), /PAYMENTS_LEGACY_DB_URL/, 'no connection was resolved');
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.deepEqual(kinds, ['incident.declared'], 'nothing was started');
  });
});

describe('ledger: SQL text', () => {
  it('quotes every identifier from the config', () => {
    assert.equal(ident('memo'), '"memo"');
    assert.equal(ident('we"ird; DROP TABLE x'), '"we""ird; DROP TABLE x"');
    assert.equal(qualified(parseTableName('Ledger.Entries')), '"Ledger"."Entries"');
    assert.equal(qualified(parseTableName('entries')), '"entries"');
  });

  it('writes a text[] parameter as an array literal, every element quoted, so no key is read as NULL or split', () => {
    assert.equal(textArray([]), '{}');
    assert.equal(textArray(['19', '220']), '{"19","220"}');
    assert.equal(
      textArray(['NULL', 'a,b', '{c}', ' d ', 'e"f', 'g\\h', '']),
      '{"NULL","a,b","{c}"," d ","e\\"f","g\\\\h",""}',
    );
  });

  const col = (name: string, baseName: string, category: string, extra: Partial<ColumnInfo> = {}) =>
    ({
      name,
      type: baseName,
      baseName,
      category,
      generated: false,
      identity: false,
      fixedWidth: false,
      builtin: true,
      kind: 'b',
      precision: 6,
      order: category === 'S' ? 'bytewise' : 'none',
      deterministic: true,
      collation: category === 'S' ? 'C' : '',
      ...extra,
    }) satisfies ColumnInfo;

  it('hashes rows with hash_record_extended, or canonical values and md5', () => {
    const cols = [col('amount', 'numeric', 'N'), col('payload', 'json', 'U')];
    assert.equal(
      rowHash(cols, 'hash_record_extended', []),
      'hash_record_extended(ROW("amount", "payload"), 0)',
    );
    // Columns with a direct extended hash are hashed by that call (seeded by position, NULL as the seed); the
    // rest go through one record hash, and the parts are XORed.
    const ts = col('updated_at', 'timestamptz', 'D');
    assert.equal(
      rowHash([...cols, ts], 'hash_record_extended', [], new Map([['amount', 'hash_numeric_extended']])),
      '(coalesce(hash_numeric_extended("amount", 1), 1) # hash_record_extended(ROW("payload", "updated_at"), 0))',
    );
    // A timestamptz reaches its opclass's function (which takes timestamp) through a cast, the identity in UTC.
    assert.equal(
      rowHash([ts], 'hash_record_extended', [], new Map([['updated_at', 'timestamp_hash_extended']])),
      'coalesce(timestamp_hash_extended("updated_at"::timestamp, 1), 1)',
    );
    assert.equal(
      rowHash(cols, 'hash_record_extended', [], new Map([['amount', 'pg_catalog.evil"fn']])),
      'hash_record_extended(ROW("amount", "payload"), 0)',
    );
    assert.equal(
      rowHash(cols, 'md5', ['a', 'b']),
      `('x' || substr(md5(concat_ws(',', quote_nullable(a), quote_nullable(b))), 1, 16))::bit(64)::bigint`,
    );
    assert.equal(emptyPredicate(col('memo', 'text', 'S')), `("memo" IS NULL OR btrim("memo"::text) = '')`);
    assert.equal(emptyPredicate(col('n', 'int8', 'N')), '("n" IS NULL)');
    assert.match(emptyPredicate(col('p', 'jsonb', 'U')), /'\{\}'::jsonb, '\[\]'::jsonb, 'null'::jsonb/);
  });

  it('uses the binary hash only for the same built-in type with bytewise equality on both sides', () => {
    const side = col('side', 'side_kind', 'E', { kind: 'e', builtin: false });
    assert.equal(hashableAlike(col('n', 'int8', 'N'), col('n', 'int8', 'N')), true);
    assert.equal(hashableAlike(side, side), false, 'an enum hashes by ids of its own database');
    assert.equal(hashableAlike(col('n', 'int8', 'N'), col('n', 'numeric', 'N')), false);
    const icu = col('k', 'text', 'S', { order: 'locale', deterministic: false, collation: 'ci' });
    assert.equal(hashableAlike(icu, icu), false, 'a nondeterministic collation hashes by sort key');
  });

  it('reads each type family the same way on both sides', () => {
    const ts = col('at', 'timestamp', 'D', { type: 'timestamp(3) without time zone', precision: 3 });
    const tz = col('at', 'timestamptz', 'D', { type: 'timestamp with time zone' });
    assert.equal(canonicalValue(ts, tz, 150000), `(("at")::timestamptz(3) AT TIME ZONE 'UTC')::text`);
    assert.equal(canonicalValue(tz, ts, 150000), `(("at")::timestamptz(3) AT TIME ZONE 'UTC')::text`);
    assert.equal(
      canonicalValue(col('n', 'int8', 'N'), col('n', 'numeric', 'N'), 150000),
      'trim_scale(("n")::numeric)::text',
    );
    assert.match(canonicalValue(col('n', 'numeric', 'N'), col('n', 'int8', 'N'), 120000), /regexp_replace/);
    assert.match(canonicalValue(col('p', 'json', 'U'), col('p', 'jsonb', 'U'), 150000), /::jsonb::text/);
    const uuid = col('k', 'uuid', 'U');
    assert.equal(canonicalValue(col('k', 'text', 'S'), uuid, 150000), 'lower(("k")::text)');
    assert.equal(
      canonicalValue(col('c', 'text', 'S'), col('c', 'bpchar', 'S'), 150000),
      `rtrim(("c")::text, ' ')`,
    );
    assert.match(toleratedDifference(ts, tz) ?? '', /compared as UTC instants; legacy keeps milliseconds/);
    assert.equal(toleratedDifference(tz, tz), undefined);
  });

  it('orders keys as COLLATE "C" does (UTF-8 bytes), not as JavaScript does', () => {
    assert.ok(compareC('a', 'b') < 0);
    assert.ok(compareC('Z', 'a') < 0);
    // A surrogate pair (U+1F600) sorts before U+FFFD in UTF-16 code units, after it in UTF-8 bytes.
    assert.ok('\u{1F600}' < '\uFFFD');
    assert.ok(compareC('\u{1F600}', '\uFFFD') > 0);
  });
});

describe('ledger: errors and secrets', () => {
  it('describes a target without its password, whatever the connection string form', () => {
    assert.equal(
      describeTarget('postgres://app:s3cret@db.internal:6432/ledger?sslmode=require'),
      'db.internal:6432/ledger as app',
    );
    assert.equal(
      describeTarget("host=db.internal port=5433 dbname=ledger user=app password='s3cret'"),
      'db.internal:5433/ledger as app',
    );
    assert.doesNotMatch(describeTarget('postgres://app:s3cret@db/ledger'), /s3cret/);
  });

  it('maps driver and server errors to messages that name the side and say what to do', () => {
    const msg = (err: unknown) => sideError('cloud', 'db:5432/ledger as app', err);
    assert.match(
      msg({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }).message,
      /db:5432\/ledger as app is unreachable \(ECONNREFUSED\)/,
    );
    assert.match(
      msg({ code: '28P01', message: 'password authentication failed for user "app"' }).message,
      /refused the password \(wrong credentials\)\. Fix the secret the config names for ledger\.cloud/,
    );
    assert.match(
      msg({ code: '57P01', message: 'terminating connection due to administrator command' }).message,
      /was lost .*The audit FAILED/,
    );
    assert.match(msg(new Error('Connection terminated unexpectedly')).message, /was lost/);
    assert.match(
      msg({ code: '42501', message: 'permission denied for table ledger' }).message,
      /docs\/ledger\.md lists the privileges/,
    );
    assert.equal(msg({ code: '3D000', message: 'database "x" does not exist' }).service, 'cloud database');
    const limits = { lockTimeoutMs: 5000, statementTimeoutMs: 20 * 60_000 };
    assert.match(
      sideError(
        'legacy',
        'db',
        { code: '57014', message: 'canceling statement due to statement timeout' },
        limits,
      ).message,
      /ran longer than ledger\.statementTimeout \(20m\) .*FAILED: this is not a clean result.*shorter window/,
    );
    assert.match(
      sideError('legacy', 'db', { code: '55P03', message: 'canceling statement due to lock timeout' }, limits)
        .message,
      /gave up waiting for a lock after ledger\.lockTimeout \(5s\); the holder had already let go/,
    );
  });
});

describe('ledger: CSV fields', () => {
  it('quotes what needs quoting and defuses spreadsheet formulas', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvField('-12.50'), `'-12.50`);
    assert.equal(csvField(null), '');
    assert.equal(csvField(42), '42');
  });

  it('streams rows to evidence/<incident>/, hashes them, and never overwrites an earlier file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-csv-'));
    try {
      const at = new Date('2026-05-20T10:15:02.123Z');
      const first = openCsvEvidence({ dir }, 'INC-7', 'ledger-audit', at, ['class', 'key']);
      await first.write(['mismatched', '130001']);
      const a = await first.close();
      const second = openCsvEvidence({ dir }, 'INC-7', 'ledger-audit', at, ['class', 'key']);
      const b = await second.close();
      assert.equal(a.path, join(dir, 'INC-7', 'ledger-audit-2026-05-20T101502.123Z.csv'));
      assert.equal(b.path, join(dir, 'INC-7', 'ledger-audit-2026-05-20T101502.123Z-2.csv'));
      const text = readFileSync(a.path, 'utf8');
      assert.equal(text, 'class,key\r\nmismatched,130001\r\n');
      assert.equal(a.sha256, createHash('sha256').update(text).digest('hex'));
      assert.deepEqual([a.rows, a.size, b.rows], [1, text.length, 0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ledger: summary view', () => {
  const result = (extra: Partial<AuditResult>): AuditResult => ({
    counts: zeroCounts(),
    rows: { legacy: 1_000_000, cloud: 950_000 },
    rowsCompared: 1_950_000,
    buckets: 20,
    differingBuckets: 18,
    durationMs: 2000,
    method: 'hash_record_extended',
    since: '2026-05-20T10:00:00.000Z',
    unchecked: [],
    notes: [],
    ...extra,
  });
  const view = {
    service: 'payments',
    target: 'public.ledger on …',
    keyName: 'id',
    since: '2026-05-20T10:00:00Z',
    maxDifferences: 10_000,
    samples: {},
    cdc: undefined,
  };

  it('shows bulk divergence as a stop sign, with the bucket counts', () => {
    const text = textOf(
      auditSummaryMessage({
        ...view,
        result: result({
          bulkDivergence: {
            legacyRows: 1_000_000,
            cloudRows: 950_000,
            differingBuckets: 18,
            totalBuckets: 20,
            atLeast: 50_000,
          },
          unchecked: ['missing_in_legacy', 'missing_in_cloud', 'mismatched', 'in_flight', 'duplicate'],
        }),
      }),
    );
    assert.match(text, /payments — BULK DIVERGENCE \(more than 10,000 differences\)/);
    assert.match(text, /\*missing_in_legacy\* not checked/);
    assert.doesNotMatch(
      text,
      /:white_check_mark: \*missing_in_legacy\*/,
      'never a tick for a class not searched',
    );
    assert.match(
      text,
      /at least 50,000 differences; 18 of 20 buckets differ; legacy has 1,000,000 rows and cloud 950,000/,
    );
    assert.match(text, /975,000 rows\/s/);
    assert.match(text, /CDC: not configured/);
    assert.doesNotMatch(text, /Next: `\/ledger lock`/);
  });

  it('shows a clean audit as clean', () => {
    const text = textOf(auditSummaryMessage({ ...view, result: result({ differingBuckets: 0 }) }));
    assert.match(text, /payments — clean/);
    assert.match(text, /no row differs, no row is partial, every group balances/);
  });
});
