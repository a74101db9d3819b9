// Bucket sizing from the table's statistics (pg_class.reltuples, pg_stats histograms): thresholds without a scan.

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
