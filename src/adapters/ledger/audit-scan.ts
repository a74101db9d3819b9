// The audit's scan phase: size estimates, bucket thresholds and the one-pass per-cell hash sums.
import type { LedgerSide } from '../../ledger.ts';
import type { Progress } from './audit-findings.ts';
import { CHUNKS, MIN_CHUNK_PAGES, type Cell, type SidePlan } from './audit-plan.ts';
import { literal } from './sql.ts';

export function sumRows(cells: Map<number, Cell>): number {
  let n = 0;
  for (const cell of cells.values()) n += cell.n;
  return n;
}

export function sumPartial(cells: Map<number, Cell>): number {
  let n = 0;
  for (const cell of cells.values()) n += cell.p;
  return n;
}

export interface Estimate {
  window: number;
  total: number;
  pages: number;
}

export async function estimate(side: SidePlan, since: string): Promise<Estimate> {
  const planRows = async (where: string) => {
    const [row] = await side.session.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
      'estimate',
      `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${side.info.sql}${where}`,
    );
    return row?.['QUERY PLAN'][0]?.Plan['Plan Rows'] ?? 0;
  };
  const window = await planRows(` WHERE ${side.updatedAt} >= ${literal(since)}::timestamptz`);
  const total = await planRows('');
  const [size] = await side.session.query<{ pages: string }>(
    'estimate',
    `SELECT pg_relation_size($1::oid) / current_setting('block_size')::int AS pages`,
    [side.info.oid],
  );
  return { window, total, pages: Number(size?.pages ?? 0) };
}

/**
 * Keys that cut the window into cells of about `cellRows` rows: actual keys, so gaps cost nothing. Small
 * windows are cut exactly; big ones from a page sample of about one page per cell.
 */
export async function cutThresholds(
  side: SidePlan,
  since: string,
  size: { windowRows: number; cellRows: number; bucketRows: number; pages: number },
): Promise<{ keys: string[]; sampled: boolean }> {
  const cells = Math.ceil(size.windowRows / size.cellRows);
  const exact = async () =>
    (
      await side.session.query<{ k: string }>(
        'thresholds',
        `SELECT k::text AS k FROM (
           SELECT ${side.key} AS k, row_number() OVER (ORDER BY ${side.key}) AS rn
             FROM ${side.info.sql} WHERE ${side.updatedAt} >= $1) s
          WHERE rn % $2 = 0 ORDER BY rn`,
        [since, size.cellRows],
      )
    ).map((r) => r.k);
  if (size.windowRows <= 10 * size.bucketRows || size.pages < 2000) {
    return { keys: dedupe(await exact()), sampled: false };
  }
  // A sampled page holds a run of neighbouring keys, so cuts can only fall between sampled pages: take about
  // one page per cell, then every (sampled rows / cells)-th key.
  const percent = Math.min(100, (cells / size.pages) * 100);
  const sampled = (
    await side.session.query<{ k: string }>(
      'thresholds',
      `SELECT k::text AS k FROM (
         SELECT k, row_number() OVER (ORDER BY k) AS rn, count(*) OVER () AS total FROM (
           SELECT ${side.key} AS k FROM ${side.info.sql} TABLESAMPLE SYSTEM ($2) REPEATABLE (2026)
            WHERE ${side.updatedAt} >= $1) x) s
        WHERE rn % greatest(1, total / $3) = 0 ORDER BY rn`,
      [since, percent, cells],
    )
  ).map((r) => r.k);
  if (sampled.length < cells / 4) return { keys: dedupe(await exact()), sampled: false };
  return { keys: dedupe(sampled.slice(0, cells - 1)), sampled: true };
}

function dedupe(keys: string[]): string[] {
  return keys.filter((k, i) => i === 0 || k !== keys[i - 1]);
}

/** One pass over the window: count, hash sum and partial count per cell. */
export async function scan(
  side: SidePlan,
  name: LedgerSide,
  bounds: string[],
  since: string,
  est: Estimate,
  progress: Progress,
): Promise<Map<number, Cell>> {
  const cells = new Map<number, Cell>();
  const select = `SELECT ${side.cell} AS cell, count(*) AS n, sum(${side.hash}) AS s,
                         count(*) FILTER (WHERE ${side.partial}) AS p
                    FROM ${side.info.sql} WHERE ${side.updatedAt} >= $2`;
  const add = (rows: { cell: string; n: string; s: string | null; p: string }[]) => {
    let n = 0;
    for (const row of rows) {
      const id = Number(row.cell);
      const cell = cells.get(id) ?? { n: 0, s: 0n, p: 0 };
      cell.n += Number(row.n);
      cell.s += BigInt(row.s ?? '0');
      cell.p += Number(row.p);
      cells.set(id, cell);
      n += Number(row.n);
    }
    return n;
  };
  // Big windows are read in page ranges: still one pass, but progress (and ETA) can be told as ranges finish.
  const chunked =
    side.info.serverVersion >= 140000 &&
    est.pages >= 2 * MIN_CHUNK_PAGES &&
    est.window / Math.max(est.total, 1) > 0.2;
  if (!chunked) {
    const n = add(await side.session.query('scan', `${select} GROUP BY 1`, [bounds, since]));
    progress.scanned(name, est.pages, n);
    return cells;
  }
  const step = Math.max(MIN_CHUNK_PAGES, Math.ceil(est.pages / CHUNKS));
  for (let from = 0; from < est.pages; from += step) {
    const last = from + step >= est.pages;
    const range = last
      ? `AND ctid >= '(${from},0)'::tid`
      : `AND ctid >= '(${from},0)'::tid AND ctid < '(${from + step},0)'::tid`;
    const n = add(await side.session.query('scan', `${select} ${range} GROUP BY 1`, [bounds, since]));
    progress.scanned(name, Math.min(from + step, est.pages), n);
  }
  return cells;
}
