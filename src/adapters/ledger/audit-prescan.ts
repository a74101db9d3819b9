// The audit's catalog, statistics and estimate reads before the scan, batched: one round trip per side, then one
// more on the side that cuts the thresholds (each a simple-protocol batch inside that side's snapshot).
import type { QueryResultRow } from 'pg';
import type { SidePlan } from './audit-plan.ts';
import type { Estimate } from './audit-scan.ts';
import type { ColumnStats, TableStats } from './audit-stats.ts';
import { ident, literal } from './sql.ts';

export interface Prescan {
  est: Estimate;
  /** Of the columns asked about, those a plain btree index leads with (min/max answered at once). */
  indexed: Set<string>;
  /** The extended hash function of the group column's type, if asked for and it has one. */
  groupHash: string | undefined;
  /**
   * Of the columns asked about, those whose type's default hash opclass has an extended hash function taking exactly
   * that type (int8, text, numeric, jsonb, bpchar…): name → function. timestamptz too: its opclass hashes it with
   * timestamp_hash_extended, which rowHash calls through a cast to timestamp (the same instant under the audit's
   * TimeZone = 'UTC', ~0.07 s per million rows cheaper than a one-column record).
   */
  direct: Map<string, string>;
}

const names = (columns: string[]) => `ARRAY[${columns.map((c) => literal(c)).join(', ')}]::text[]`;

/**
 * The estimates (window rows, total rows, pages), which columns have an index, the group column's extended hash and
 * the direct row-hash functions, in one round trip.
 */
export async function prescan(
  side: Pick<SidePlan, 'session' | 'info' | 'updatedAt'>,
  since: string,
  ask: { indexed: string[]; group: string | undefined; hashed: string[] },
): Promise<Prescan> {
  const oid = Number(side.info.oid);
  const explain = (where: string) => `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${side.info.sql}${where}`;
  const results = await side.session.batch('prescan', [
    explain(` WHERE ${side.updatedAt} >= ${literal(since)}::timestamptz`),
    explain(''),
    `SELECT pg_relation_size(${oid}::oid) / current_setting('block_size')::int AS pages,
            ARRAY(SELECT a.attname::text
                    FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                   WHERE i.indrelid = ${oid} AND a.attname = ANY(${names(ask.indexed)})
                     AND i.indpred IS NULL AND i.indexprs IS NULL
                     AND (SELECT amname FROM pg_am m JOIN pg_class ic ON ic.relam = m.oid WHERE ic.oid = i.indexrelid) = 'btree'
                 ) AS indexed,
            (SELECT p.amproc::regproc::text
               FROM pg_opclass oc
               JOIN pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
               JOIN pg_amproc p ON p.amprocfamily = oc.opcfamily AND p.amprocnum = 2
                               AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype
              WHERE oc.opcdefault
                AND oc.opcintype = (SELECT atttypid FROM pg_attribute WHERE attrelid = ${oid} AND attname = ${literal(ask.group ?? '')})
              LIMIT 1) AS group_hash`,
    `SELECT a.attname::text AS name, p.amproc::regproc::text AS fn
       FROM pg_attribute a
       JOIN pg_opclass oc ON oc.opcintype = a.atttypid AND oc.opcdefault
       JOIN pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
       JOIN pg_amproc p ON p.amprocfamily = oc.opcfamily AND p.amprocnum = 2
                       AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype
       JOIN pg_proc f ON f.oid = p.amproc AND f.pronargs = 2
                     AND (f.proargtypes[0] = a.atttypid
                          OR (a.atttypid = 'timestamptz'::regtype AND f.proname = 'timestamp_hash_extended'
                              AND f.proargtypes[0] = 'timestamp'::regtype))
      WHERE a.attrelid = ${oid} AND a.attname = ANY(${names(ask.hashed)}) AND NOT a.attisdropped`,
  ]);
  const planRows = (rows: QueryResultRow[] | undefined) =>
    (rows?.[0] as { 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] } | undefined)?.['QUERY PLAN'][0]?.Plan[
      'Plan Rows'
    ] ?? 0;
  const info = results[2]?.[0] as { pages: string; indexed: string[]; group_hash: string | null } | undefined;
  const direct = (results[3] ?? []) as { name: string; fn: string }[];
  return {
    est: { window: planRows(results[0]), total: planRows(results[1]), pages: Number(info?.pages ?? 0) },
    indexed: new Set(info?.indexed ?? []),
    groupHash: ask.group !== undefined ? (info?.group_hash ?? undefined) : undefined,
    direct: new Map(direct.map((r) => [r.name, r.fn])),
  };
}

/** Whether every row is inside the window: the oldest value is at or after `since` and none is NULL (read from an index). */
const coversSql = (side: SidePlan, updatedAt: string, since: string) =>
  `SELECT min(${ident(updatedAt)}) >= ${literal(since)}::timestamptz
          AND NOT EXISTS (SELECT 1 FROM ${side.info.sql} WHERE ${ident(updatedAt)} IS NULL) AS covers
     FROM ${side.info.sql}`;

export interface CutterReads {
  stats: TableStats;
  /** The largest value of each indexed column asked for: the index answers it at once. */
  max: Map<string, string | undefined>;
  covers: boolean;
}

/**
 * What the cutting side reads before the scan, in one round trip: the table's size then (last ANALYZE) and now and
 * the histograms of the named columns, the largest value of the indexed columns, and whether every row is inside
 * the window (only with an index on the column; then the scan needs no filter at all).
 */
export async function cutterReads(
  side: SidePlan,
  statsOf: string[],
  maxOf: string[],
  covers: { updatedAt: string; since: string } | undefined,
): Promise<CutterReads> {
  const oid = Number(side.info.oid);
  const statements = [
    `SELECT c.reltuples::float8 AS reltuples, c.relpages::int AS relpages,
            pg_relation_size(c.oid) / current_setting('block_size')::int AS pages
       FROM pg_class c WHERE c.oid = ${oid}`,
    `SELECT s.attname::text AS name, s.histogram_bounds::text::text[] AS bounds, s.correlation::float8 AS correlation
       FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename
       JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
      WHERE c.oid = ${oid} AND s.attname = ANY(${names(statsOf)}) AND NOT s.inherited`,
    ...maxOf.map((column) => `SELECT max(${ident(column)})::text AS max FROM ${side.info.sql}`),
    ...(covers ? [coversSql(side, covers.updatedAt, covers.since)] : []),
  ];
  const results = await side.session.batch('stats', statements);
  const table = results[0]?.[0] as { reltuples: number; relpages: number; pages: string } | undefined;
  const columns = new Map<string, ColumnStats>();
  for (const row of (results[1] ?? []) as {
    name: string;
    bounds: string[] | null;
    correlation: number | null;
  }[])
    if (row.bounds) columns.set(row.name, { bounds: row.bounds, correlation: row.correlation });
  const max = new Map<string, string | undefined>();
  maxOf.forEach((column, i) => {
    const row = results[2 + i]?.[0] as { max: string | null } | undefined;
    max.set(column, row?.max ?? undefined);
  });
  const coversRow = covers
    ? (results[2 + maxOf.length]?.[0] as { covers: boolean | null } | undefined)
    : undefined;
  return {
    stats: {
      reltuples: table?.reltuples ?? -1,
      relpages: table?.relpages ?? 0,
      pages: Number(table?.pages ?? 0),
      columns,
    },
    max,
    covers: coversRow?.covers === true,
  };
}

/** Whether every row of the table is inside the window, for the side that does not cut (one round trip, or none). */
export async function coversTable(
  side: SidePlan,
  updatedAt: string,
  since: string,
  indexed: boolean,
): Promise<boolean> {
  if (!indexed) return false;
  const [row] = await side.session.query<{ covers: boolean | null }>(
    'stats',
    coversSql(side, updatedAt, since),
  );
  return row?.covers === true;
}
