// The audit's scan phase: size estimates, bucket thresholds and the one-pass per-cell hash sums.
import type { LedgerSide } from '../../ledger.ts';
import type { Progress } from './audit-findings.ts';
import { CHUNKS, MIN_CHUNK_PAGES, type Cell, type SidePlan } from './audit-plan.ts';
import { textArray } from './sql.ts';

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

/** What the one pass adds for the double-entry check: SQL over the side's columns, params $3 to $5. */
export interface EntryScan {
  /** The group range of a row ($3: thresholds), NULL when the group is NULL (such rows are not in a group). */
  range: string;
  /** amount times a per-group weight (a hash of the group). */
  weighted: string;
  /** The leg is a debit ($4), a credit ($5). */
  isDebit: string;
  isCredit: string;
  /** A leg with no amount or a side other than debit/credit. */
  bad: string;
  values: [string[], string, string];
}

/** Per group range: weighted debits and credits (exact decimal text) and bad legs, summed over every cell. */
export interface RangeSums {
  debit: Decimal;
  credit: Decimal;
  bad: number;
}

/** An exact decimal as PostgreSQL prints numeric: digits scaled by 10^scale ("NaN" makes it `nan`). */
export interface Decimal {
  units: bigint;
  scale: number;
  nan?: boolean;
}

export function decimal(text: string | null): Decimal {
  if (text === null) return { units: 0n, scale: 0 };
  if (!/^-?\d+(\.\d+)?$/.test(text)) return { units: 0n, scale: 0, nan: true };
  const [whole = '0', fraction = ''] = text.split('.');
  return {
    units: BigInt(`${whole.startsWith('-') ? '-' : ''}${whole.replace('-', '')}${fraction}`),
    scale: fraction.length,
  };
}

export function addDecimal(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  const units = a.units * 10n ** BigInt(scale - a.scale) + b.units * 10n ** BigInt(scale - b.scale);
  return { units, scale, ...(a.nan || b.nan ? { nan: true } : {}) };
}

export function sameDecimal(a: Decimal, b: Decimal): boolean {
  if (a.nan || b.nan) return false;
  const scale = Math.max(a.scale, b.scale);
  return a.units * 10n ** BigInt(scale - a.scale) === b.units * 10n ** BigInt(scale - b.scale);
}

/** Group ranges whose weighted debits and credits differ, or that hold a bad leg: the only ones read again. */
export function unbalancedRanges(ranges: Map<number, RangeSums>): number[] {
  return [...ranges.entries()]
    .filter(([, r]) => r.bad > 0 || !sameDecimal(r.debit, r.credit))
    .map(([id]) => id)
    .sort((x, y) => x - y);
}

interface ScanRow {
  cell: string;
  n: string;
  s: string | null;
  p: string;
  g?: string | null;
  dw?: string | null;
  cw?: string | null;
  b?: string;
}

export interface ScanResult {
  cells: Map<number, Cell>;
  /** Undefined when the double-entry check is off. */
  ranges: Map<number, RangeSums> | undefined;
}

/**
 * One pass over the window: count, hash sum and partial count per cell and, in the same pass, the double-entry
 * sums per group range. Rows are grouped by (cell, group range); the sums per cell and per range are added here.
 */
export async function scan(
  side: SidePlan,
  name: LedgerSide,
  bounds: string[],
  since: string,
  est: Estimate,
  progress: Progress,
  entry: EntryScan | undefined,
): Promise<ScanResult> {
  const cells = new Map<number, Cell>();
  const ranges = entry ? new Map<number, RangeSums>() : undefined;
  const entryCols = entry
    ? `, ${entry.range} AS g, sum(${entry.weighted}) FILTER (WHERE ${entry.isDebit}) AS dw,
         sum(${entry.weighted}) FILTER (WHERE ${entry.isCredit}) AS cw, count(*) FILTER (WHERE ${entry.bad}) AS b`
    : '';
  const select = `SELECT ${side.cell} AS cell, count(*) AS n, sum(${side.hash}) AS s,
                         count(*) FILTER (WHERE ${side.partial}) AS p${entryCols}
                    FROM ${side.info.sql} WHERE ${side.window}`;
  const group = entry ? 'GROUP BY 1, 5' : 'GROUP BY 1';
  const values = [
    textArray(bounds),
    since,
    ...(entry ? [textArray(entry.values[0]), entry.values[1], entry.values[2]] : []),
  ];
  const add = (rows: ScanRow[]) => {
    let n = 0;
    for (const row of rows) {
      const id = Number(row.cell);
      const cell = cells.get(id) ?? { n: 0, s: 0n, p: 0 };
      cell.n += Number(row.n);
      cell.s += BigInt(row.s ?? '0');
      cell.p += Number(row.p);
      cells.set(id, cell);
      n += Number(row.n);
      if (ranges && row.g !== null && row.g !== undefined) {
        const g = Number(row.g);
        const r = ranges.get(g) ?? { debit: decimal(null), credit: decimal(null), bad: 0 };
        r.debit = addDecimal(r.debit, decimal(row.dw ?? null));
        r.credit = addDecimal(r.credit, decimal(row.cw ?? null));
        r.bad += Number(row.b ?? 0);
        ranges.set(g, r);
      }
    }
    return n;
  };
  // Cell counts aggregate in a small hash table, but the planner's estimate of groups is always far too high and
  // it would sort instead; sorting stays allowed for every other query (the drill's key order).
  await side.session.query('scan', 'SET LOCAL enable_sort = off');
  try {
    return await scanRows(side, name, select, group, values, est, progress, add, cells, ranges);
  } finally {
    await side.session.query('scan', 'SET LOCAL enable_sort = on');
  }
}

async function scanRows(
  side: SidePlan,
  name: LedgerSide,
  select: string,
  group: string,
  values: unknown[],
  est: Estimate,
  progress: Progress,
  add: (rows: ScanRow[]) => number,
  cells: Map<number, Cell>,
  ranges: Map<number, RangeSums> | undefined,
): Promise<ScanResult> {
  // Big windows are read in page ranges: still one pass, but progress (and ETA) can be told as ranges finish.
  const chunked =
    side.info.serverVersion >= 140000 &&
    est.pages >= 2 * MIN_CHUNK_PAGES &&
    est.window / Math.max(est.total, 1) > 0.2;
  if (!chunked) {
    const n = add(await side.session.query<ScanRow>('scan', `${select} ${group}`, values));
    progress.scanned(name, est.pages, n);
    return { cells, ranges };
  }
  const step = Math.max(MIN_CHUNK_PAGES, Math.ceil(est.pages / CHUNKS));
  for (let from = 0; from < est.pages; from += step) {
    const last = from + step >= est.pages;
    const range = last
      ? `AND ctid >= '(${from},0)'::tid`
      : `AND ctid >= '(${from},0)'::tid AND ctid < '(${from + step},0)'::tid`;
    const n = add(await side.session.query<ScanRow>('scan', `${select} ${range} ${group}`, values));
    progress.scanned(name, Math.min(from + step, est.pages), n);
  }
  return { cells, ranges };
}
