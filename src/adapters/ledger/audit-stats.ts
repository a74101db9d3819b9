// Bucket sizing from the table's statistics (pg_class.reltuples, pg_stats histograms): thresholds without a scan.
import type { SidePlan } from './audit-plan.ts';
import { ident } from './sql.ts';

/** Windows at least this big are cut from statistics; smaller ones exactly or from a page sample (cheap there). */
export const STATS_MIN_WINDOW_ROWS = 500_000;
/** Most (cell, group range) pairs the scan may aggregate when key and group do not follow each other. */
export const MAX_PAIRS = 262_144;
/** Key and group both follow the physical order this closely (pg_stats.correlation): their ranges move together. */
const ALIGNED = 0.9;

const INTEGERS = new Set(['int2', 'int4', 'int8']);

export interface ColumnStats {
  /** pg_stats.histogram_bounds as text, ascending: equal-population ranges of the column's values. */
  bounds: string[];
  correlation: number | null;
}

export interface TableStats {
  /** pg_class.reltuples at the last ANALYZE (negative or 0 when never analysed). */
  reltuples: number;
  /** pg_class.relpages at the last ANALYZE, and the pages the table has now. */
  relpages: number;
  pages: number;
  columns: Map<string, ColumnStats>;
}

/** One catalog round trip: the table's size then and now, and the histograms of the named columns. */
export async function readStats(side: SidePlan, columns: string[]): Promise<TableStats> {
  const [table] = await side.session.query<{ reltuples: number; relpages: number; pages: string }>(
    'stats',
    `SELECT c.reltuples::float8 AS reltuples, c.relpages::int AS relpages,
            pg_relation_size(c.oid) / current_setting('block_size')::int AS pages
       FROM pg_class c WHERE c.oid = $1`,
    [side.info.oid],
  );
  const rows = await side.session.query<{
    name: string;
    bounds: string[] | null;
    correlation: number | null;
  }>(
    'stats',
    `SELECT s.attname::text AS name, s.histogram_bounds::text::text[] AS bounds, s.correlation::float8 AS correlation
       FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename
       JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
      WHERE c.oid = $1 AND s.attname = ANY($2::text[]) AND NOT s.inherited`,
    [side.info.oid, columns],
  );
  const map = new Map<string, ColumnStats>();
  for (const row of rows)
    if (row.bounds) map.set(row.name, { bounds: row.bounds, correlation: row.correlation });
  return {
    reltuples: table?.reltuples ?? -1,
    relpages: table?.relpages ?? 0,
    pages: Number(table?.pages ?? 0),
    columns: map,
  };
}

/** Rows the table holds now, by the density ANALYZE saw applied to the pages it has now. */
export function rowsNow(stats: TableStats): number {
  if (stats.reltuples <= 0) return 0;
  if (stats.relpages <= 0) return stats.reltuples;
  return Math.max(stats.reltuples, (stats.reltuples / stats.relpages) * stats.pages);
}

/**
 * About `rows / rowsPerRange` ascending thresholds of an integer column, interpolated inside the histogram's
 * equal-population ranges; rows added since ANALYZE are spread between the last bound and `max` (the actual
 * largest value, read from the index). Undefined when the statistics cannot say (no histogram, not integers).
 */
export function interpolate(
  stats: TableStats,
  column: { name: string; baseName: string },
  rowsPerRange: number,
  max?: string,
): string[] | undefined {
  const col = stats.columns.get(column.name);
  if (!col || col.bounds.length < 2 || !INTEGERS.has(column.baseName) || stats.reltuples <= 0)
    return undefined;
  const bounds = col.bounds.map((b) => BigInt(b));
  const perHistogramRange = stats.reltuples / (bounds.length - 1);
  const out: bigint[] = [];
  const cut = (lo: bigint, hi: bigint, rows: number) => {
    const parts = Math.max(1, Math.round(rows / rowsPerRange));
    const span = hi - lo;
    for (let j = 0; j < parts; j++) {
      const at = lo + (span * BigInt(j)) / BigInt(parts);
      if (out.length === 0 || at > (out[out.length - 1] ?? at)) out.push(at);
    }
  };
  for (let i = 0; i + 1 < bounds.length; i++) {
    const lo = bounds[i];
    const hi = bounds[i + 1];
    if (lo !== undefined && hi !== undefined && hi > lo) cut(lo, hi, perHistogramRange);
  }
  const last = bounds[bounds.length - 1];
  if (last !== undefined) {
    const top = max !== undefined && /^-?\d+$/.test(max) ? BigInt(max) : last;
    const added = rowsNow(stats) - stats.reltuples;
    if (top > last && added > rowsPerRange) cut(last, top, added);
    if (out.length === 0 || last > (out[out.length - 1] ?? last)) out.push(last);
    if (top > last && top > (out[out.length - 1] ?? top)) out.push(top);
  }
  return out.map(String);
}

/**
 * Ranges of the double-entry group column that the scan sums debits and credits over, so an unbalanced group is
 * found in the same pass and only its range is read again. Interpolated for integer groups (about `rowsPerRange`
 * rows each), else the histogram's own ranges. When key and group do not follow each other, fewer ranges, so
 * (cell, range) pairs stay under MAX_PAIRS. Empty when there are no statistics: one range, the whole window.
 */
export function groupRanges(
  stats: TableStats,
  key: string,
  group: { name: string; baseName: string },
  cells: number,
  rowsPerRange: number,
  max?: string,
): string[] {
  const col = stats.columns.get(group.name);
  if (!col || col.bounds.length < 2) return [];
  const aligned =
    Math.abs(col.correlation ?? 0) >= ALIGNED &&
    Math.abs(stats.columns.get(key)?.correlation ?? 0) >= ALIGNED;
  const cap = aligned ? Infinity : Math.max(1, Math.floor(MAX_PAIRS / Math.max(cells, 1)));
  const fine = interpolate(stats, group, rowsPerRange, max) ?? col.bounds;
  if (fine.length <= cap) return fine;
  const step = fine.length / cap;
  const out: string[] = [];
  for (let i = 0; i < cap; i++) {
    const at = fine[Math.floor(i * step)];
    if (at !== undefined) out.push(at);
  }
  return out;
}

/** The largest value of a column, when an index answers it at once (undefined otherwise: no scan is started). */
export async function indexedMax(side: SidePlan, column: string): Promise<string | undefined> {
  if (!(await hasIndexOn(side, column))) return undefined;
  const [row] = await side.session.query<{ max: string | null }>(
    'stats',
    `SELECT max(${ident(column)})::text AS max FROM ${side.info.sql}`,
  );
  return row?.max ?? undefined;
}

/**
 * Whether every row of the table is inside the window: the oldest `updatedAt` is at or after `since`, read from an
 * index on it. Then the scan needs no filter at all. False when no index can tell.
 */
export async function windowCoversTable(side: SidePlan, updatedAt: string, since: string): Promise<boolean> {
  if (!(await hasIndexOn(side, updatedAt))) return false;
  const [row] = await side.session.query<{ covers: boolean | null }>(
    'stats',
    `SELECT min(${ident(updatedAt)}) >= $1::timestamptz
            AND NOT EXISTS (SELECT 1 FROM ${side.info.sql} WHERE ${ident(updatedAt)} IS NULL) AS covers
       FROM ${side.info.sql}`,
    [since],
  );
  return row?.covers === true;
}

async function hasIndexOn(side: SidePlan, column: string): Promise<boolean> {
  const [row] = await side.session.query<{ found: boolean }>(
    'stats',
    `SELECT EXISTS (
       SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = $1 AND a.attname = $2 AND i.indpred IS NULL AND i.indexprs IS NULL
          AND (SELECT amname FROM pg_am m JOIN pg_class ic ON ic.relam = m.oid WHERE ic.oid = i.indexrelid) = 'btree') AS found`,
    [side.info.oid, column],
  );
  return row?.found ?? false;
}

/** The extended (64-bit, seeded) hash function of a column's type, e.g. "hashint8extended", if it has one. */
export async function extendedHashOf(side: SidePlan, column: string): Promise<string | undefined> {
  const [row] = await side.session.query<{ fn: string | null }>(
    'stats',
    `SELECT p.amproc::regproc::text AS fn
       FROM pg_opclass oc
       JOIN pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
       JOIN pg_amproc p ON p.amprocfamily = oc.opcfamily AND p.amprocnum = 2
                       AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype
      WHERE oc.opcdefault
        AND oc.opcintype = (SELECT atttypid FROM pg_attribute WHERE attrelid = $1 AND attname = $2)
      LIMIT 1`,
    [side.info.oid, column],
  );
  return row?.fn ?? undefined;
}

/**
 * Of the named columns, those whose type's default hash opclass has an extended hash function taking exactly
 * that type (int8, text, numeric, jsonb, bpchar…): name → function. One catalog round trip. timestamptz too:
 * its opclass hashes it with timestamp_hash_extended, which rowHash calls through a cast to timestamp (the
 * same instant under the audit's TimeZone = 'UTC', ~0.07 s per million rows cheaper than a one-column record).
 */
export async function directHashes(side: SidePlan, columns: string[]): Promise<Map<string, string>> {
  const rows = await side.session.query<{ name: string; fn: string }>(
    'stats',
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
      WHERE a.attrelid = $1 AND a.attname = ANY($2::text[]) AND NOT a.attisdropped`,
    [side.info.oid, columns],
  );
  return new Map(rows.map((r) => [r.name, r.fn]));
}

/** Columns hashed by a direct call on both sides: only where both sides name the same function. */
export async function commonDirectHashes(
  L: SidePlan,
  C: SidePlan,
  columns: string[],
): Promise<Map<string, string>> {
  const [l, c] = await Promise.all([directHashes(L, columns), directHashes(C, columns)]);
  return new Map([...l].filter(([name, fn]) => c.get(name) === fn));
}
