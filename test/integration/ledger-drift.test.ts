// The ledger audit under real schema drift: equal values typed differently on legacy and cloud report nothing,
// and every planted difference is found exactly once, with the right class, key and column (real PostgreSQL).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { PgLedger } from '../../src/adapters/ledger/index.ts';
import type { DifferenceClass } from '../../src/ledger.ts';
import { auditAll, hoursAgo, pgLedgerAt } from '../support/ledger.ts';
import {
  adminQuery,
  createDatabase,
  dropDatabase,
  testPostgres,
  type PgServer,
} from '../support/postgres.ts';

const ROWS = 6000;
const COLUMNS = ['account', 'side', 'amount', 'currency', 'payload', 'updated_at'];

interface KeySpec {
  /** The key column's SQL type (with its collation, if any). */
  type: string;
  /** The stored key of row i, as SQL over an integer expression. */
  sql: (i: string) => string;
  unique: boolean;
}

interface SideSpec {
  key: KeySpec;
  side: 'text' | 'side_kind';
  payload: 'json' | 'jsonb';
  updatedAt: string;
  /** Statements run before the table is created (types). */
  pre?: string;
  /** The database's collation comes from ICU. */
  icuDatabase?: boolean;
}

const bigintKey: KeySpec = { type: 'bigint', sql: (i) => `(${i})::bigint`, unique: true };

function uuidOf(i: number): string {
  const h = createHash('md5').update(String(i)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Keys whose order differs between bytewise and linguistic collations: upper, lower and punctuation first. */
function textKeyOf(i: number): string {
  return `${['a', 'B', '_'][i % 3]}-${i}`;
}
const textKeySql = (i: string) => `(ARRAY['a', 'B', '_'])[(${i}) % 3 + 1] || '-' || (${i})`;

const base: SideSpec = { key: bigintKey, side: 'text', payload: 'jsonb', updatedAt: 'timestamptz' };

function ddl(spec: SideSpec, since: string): string {
  const payload =
    spec.payload === 'jsonb'
      ? `jsonb_build_object('amt', (i % 10) + 5, 'ref', 'r' || i)`
      : `('{"ref": "r' || i || '", "amt": ' || ((i % 10) + 5) || '.00}')::json`;
  // Rows from 3 h ago to 10 min ago, with microseconds; a 2 h window holds about the newest two thirds.
  return `SET TimeZone = 'UTC';
    ${spec.pre ?? ''};
    CREATE TABLE public.drift (
      id ${spec.key.type}${spec.key.unique ? ' PRIMARY KEY' : ''},
      account text NOT NULL,
      side ${spec.side} NOT NULL,
      amount numeric(12,2) NOT NULL,
      currency char(3) NOT NULL,
      payload ${spec.payload},
      updated_at ${spec.updatedAt} NOT NULL);
    INSERT INTO public.drift
    SELECT ${spec.key.sql('i')}, 'acct-' || (i % 97),
           (CASE WHEN i % 2 = 1 THEN 'debit' ELSE 'credit' END)::${spec.side},
           (i % 1000) / 100.0 + 1, 'EUR', ${payload},
           ('${since}'::timestamptz + i * interval '1699 milliseconds' + i * interval '7 microseconds')::${spec.updatedAt}
      FROM generate_series(1, ${ROWS}) AS i;
    ANALYZE public.drift`;
}

/** Copies row `from` under new keys (rows the other side never got). */
function copyRow(spec: SideSpec, from: number, ids: number[]): string {
  return `INSERT INTO public.drift
          SELECT ${spec.key.sql('g.i')}, d.account, d.side, d.amount, d.currency, d.payload, d.updated_at
            FROM public.drift d, (VALUES ${ids.map((i) => `(${i})`).join(', ')}) AS g(i)
           WHERE d.id = ${spec.key.sql(String(from))}`;
}

type Expected = [DifferenceClass, number, string[]];

interface Scenario {
  name: string;
  legacy: SideSpec;
  cloud: SideSpec;
  plant?: { legacy?: (s: SideSpec) => string; cloud?: (s: SideSpec) => string };
  expected: Expected[];
  /** How a row's key is reported (canonical form). */
  keyText?: (i: number) => string;
  notes?: RegExp;
}

const enumType = `CREATE TYPE side_kind AS ENUM ('debit', 'credit')`;

const SCENARIOS: Scenario[] = [
  {
    name: 'updated_at timestamp (UTC) vs timestamptz, with a missing row, a changed currency and two cloud-only rows',
    legacy: { ...base, updatedAt: 'timestamp' },
    cloud: base,
    plant: {
      cloud: (s) =>
        `DELETE FROM public.drift WHERE id = 4001;
         UPDATE public.drift SET currency = 'USD' WHERE id = 4500;
         ${copyRow(s, 4002, [ROWS + 1, ROWS + 2])}`,
    },
    expected: [
      ['missing_in_cloud', 4001, []],
      ['mismatched', 4500, ['currency']],
      ['missing_in_legacy', ROWS + 1, []],
      ['missing_in_legacy', ROWS + 2, []],
    ],
    notes: /updated_at: timestamp without time zone vs timestamp with time zone, compared as UTC instants/,
  },
  {
    name: 'timestamp(3) vs timestamptz (microseconds): the precision loss is a note, a real change is found',
    legacy: { ...base, updatedAt: 'timestamp(3)' },
    cloud: base,
    plant: {
      cloud: () => `UPDATE public.drift SET updated_at = updated_at + interval '1 second' WHERE id = 4600`,
    },
    expected: [['mismatched', 4600, ['updated_at']]],
    notes: /legacy keeps milliseconds, so both were compared at milliseconds/,
  },
  {
    name: 'json {"amt": 5.00} vs jsonb {"amt": 5}',
    legacy: { ...base, payload: 'json' },
    cloud: base,
    plant: {
      cloud: () => `UPDATE public.drift SET payload = jsonb_set(payload, '{amt}', '99') WHERE id = 4700`,
    },
    expected: [['mismatched', 4700, ['payload']]],
    notes: /payload: json vs jsonb, compared as canonical jsonb/,
  },
  {
    name: 'the same enum type defined in both databases',
    legacy: { ...base, side: 'side_kind', pre: enumType },
    cloud: { ...base, side: 'side_kind', pre: `CREATE TYPE unused_kind AS ENUM ('x'); ${enumType}` },
    plant: {
      cloud: () => `UPDATE public.drift SET side = 'credit' WHERE id = 4801`,
    },
    expected: [['mismatched', 4801, ['side']]],
    notes: /side: side_kind vs side_kind, compared by label/,
  },
  {
    name: 'uuid key vs upper-case text key',
    legacy: { ...base, key: { type: 'uuid', sql: (i) => `md5((${i})::text)::uuid`, unique: true } },
    cloud: {
      ...base,
      key: { type: 'text', sql: (i) => `upper(md5((${i})::text)::uuid::text)`, unique: true },
    },
    plant: {
      legacy: () => `DELETE FROM public.drift WHERE id = md5('4100')::uuid`,
      cloud: () => `DELETE FROM public.drift WHERE id = upper(md5('4200')::uuid::text);
                    UPDATE public.drift SET amount = amount + 1 WHERE id = upper(md5('4300')::uuid::text)`,
    },
    keyText: uuidOf,
    expected: [
      ['missing_in_legacy', 4100, []],
      ['missing_in_cloud', 4200, []],
      ['mismatched', 4300, ['amount']],
    ],
    notes: /keys were matched by their canonical text in byte order \(id: uuid vs text/,
  },
  {
    name: 'text key under collation "C" vs an ICU collation on the column',
    legacy: { ...base, key: { type: 'text COLLATE "C"', sql: textKeySql, unique: true } },
    cloud: { ...base, key: { type: 'text COLLATE "und-x-icu"', sql: textKeySql, unique: true } },
    plant: {
      cloud: (s) =>
        `DELETE FROM public.drift WHERE id = '${textKeyOf(4301)}';
         UPDATE public.drift SET currency = 'USD' WHERE id = '${textKeyOf(4402)}';
         ${copyRow(s, 4003, [ROWS + 3])}`,
    },
    keyText: textKeyOf,
    expected: [
      ['missing_in_cloud', 4301, []],
      ['mismatched', 4402, ['currency']],
      ['missing_in_legacy', ROWS + 3, []],
    ],
    notes: /keys were matched by their canonical text in byte order/,
  },
  {
    name: 'text key under collation "C" vs a database whose collation is ICU',
    legacy: { ...base, key: { type: 'text COLLATE "C"', sql: textKeySql, unique: true } },
    cloud: { ...base, key: { type: 'text', sql: textKeySql, unique: true }, icuDatabase: true },
    plant: {
      legacy: () => `DELETE FROM public.drift WHERE id = '${textKeyOf(4304)}'`,
      cloud: () => `UPDATE public.drift SET amount = amount + 1 WHERE id = '${textKeyOf(4405)}'`,
    },
    keyText: textKeyOf,
    expected: [
      ['missing_in_legacy', 4304, []],
      ['mismatched', 4405, ['amount']],
    ],
  },
  {
    name: 'a duplicate key on cloud outside the window (no unique index there)',
    legacy: base,
    cloud: { ...base, key: { ...bigintKey, unique: false } },
    plant: {
      // 4900: a second, older copy beside the one in the window; 4901: two copies, both older than the window.
      cloud: () =>
        `INSERT INTO public.drift SELECT id, account, side, amount, currency, payload, now() - interval '1 day'
           FROM public.drift WHERE id IN (4900, 4901);
         UPDATE public.drift SET updated_at = now() - interval '2 days' WHERE id = 4901 AND updated_at > now() - interval '3 hours'`,
    },
    expected: [
      ['duplicate', 4900, []],
      ['duplicate', 4901, []],
    ],
  },
];

describe('ledger audit under schema drift (real PostgreSQL)', function () {
  this.timeout(60_000);
  let server: PgServer;
  const databases: string[] = [];
  const ledgers: PgLedger[] = [];

  before(async () => {
    server = await testPostgres();
  });

  after(async () => {
    for (const l of ledgers) await l.close();
    for (const db of databases) await dropDatabase(server, db);
  });

  async function database(spec: SideSpec, prefix: string): Promise<string> {
    if (!spec.icuDatabase) {
      const name = await createDatabase(server, { prefix });
      databases.push(name);
      return name;
    }
    const name = `${prefix}_icu_${Date.now().toString(36)}`;
    await adminQuery(
      server.url('postgres'),
      `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C.UTF-8'`,
    );
    databases.push(name);
    return name;
  }

  it('gives up on a table lock after ledger.lockTimeout and names the session holding it', async () => {
    const since = new Date(Date.now() - 3 * 3_600_000).toISOString();
    const legacy = await database(base, 'cs_drift_l');
    const cloud = await database(base, 'cs_drift_c');
    await adminQuery(server.url(legacy), ddl(base, since));
    await adminQuery(server.url(cloud), ddl(base, since));
    const ledger = pgLedgerAt(server.url(legacy), server.url(cloud), {
      table: 'public.drift',
      columns: COLUMNS,
      required: [],
      doubleEntry: undefined,
      lockTimeout: '1s',
    });
    ledgers.push(ledger);
    const holder = new pg.Client({
      connectionString: server.url(cloud),
      application_name: 'cs-migration-ddl',
    });
    await holder.connect();
    try {
      const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE public.drift IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      await assert.rejects(auditAll(ledger, hoursAgo(2)), (err: Error & { service?: string }) => {
        assert.equal(err.service, 'cloud database');
        assert.match(err.message, /gave up waiting for a lock after ledger\.lockTimeout \(1s\)/);
        assert.match(
          err.message,
          new RegExp(
            `pid ${pid} holds AccessExclusiveLock on drift \\(user ${server.user}, application "cs-migration-ddl"`,
          ),
        );
        assert.match(err.message, /last query "LOCK TABLE public\.drift IN ACCESS EXCLUSIVE MODE"/);
        assert.match(err.message, /Nothing was changed/);
        return true;
      });
      assert.ok(Date.now() - started < 15_000, 'the audit did not wait as long as the lock was held');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    // Released: the same ledger audits cleanly.
    const { differences } = await auditAll(ledger, hoursAgo(2));
    assert.deepEqual(differences, []);
  });

  for (const scenario of SCENARIOS) {
    it(scenario.name, async () => {
      const since = new Date(Date.now() - 3 * 3_600_000).toISOString();
      const legacy = await database(scenario.legacy, 'cs_drift_l');
      const cloud = await database(scenario.cloud, 'cs_drift_c');
      await adminQuery(server.url(legacy), ddl(scenario.legacy, since));
      await adminQuery(server.url(cloud), ddl(scenario.cloud, since));
      const ledger = pgLedgerAt(server.url(legacy), server.url(cloud), {
        table: 'public.drift',
        columns: COLUMNS,
        required: [],
        doubleEntry: undefined,
        bucketRows: 1000,
      });
      ledgers.push(ledger);

      // Equal values typed differently: nothing at all.
      const before = await auditAll(ledger, hoursAgo(2));
      assert.deepEqual(before.differences, [], 'the equal pair reports nothing');
      assert.equal(before.result.differingBuckets, 0);
      assert.equal(before.result.rows.legacy, before.result.rows.cloud);
      if (scenario.notes) assert.match(before.result.notes.join(' '), scenario.notes);

      if (scenario.plant?.legacy)
        await adminQuery(server.url(legacy), scenario.plant.legacy(scenario.legacy));
      if (scenario.plant?.cloud) await adminQuery(server.url(cloud), scenario.plant.cloud(scenario.cloud));
      const { result, differences } = await auditAll(ledger, hoursAgo(2));
      const keyText = scenario.keyText ?? String;
      const found = differences.map((d) => `${d.class} ${d.key} ${d.columns.join(',')}`).sort();
      const expected = scenario.expected
        .map(([cls, i, cols]) => `${cls} ${keyText(i)} ${cols.join(',')}`)
        .sort();
      assert.deepEqual(found, expected, 'each planted difference exactly once, nothing else');
      assert.equal(result.bulkDivergence, undefined);
      assert.deepEqual(result.unchecked, []);
      const notes = result.notes.join(' ');
      // A tolerated difference is explained once, not flagged per row.
      if (scenario.notes) assert.equal(notes.split(scenario.notes).length, 2, notes);
    });
  }
});
