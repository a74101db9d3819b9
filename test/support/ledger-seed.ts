// Seeds a legacy and a cloud ledger database (generate_series, server-side) with a known set of differences.
import type { DifferenceCounts } from '../../src/ledger.ts';
import { adminQuery, createDatabase, dropDatabase, type PgServer } from './postgres.ts';

export const TABLE = 'public.ledger_entries';

/** The ledger section the seeded tables match (connection strings are filled in by the caller). */
export function ledgerSection(
  legacy: string | { env: string },
  cloud: string | { env: string },
  extra: Record<string, unknown> = {},
) {
  return {
    legacy,
    cloud,
    table: TABLE,
    key: 'id',
    columns: ['txn_id', 'account', 'side', 'amount', 'currency', 'payload', 'memo', 'updated_at'],
    updatedAt: 'updated_at',
    required: ['account', 'payload'],
    doubleEntry: { group: 'txn_id', amount: 'amount', side: 'side' },
    ...extra,
  };
}

function newTxn(id: number, txn: number, at: string): string {
  return `(${id}, ${txn}, 'acct-new', 'debit', 12.34, 'EUR', '{"ref":"new${id}"}', 'cloud only', ${at}),
     (${id + 1}, ${txn}, 'acct-new', 'credit', 12.34, 'EUR', '{"ref":"new${id + 1}"}', 'cloud only', ${at})`;
}

const DDL = `
CREATE TABLE public.ledger_entries (
  id bigint PRIMARY KEY,
  txn_id bigint NOT NULL,
  account text NOT NULL,
  side text NOT NULL,
  amount numeric(14,2) NOT NULL,
  currency char(3) NOT NULL,
  payload jsonb,
  memo text,
  updated_at timestamptz NOT NULL
)`;

/**
 * Rows 1..n: pairs of entries (debit, credit) per txn_id, spread evenly from 3 h ago to 10 min ago, so a
 * 2 h window holds the newest ~70 %. Indexes on txn_id and updated_at as a real ledger has them.
 */
function fillSql(rows: number): string {
  return `
INSERT INTO public.ledger_entries
SELECT i, (i + 1) / 2, 'acct-' || (i % 997), CASE WHEN i % 2 = 1 THEN 'debit' ELSE 'credit' END,
       ((((i + 1) / 2) * 7919) % 100000) / 100.0 + 1, 'EUR',
       jsonb_build_object('ref', 'r' || i, 'channel', 'card'), 'entry ' || i,
       now() - interval '3 hours' + (i * interval '170 minutes' / ${rows})
  FROM generate_series(1::bigint, ${rows}) AS i;
CREATE INDEX ledger_entries_txn ON public.ledger_entries (txn_id);
CREATE INDEX ledger_entries_updated ON public.ledger_entries (updated_at);`;
}

export interface SeededPair {
  legacy: string;
  cloud: string;
  rows: number;
}

/** Creates legacy, seeds it, and clones it as cloud (identical until differences are planted). */
export async function seedIdenticalPair(
  server: PgServer,
  rows: number,
  prefix = 'cs_ledger',
): Promise<SeededPair> {
  const legacy = await createDatabase(server, { prefix: `${prefix}_l` });
  await adminQuery(server.url(legacy), DDL);
  await adminQuery(server.url(legacy), fillSql(rows));
  await adminQuery(server.url(legacy), 'VACUUM ANALYZE public.ledger_entries');
  const cloud = await createDatabase(server, { prefix: `${prefix}_c`, template: legacy });
  return { legacy, cloud, rows };
}

/** What the test profile plants, by class, for the default 2 h window. */
export interface Planted {
  counts: DifferenceCounts;
  /** Counts when the window covers every row (since=4h). */
  countsAllRows: DifferenceCounts;
  missingInLegacy: string[];
  missingInCloud: string[];
  mismatched: Record<string, string[]>;
}

/**
 * Plants a known number of each class (n ≥ 200,000; ids ≥ 100,000 are inside a 2 h window):
 * missing_in_legacy 6 (3 txns the cloud wrote), missing_in_cloud 4 (2 txns), mismatched 8, partial 5,
 * invariant 3, plus one old mismatch outside the 2 h window. `plantInFlight` adds the in-flight rows.
 */
export async function plantDifferences(server: PgServer, pair: SeededPair): Promise<Planted> {
  const n = pair.rows;
  if (n < 200_000) throw new Error('the test profile needs at least 200,000 rows');
  const legacy = server.url(pair.legacy);
  const cloud = server.url(pair.cloud);
  const t = n / 2;
  const old = "now() - interval '5 minutes'";
  await adminQuery(
    cloud,
    `INSERT INTO public.ledger_entries VALUES
       ${newTxn(n + 1, t + 1, old)}, ${newTxn(n + 3, t + 2, old)}, ${newTxn(n + 5, t + 3, old)}`,
  );
  // missing_in_cloud: two whole txns gone from cloud.
  await adminQuery(cloud, 'DELETE FROM public.ledger_entries WHERE id IN (120001, 120002, 120003, 120004)');
  // mismatched: memo on three rows; amount on both legs of one txn (still balanced).
  await adminQuery(
    cloud,
    `UPDATE public.ledger_entries SET memo = memo || ' (edited)' WHERE id IN (130001, 130003, 130005)`,
  );
  await adminQuery(
    cloud,
    'UPDATE public.ledger_entries SET amount = amount + 5 WHERE id IN (140001, 140002)',
  );
  // partial: payload emptied on both sides (2 rows x 2 sides) and NULL on cloud only (also a mismatch).
  for (const url of [legacy, cloud])
    await adminQuery(url, `UPDATE public.ledger_entries SET payload = '{}' WHERE id IN (150001, 150003)`);
  await adminQuery(cloud, 'UPDATE public.ledger_entries SET payload = NULL WHERE id = 150101');
  // invariant: one leg off on both sides (2); one leg off on cloud only (invariant on cloud + a mismatch).
  for (const url of [legacy, cloud])
    await adminQuery(url, 'UPDATE public.ledger_entries SET amount = amount + 1 WHERE id = 160001');
  await adminQuery(cloud, 'UPDATE public.ledger_entries SET amount = amount + 2 WHERE id = 160101');
  // A row rewritten by the cloud: its legacy copy is older than the window, its cloud copy inside it.
  await adminQuery(
    cloud,
    `UPDATE public.ledger_entries SET memo = 'rewritten', updated_at = now() - interval '30 minutes' WHERE id = 60001`,
  );
  // Outside the 2 h window: only an audit since=4h sees it.
  await adminQuery(cloud, `UPDATE public.ledger_entries SET memo = 'old edit' WHERE id = 1000`);
  const counts: DifferenceCounts = {
    missing_in_legacy: 6,
    missing_in_cloud: 4,
    mismatched: 8,
    partial: 5,
    invariant: 3,
    in_flight: 0,
    duplicate: 0,
  };
  return {
    counts,
    countsAllRows: { ...counts, mismatched: 9 },
    missingInLegacy: [n + 1, n + 2, n + 3, n + 4, n + 5, n + 6].map(String),
    missingInCloud: ['120001', '120002', '120003', '120004'],
    mismatched: {
      '130001': ['memo'],
      '130003': ['memo'],
      '130005': ['memo'],
      '140001': ['amount'],
      '140002': ['amount'],
      '150101': ['payload'],
      '160101': ['amount'],
      '60001': ['memo', 'updated_at'],
    },
  };
}

/** A txn (2 rows) the cloud wrote just now: in flight, not missing, for the next 60 s. */
export async function plantInFlight(server: PgServer, pair: SeededPair): Promise<string[]> {
  const id = pair.rows + 7;
  await adminQuery(
    server.url(pair.cloud),
    `INSERT INTO public.ledger_entries VALUES ${newTxn(id, pair.rows / 2 + 4, 'now()')}`,
  );
  return [String(id), String(id + 1)];
}

export interface Templates {
  pair: SeededPair;
  planted: Planted;
}

let templates: Promise<Templates> | undefined;
let templateServer: PgServer | undefined;

/** The run's seeded pair with differences planted, made once; tests clone it (a clone takes a fraction of a second). */
export function seededTemplates(server: PgServer): Promise<Templates> {
  templateServer = server;
  templates ??= (async () => {
    const pair = await seedIdenticalPair(server, 200_000, 'cs_tpl');
    const planted = await plantDifferences(server, pair);
    return { pair, planted };
  })();
  return templates;
}

/** Drops the templates at the end of the run. */
export async function dropTemplates(): Promise<void> {
  const server = templateServer;
  if (!templates || !server) return;
  const t = await templates.catch(() => undefined);
  templates = undefined;
  if (t) for (const db of [t.pair.legacy, t.pair.cloud]) await dropDatabase(server, db);
}

/** Fresh copies of a seeded pair, for a test that writes or holds connections. */
export async function clonePair(server: PgServer, from: SeededPair, prefix = 'cs_test'): Promise<SeededPair> {
  const legacy = await createDatabase(server, { prefix: `${prefix}_l`, template: from.legacy });
  const cloud = await createDatabase(server, { prefix: `${prefix}_c`, template: from.cloud });
  return { legacy, cloud, rows: from.rows };
}

export async function dropPair(server: PgServer, pair: SeededPair): Promise<void> {
  await dropDatabase(server, pair.legacy);
  await dropDatabase(server, pair.cloud);
}

/** `count` differences spread evenly over the key space: a third each missing on one side, the rest edited. */
export async function plantScattered(server: PgServer, pair: SeededPair, count: number): Promise<void> {
  const ids = Array.from({ length: count }, (_, k) => Math.floor(((k + 0.5) * pair.rows) / count));
  const third = Math.floor(count / 3);
  const list = (xs: number[]) => xs.join(',') || 'NULL';
  await adminQuery(
    server.url(pair.legacy),
    `DELETE FROM public.ledger_entries WHERE id IN (${list(ids.slice(0, third))})`,
  );
  await adminQuery(
    server.url(pair.cloud),
    `DELETE FROM public.ledger_entries WHERE id IN (${list(ids.slice(third, 2 * third))});
     UPDATE public.ledger_entries SET memo = memo || ' (edited)' WHERE id IN (${list(ids.slice(2 * third))})`,
  );
}
