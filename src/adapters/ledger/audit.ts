// The ledger audit: bucketed row hashes computed inside both databases, compared here; rows fetched only where they differ.
//
// 1. Both sides open a REPEATABLE READ READ ONLY snapshot (TimeZone=UTC) and their catalogs are checked.
// 2. Bucket thresholds are cut from actual keys of one side (exactly, or from a page sample for big windows).
// 3. One pass over each table, both sides at once, returns count, sum of a 64-bit row hash and the count of
//    partial rows per cell (a fine key range, ~1/64 of a bucket; for variable-width keys a bucket times 64
//    slices by a key hash). Big tables are read in physical page ranges (TID range scans) so progress and
//    ETA can be told; still one pass.
// 4. For cells that differ, keys and row hashes stream from both sides in the same order and are merged; keys
//    found on one side only are looked up by key on the other (a row may sit outside the window there); only
//    then are full rows fetched, for the keys that differ.
// 5. Partial rows are fetched from the cells that counted some; double-entry groups are summed per side.
import type { QueryResultRow } from 'pg';
import type { LedgerConfig } from '../../config.ts';
import { ExternalServiceError } from '../../errors.ts';
import {
  zeroCounts,
  type AuditOptions,
  type AuditProgress,
  type AuditResult,
  type DifferenceClass,
  type DifferenceCounts,
  type LedgerDifference,
  type LedgerSide,
  type RowValues,
} from '../../ledger.ts';
import { canHashRecords, inspectTable, neededColumns, type TableInfo } from './schema.ts';
import type { LedgerSideDb, SideSession } from './side.ts';
import {
  canonicalValue,
  cellExpr,
  columnToken,
  emptyPredicate,
  familyOf,
  hashableAlike,
  toleratedDifference,
  ident,
  literal,
  partialPredicate,
  rowHash,
  SLICES,
  type ColumnInfo,
  type HashMethod,
  type TableName,
} from './sql.ts';

/** Differing cells read back per query (their key ranges joined in, each an index range scan). */
const BATCH_CELLS = 64;
/** Cells per reported bucket (a bucket is about `bucketRows` rows). */
const CELLS_PER_BUCKET = 64;
const FETCH_ROWS = 5000;
/** Keys resolved (looked up, fetched, classified) per round trip. */
const FLUSH_KEYS = 500;
/** Pages per TID range chunk at least; big tables are cut into about CHUNKS chunks. */
const MIN_CHUNK_PAGES = 1000;
const CHUNKS = 40;

interface Cell {
  n: number;
  s: bigint;
  p: number;
}

/** How one side's key is read, bucketed and looked up. */
interface KeyPlan {
  /** The key as SQL: the column itself, or its canonical text under COLLATE "C". */
  expr: string;
  /** The SQL type of `expr`. */
  type: string;
  /** A 64-bit hash of `expr`, the same on both sides for the same key. */
  hash: string;
  /** A predicate matching rows whose key is one of the (canonical) keys in the text[] parameter. */
  lookup: (param: string) => string;
  /** The values to pass for `lookup`: canonical keys the column can hold. */
  lookupValues: (keys: string[]) => string[];
  /** Distinct stored keys always have distinct canonical keys. */
  injective: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function uuidsOnly(keys: string[]): string[] {
  return keys.filter((k) => UUID.test(k));
}

function allKeys(keys: string[]): string[] {
  return keys;
}

/** What one side needs to build its SQL. */
interface SidePlan {
  session: SideSession;
  info: TableInfo;
  key: string;
  keyType: string;
  keyPlan: KeyPlan;
  updatedAt: string;
  hash: string;
  cell: string;
  partial: string;
  display: ColumnInfo[];
  compared: ColumnInfo[];
  tokens: string[];
  required: ColumnInfo[];
}

interface DrillRow extends QueryResultRow {
  key: string;
  h: string;
  fresh: boolean;
}

/** Byte order of UTF-8 text, which is what ORDER BY … COLLATE "C" gives. */
export function compareC(a: string, b: string): number {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(a) && /^[\x00-\x7f]*$/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The error to report when one or both sides failed; both failures are named. */
function failure(l: PromiseSettledResult<unknown>, c: PromiseSettledResult<unknown>): unknown {
  if (l.status === 'rejected' && c.status === 'rejected') {
    const lm = (l.reason as Error).message;
    const cm = (c.reason as Error).message;
    return new ExternalServiceError('legacy and cloud databases', `legacy: ${lm} — cloud: ${cm}`, {
      cause: l.reason,
    });
  }
  return l.status === 'rejected' ? l.reason : c.status === 'rejected' ? c.reason : undefined;
}

/** Settles both promises, then throws the first failure (legacy first) so no query is left dangling. */
export async function both<T, U>(legacy: Promise<T>, cloud: Promise<U>): Promise<[T, U]> {
  const [l, c] = await Promise.allSettled([legacy, cloud]);
  if (l.status === 'fulfilled' && c.status === 'fulfilled') return [l.value, c.value];
  throw failure(l, c);
}

class Progress {
  #started: number;
  #weights: { scan: number; drill: number; invariant: number };
  #pages = { legacy: 0, cloud: 0 };
  #pagesDone = { legacy: 0, cloud: 0 };
  #drill = 0;
  #invariant = 0;
  rowsScanned = 0;
  #report: ((p: AuditProgress) => void) | undefined;
  #phase: AuditProgress['phase'] = 'scan';

  constructor(report: ((p: AuditProgress) => void) | undefined, withInvariant: boolean) {
    this.#started = performance.now();
    this.#report = report;
    this.#weights = withInvariant
      ? { scan: 0.75, drill: 0.1, invariant: 0.15 }
      : { scan: 0.9, drill: 0.1, invariant: 0 };
  }

  pages(side: LedgerSide, total: number): void {
    this.#pages[side] = Math.max(total, 1);
  }

  scanned(side: LedgerSide, pagesDone: number, rows: number): void {
    this.#pagesDone[side] = Math.min(pagesDone, this.#pages[side]);
    this.rowsScanned += rows;
    this.#emit('scan');
  }

  drill(fraction: number): void {
    this.#drill = fraction;
    this.#emit('drill');
  }

  invariant(fraction: number): void {
    this.#invariant = fraction;
    this.#emit('invariant');
  }

  get elapsedMs(): number {
    return performance.now() - this.#started;
  }

  #emit(phase: AuditProgress['phase']): void {
    this.#phase = phase;
    if (!this.#report) return;
    const scan =
      (this.#pagesDone.legacy + this.#pagesDone.cloud) / Math.max(this.#pages.legacy + this.#pages.cloud, 1);
    const fraction = Math.min(
      1,
      scan * this.#weights.scan +
        this.#drill * this.#weights.drill +
        this.#invariant * this.#weights.invariant,
    );
    const elapsedMs = this.elapsedMs;
    this.#report({
      phase: this.#phase,
      fraction,
      rowsScanned: this.rowsScanned,
      elapsedMs,
      ...(fraction > 0.02 && fraction < 1 ? { etaMs: (elapsedMs / fraction) * (1 - fraction) } : {}),
    });
  }
}

/** Classes about one key's rows on the two sides (partial and invariant are per side or per group). */
const ROW_CLASSES = new Set<DifferenceClass>([
  'missing_in_legacy',
  'missing_in_cloud',
  'mismatched',
  'in_flight',
  'duplicate',
]);

/** Classifies, counts and hands on differences; stops the audit once the limit is passed. */
class Findings {
  counts: DifferenceCounts = zeroCounts();
  found = 0;
  #max: number;
  #sink: AuditOptions['onDifference'];

  constructor(max: number, sink: AuditOptions['onDifference']) {
    this.#max = max;
    this.#sink = sink;
  }

  get full(): boolean {
    return this.found > this.#max;
  }

  get remaining(): number {
    return Math.max(0, this.#max + 1 - this.found);
  }

  /** Keys already reported as missing, mismatched, in flight or duplicate: each is reported once. */
  #keys = new Set<string>();

  /** Whether a key already has its one row-level report. */
  reported(key: string): boolean {
    return this.#keys.has(key);
  }

  async add(difference: LedgerDifference): Promise<void> {
    if (ROW_CLASSES.has(difference.class)) {
      if (this.#keys.has(difference.key)) return;
      this.#keys.add(difference.key);
    }
    this.counts[difference.class] += 1;
    this.found += 1;
    await this.#sink?.(difference);
  }
}

function interval(ms: number): string {
  return `${Math.max(0, Math.round(ms))} milliseconds`;
}

export interface AuditInput {
  legacy: LedgerSideDb;
  cloud: LedgerSideDb;
  config: LedgerConfig;
  table: TableName;
  opts: AuditOptions;
}

export async function runAudit(input: AuditInput): Promise<AuditResult> {
  const { legacy, cloud, config, table, opts } = input;
  const started = performance.now();
  const [lOpen, cOpen] = await Promise.allSettled([legacy.openSnapshot(), cloud.openSnapshot()]);
  if (lOpen.status === 'rejected' || cOpen.status === 'rejected') {
    if (lOpen.status === 'fulfilled') await lOpen.value.end(false);
    if (cOpen.status === 'fulfilled') await cOpen.value.end(false);
    throw failure(lOpen, cOpen);
  }
  const l = lOpen.value;
  const c = cOpen.value;
  let ok = false;
  try {
    const result = await audit(l.session, c.session, config, table, opts, started);
    ok = true;
    return result;
  } finally {
    await Promise.allSettled([l.end(ok), c.end(ok)]);
  }
}

async function audit(
  lSession: SideSession,
  cSession: SideSession,
  config: LedgerConfig,
  table: TableName,
  opts: AuditOptions,
  started: number,
): Promise<AuditResult> {
  const notes: string[] = [];
  const since = opts.since.toISOString();
  const [lInfo, cInfo] = await both(
    inspectTable(lSession, table, config),
    inspectTable(cSession, table, config),
  );

  // The fast path hashes values in their binary form, which is only comparable when every column is alike on
  // both sides (same built-in type, bytewise equality); anything else is compared by canonical values.
  const pairs = config.columns.map((name) => {
    const legacyCol = lInfo.columns.get(name);
    const cloudCol = cInfo.columns.get(name);
    if (!legacyCol || !cloudCol) throw new Error(`column ${name} was not inspected`);
    return { legacy: legacyCol, cloud: cloudCol };
  });
  const lCompared = pairs.map((p) => p.legacy);
  const cCompared = pairs.map((p) => p.cloud);
  const alike = pairs.every((p) => hashableAlike(p.legacy, p.cloud));
  const sameMajor = Math.floor(lInfo.serverVersion / 10000) === Math.floor(cInfo.serverVersion / 10000);
  let method: HashMethod = 'md5';
  if (alike && sameMajor && (await canHashRecords(lSession, lCompared))) method = 'hash_record_extended';
  const tolerated = pairs
    .map((p) => toleratedDifference(p.legacy, p.cloud))
    .filter((x): x is string => x !== undefined);
  if (tolerated.length > 0) notes.push(`column types differ (${tolerated.join('; ')}).`);
  const lCanonical = pairs.map((p) => canonicalValue(p.legacy, p.cloud, lInfo.serverVersion));
  const cCanonical = pairs.map((p) => canonicalValue(p.cloud, p.legacy, cInfo.serverVersion));

  const lKeyCol = lInfo.columns.get(config.key);
  const cKeyCol = cInfo.columns.get(config.key);
  if (!lKeyCol || !cKeyCol) throw new Error(`key ${config.key} was not inspected`);
  // Keys are bucketed and matched natively only when both sides order and hash them the same way, bytewise;
  // otherwise by their canonical text under COLLATE "C" (uuid vs text, ICU or libc collations, enums…).
  const nativeKey =
    hashableAlike(lKeyCol, cKeyCol) &&
    lKeyCol.order !== 'locale' &&
    cKeyCol.order !== 'locale' &&
    lInfo.keyHashFunction === cInfo.keyHashFunction;
  if (!nativeKey) {
    const why = toleratedDifference(lKeyCol, cKeyCol);
    notes.push(
      `keys were matched by their canonical text in byte order (${why ?? `${config.key}: ${lKeyCol.type} ordered by collation ${lKeyCol.collation || 'default'} vs ${cKeyCol.collation || 'default'}`}).`,
    );
  }
  const keyOf = (info: TableInfo, mine: ColumnInfo, theirs: ColumnInfo): KeyPlan => {
    if (nativeKey) {
      const type = mine.type;
      return {
        expr: ident(config.key),
        type,
        hash: info.keyHashFunction
          ? `${info.keyHashFunction}(${ident(config.key)}, 0)`
          : `hashtextextended(${ident(config.key)}::text, 0)`,
        lookup: (param) => `${ident(config.key)} = ANY(${param}::text[]::${type}[])`,
        lookupValues: (keys) => keys,
        injective: true,
      };
    }
    const canonical = canonicalValue(mine, theirs, info.serverVersion);
    const expr = `((${canonical}) COLLATE "C")`;
    const family = familyOf(mine);
    const identity = canonical === `(${ident(config.key)})::text`;
    // Equality lookups go through the key's own index where the canonical text maps back to one value.
    const lookup =
      family === 'uuid'
        ? { sql: (param: string) => `${ident(config.key)} = ANY(${param}::uuid[])`, values: uuidsOnly }
        : family === 'text' && identity && mine.deterministic
          ? { sql: (param: string) => `${ident(config.key)} = ANY(${param}::text[])`, values: allKeys }
          : { sql: (param: string) => `${expr} = ANY(${param}::text[])`, values: allKeys };
    return {
      expr,
      type: 'text',
      hash: `hashtextextended(${expr}, 0)`,
      lookup: lookup.sql,
      lookupValues: lookup.values,
      // Lower-casing or trimming can fold two stored keys into one canonical key.
      injective: identity || family === 'uuid',
    };
  };
  const lKey = keyOf(lInfo, lKeyCol, cKeyCol);
  const cKey = keyOf(cInfo, cKeyCol, lKeyCol);
  // Fine key ranges need a fixed-width key: width_bucket walks a variable-width array element by element.
  const fine = nativeKey && lKeyCol.fixedWidth;
  const slices = fine ? 1 : SLICES;
  const cellRows = fine ? Math.max(1, Math.floor(config.bucketRows / CELLS_PER_BUCKET)) : config.bucketRows;

  const display = neededColumns(config).filter((name) => name !== config.key);
  const plan = (
    session: SideSession,
    info: TableInfo,
    key: KeyPlan,
    compared: ColumnInfo[],
    canonical: string[],
  ): SidePlan => {
    const required = config.required.map((name) => info.columns.get(name)).filter((x) => x !== undefined);
    return {
      session,
      info,
      key: key.expr,
      keyType: key.type,
      keyPlan: key,
      updatedAt: ident(config.updatedAt),
      hash: rowHash(compared, method, canonical),
      cell: cellExpr(key.expr, key.type, key.hash, '$1', slices),
      partial: partialPredicate(required),
      display: display.map((name) => info.columns.get(name)).filter((x) => x !== undefined),
      compared,
      tokens: compared.map((col, i) => columnToken(col, method, canonical[i] ?? 'NULL')),
      required,
    };
  };
  const L = plan(lSession, lInfo, lKey, lCompared, lCanonical);
  const C = plan(cSession, cInfo, cKey, cCompared, cCanonical);
  const progress = new Progress(opts.onProgress, config.doubleEntry !== undefined);

  // Thresholds come from the side with more rows in the window.
  const [lEst, cEst] = await both(estimate(L, since), estimate(C, since));
  const cutter = cEst.window >= lEst.window ? C : L;
  const thresholds = await cutThresholds(cutter, since, {
    windowRows: Math.max(lEst.window, cEst.window),
    cellRows,
    bucketRows: config.bucketRows,
    pages: (cutter === C ? cEst : lEst).pages,
  });
  if (thresholds.sampled) notes.push('bucket thresholds were cut from a page sample of the window.');
  const cut: Cut = { bounds: thresholds.keys, slices };
  const bounds = cut.bounds;
  const totalBuckets = Math.ceil(((bounds.length + 1) * slices) / CELLS_PER_BUCKET);

  progress.pages('legacy', lEst.pages);
  progress.pages('cloud', cEst.pages);
  const [lCells, cCells] = await both(
    scan(L, 'legacy', bounds, since, lEst, progress),
    scan(C, 'cloud', bounds, since, cEst, progress),
  );
  const rows = { legacy: sumRows(lCells), cloud: sumRows(cCells) };

  const differing: number[] = [];
  let lowerBound = 0;
  for (const id of new Set([...lCells.keys(), ...cCells.keys()])) {
    const a = lCells.get(id);
    const b = cCells.get(id);
    if ((a?.n ?? 0) !== (b?.n ?? 0) || (a?.s ?? 0n) !== (b?.s ?? 0n)) {
      differing.push(id);
      lowerBound += Math.max(Math.abs((a?.n ?? 0) - (b?.n ?? 0)), 1);
    }
  }
  differing.sort((x, y) => x - y);
  const partialRows = sumPartial(lCells) + sumPartial(cCells);
  const differingBuckets = new Set(differing.map((id) => Math.floor(id / CELLS_PER_BUCKET))).size;
  const findings = new Findings(config.maxDifferences, opts.onDifference);

  const base = {
    rows,
    rowsCompared: rows.legacy + rows.cloud,
    buckets: totalBuckets,
    differingBuckets,
    method,
    since,
    notes,
  };
  const bulk = (atLeast: number) => ({
    legacyRows: rows.legacy,
    cloudRows: rows.cloud,
    differingBuckets,
    totalBuckets,
    atLeast,
  });
  // Classes whose search ran to the end; after a bulk-divergence stop the others are "not checked".
  const checked = new Set<DifferenceClass>();
  const unchecked = () =>
    [...ROW_CLASSES, 'partial' as const, ...(config.doubleEntry ? ['invariant' as const] : [])].filter(
      (cls) => !checked.has(cls),
    );
  if (lowerBound + partialRows > config.maxDifferences) {
    const counts = zeroCounts();
    counts.partial = partialRows;
    checked.add('partial');
    progress.drill(1);
    return {
      ...base,
      counts,
      unchecked: unchecked(),
      durationMs: performance.now() - started,
      bulkDivergence: bulk(lowerBound + partialRows),
    };
  }

  await both(duplicates(L, 'legacy', since, findings, notes), duplicates(C, 'cloud', since, findings, notes));
  if (!findings.full) await drill(L, C, cut, differing, since, opts.inFlightMs, findings, progress);
  if (!findings.full) {
    for (const cls of ROW_CLASSES) checked.add(cls);
    await both(
      partials(L, 'legacy', cut, lCells, since, findings),
      partials(C, 'cloud', cut, cCells, since, findings),
    );
  }
  if (!findings.full) checked.add('partial');
  if (config.doubleEntry && !findings.full) {
    const entry = config.doubleEntry;
    // Summing every group is the heaviest query after the scan: both sides at once.
    await both(
      invariants(L, 'legacy', entry, config, since, findings),
      invariants(C, 'cloud', entry, config, since, findings),
    );
    progress.invariant(1);
    if (!findings.full) checked.add('invariant');
  }
  return {
    ...base,
    counts: findings.counts,
    unchecked: unchecked(),
    durationMs: performance.now() - started,
    ...(findings.full ? { bulkDivergence: bulk(Math.max(findings.found, lowerBound)) } : {}),
  };
}

/**
 * Keys stored more than once on a side (no unique index, or two stored keys with one canonical form), where at
 * least one copy is in the window: reported as duplicates, never compared as if they were one row.
 */
async function duplicates(
  side: SidePlan,
  name: LedgerSide,
  since: string,
  findings: Findings,
  notes: string[],
): Promise<void> {
  if (side.info.keyUnique && side.keyPlan.injective) return;
  const rows = await side.session.query<{ key: string; n: string; inside: string }>(
    'duplicates',
    `SELECT ${side.key}::text AS key, count(*) AS n, count(*) FILTER (WHERE ${side.updatedAt} >= $1) AS inside
       FROM ${side.info.sql}
      WHERE ${side.key} IN (SELECT ${side.key} FROM ${side.info.sql} WHERE ${side.updatedAt} >= $1)
      GROUP BY ${side.key} HAVING count(*) > 1
      ORDER BY 1 LIMIT $2`,
    [since, findings.remaining],
  );
  const why = side.info.keyUnique ? 'keys that differ only in form' : `no unique index on the key`;
  if (rows.length === 0) notes.push(`${name}: ${why}, but no key in the window occurs twice.`);
  for (const row of rows) {
    if (findings.full) return;
    const outside = Number(row.n) - Number(row.inside);
    await findings.add({
      class: 'duplicate',
      key: row.key,
      side: name,
      columns: [],
      detail: `${row.n} rows on ${name} have this key (${why})${outside > 0 ? `, ${outside} of them outside the window` : ''}`,
    });
  }
}

function sumRows(cells: Map<number, Cell>): number {
  let n = 0;
  for (const cell of cells.values()) n += cell.n;
  return n;
}

function sumPartial(cells: Map<number, Cell>): number {
  let n = 0;
  for (const cell of cells.values()) n += cell.p;
  return n;
}

interface Estimate {
  window: number;
  total: number;
  pages: number;
}

async function estimate(side: SidePlan, since: string): Promise<Estimate> {
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
async function cutThresholds(
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
async function scan(
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

/** How the key space is cut: thresholds, and slices per key range (1 for fine ranges). */
interface Cut {
  bounds: string[];
  slices: number;
}

/** Cells read back together: their key ranges (buckets of the cut) and the cells wanted in them. */
interface Batch {
  cells: number[];
  buckets: number[];
}

/** Groups cells into batches; the open-ended first and last ranges go alone (no index range to join). */
function batchesOf(cells: number[], cut: Cut): Batch[] {
  const byBucket = new Map<number, number[]>();
  for (const id of cells) {
    const bucket = Math.floor(id / cut.slices);
    const list = byBucket.get(bucket) ?? [];
    list.push(id);
    byBucket.set(bucket, list);
  }
  const last = cut.bounds.length;
  const batches: Batch[] = [];
  let current: Batch | undefined;
  for (const bucket of [...byBucket.keys()].sort((x, y) => x - y)) {
    const list = byBucket.get(bucket) ?? [];
    if (bucket === 0 || bucket === last) {
      batches.push({ cells: list, buckets: [bucket] });
      continue;
    }
    if (!current || current.cells.length + list.length > BATCH_CELLS) {
      current = { cells: [], buckets: [] };
      batches.push(current);
    }
    current.cells.push(...list);
    current.buckets.push(bucket);
  }
  return batches;
}

/**
 * FROM clause (and extra WHERE) reading only the key ranges of a batch: bucket b covers [bounds[b-1],
 * bounds[b]). Closed ranges are joined from arrays, each an index range scan on the key.
 */
function batchSource(side: SidePlan, cut: Cut, batch: Batch, at: number) {
  const [only] = batch.buckets;
  if (batch.buckets.length === 1 && only !== undefined && (only === 0 || only === cut.bounds.length)) {
    const clauses: string[] = [];
    const values: unknown[] = [];
    const lo = only > 0 ? cut.bounds[only - 1] : undefined;
    const hi = only < cut.bounds.length ? cut.bounds[only] : undefined;
    if (lo !== undefined) {
      values.push(lo);
      clauses.push(`AND ${side.key} >= $${at + values.length - 1}::text::${side.keyType}`);
    }
    if (hi !== undefined) {
      values.push(hi);
      clauses.push(`AND ${side.key} < $${at + values.length - 1}::text::${side.keyType}`);
    }
    return { from: side.info.sql, where: clauses.join(' '), values };
  }
  const lo = batch.buckets.map((b) => cut.bounds[b - 1]);
  const hi = batch.buckets.map((b) => cut.bounds[b]);
  return {
    from: `unnest($${at}::text[], $${at + 1}::text[]) AS cs_r(cs_lo, cs_hi)
           JOIN ${side.info.sql} ON ${side.key} >= cs_r.cs_lo::${side.keyType} AND ${side.key} < cs_r.cs_hi::${side.keyType}`,
    where: '',
    values: [lo, hi],
  };
}

/** Streams rows of a cursor in batches. */
class CursorReader<R extends QueryResultRow> {
  #session: SideSession;
  #name: string;
  #buffer: R[] = [];
  #done = false;

  constructor(session: SideSession, name: string) {
    this.#session = session;
    this.#name = name;
  }

  static async open<R extends QueryResultRow>(
    session: SideSession,
    name: string,
    sql: string,
    values: unknown[],
  ) {
    await session.query('drill', `DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, values);
    return new CursorReader<R>(session, name);
  }

  async next(): Promise<R | undefined> {
    if (this.#buffer.length === 0 && !this.#done) {
      this.#buffer = await this.#session.query<R>('drill', `FETCH ${FETCH_ROWS} FROM ${this.#name}`);
      if (this.#buffer.length < FETCH_ROWS) this.#done = true;
    }
    return this.#buffer.shift();
  }

  async close(): Promise<void> {
    await this.#session.query('drill', `CLOSE ${this.#name}`);
  }
}

async function drill(
  L: SidePlan,
  C: SidePlan,
  cut: Cut,
  differing: number[],
  since: string,
  inFlightMs: number,
  findings: Findings,
  progress: Progress,
): Promise<void> {
  const batches = batchesOf(differing, cut);
  const resolver = new Resolver(L, C, inFlightMs, findings);
  for (const [index, batch] of batches.entries()) {
    if (findings.full) break;
    const open = (side: SidePlan) => {
      const source = batchSource(side, cut, batch, 5);
      return CursorReader.open<DrillRow>(
        side.session,
        'cs_drill',
        `SELECT ${side.key}::text AS key, (${side.hash})::text AS h,
                ${side.updatedAt} > now() - $4::interval AS fresh
           FROM ${source.from}
          WHERE ${side.updatedAt} >= $2 AND ${side.cell} = ANY($3::bigint[]) ${source.where}
          ORDER BY ${side.key}::text COLLATE "C"`,
        [cut.bounds, since, batch.cells, interval(inFlightMs), ...source.values],
      );
    };
    const [lc, cc] = await both(open(L), open(C));
    let [a, b] = await both(lc.next(), cc.next());
    while ((a || b) && !findings.full) {
      const order = !a ? 1 : !b ? -1 : compareC(a.key, b.key);
      if (order < 0 && a) {
        await resolver.onlyIn('legacy', a);
        a = await lc.next();
      } else if (order > 0 && b) {
        await resolver.onlyIn('cloud', b);
        b = await cc.next();
      } else if (a && b) {
        if (a.h !== b.h) await resolver.mismatch(a.key, a.fresh || b.fresh);
        [a, b] = await both(lc.next(), cc.next());
      }
    }
    await both(lc.close(), cc.close());
    await resolver.flush();
    progress.drill((index + 1) / batches.length);
  }
  await resolver.flush();
  progress.drill(1);
}

/** Settles keys found on one side, or with different hashes: looks them up, fetches rows, classifies. */
class Resolver {
  #L: SidePlan;
  #C: SidePlan;
  #inFlightMs: number;
  #findings: Findings;
  #only: Record<LedgerSide, DrillRow[]> = { legacy: [], cloud: [] };
  #mismatch: { key: string; fresh: boolean }[] = [];

  constructor(L: SidePlan, C: SidePlan, inFlightMs: number, findings: Findings) {
    this.#L = L;
    this.#C = C;
    this.#inFlightMs = inFlightMs;
    this.#findings = findings;
  }

  async onlyIn(side: LedgerSide, row: DrillRow): Promise<void> {
    this.#only[side].push(row);
    if (this.#only[side].length >= FLUSH_KEYS) await this.flush();
  }

  async mismatch(key: string, fresh: boolean): Promise<void> {
    this.#mismatch.push({ key, fresh });
    if (this.#mismatch.length >= FLUSH_KEYS) await this.flush();
  }

  async flush(): Promise<void> {
    for (const side of ['legacy', 'cloud'] as const) {
      const rows = this.#only[side];
      this.#only[side] = [];
      if (rows.length > 0) await this.#resolveOneSided(side, rows);
    }
    const pairs = this.#mismatch;
    this.#mismatch = [];
    if (pairs.length > 0) await this.#resolveMismatches(pairs);
  }

  /** A key seen on one side in the window may exist on the other with an older timestamp. */
  async #resolveOneSided(present: LedgerSide, seen: DrillRow[]): Promise<void> {
    let rows = seen;
    const other = present === 'legacy' ? this.#C : this.#L;
    const otherName: LedgerSide = present === 'legacy' ? 'cloud' : 'legacy';
    rows = rows.filter((r) => !this.#findings.reported(r.key));
    const found = await other.session.query<DrillRow>(
      'lookup',
      `SELECT ${other.key}::text AS key, (${other.hash})::text AS h,
              ${other.updatedAt} > now() - $2::interval AS fresh
         FROM ${other.info.sql} WHERE ${other.keyPlan.lookup('$1')}`,
      [other.keyPlan.lookupValues(rows.map((r) => r.key)), interval(this.#inFlightMs)],
    );
    const there = new Map<string, DrillRow>();
    const twice = new Map<string, number>();
    for (const r of found) {
      if (there.has(r.key)) twice.set(r.key, (twice.get(r.key) ?? 1) + 1);
      there.set(r.key, r);
    }
    const missing: DrillRow[] = [];
    for (const row of rows) {
      const match = there.get(row.key);
      const copies = twice.get(row.key);
      // Several rows with the key outside the window on the other side: which one it stands for is a human's call.
      if (copies !== undefined) {
        await this.#findings.add({
          class: 'duplicate',
          key: row.key,
          side: otherName,
          columns: [],
          detail: `${copies} rows on ${otherName} have this key, all outside the window`,
        });
      } else if (!match) missing.push(row);
      else if (match.h !== row.h) this.#mismatch.push({ key: row.key, fresh: row.fresh || match.fresh });
    }
    if (missing.length === 0) return;
    const side = present === 'legacy' ? this.#L : this.#C;
    const full = await fetchRows(
      side,
      missing.map((m) => m.key),
    );
    for (const row of missing) {
      if (this.#findings.full) return;
      const values = full.get(row.key)?.values;
      const cls = row.fresh ? 'in_flight' : present === 'legacy' ? 'missing_in_cloud' : 'missing_in_legacy';
      await this.#findings.add({
        class: cls,
        key: row.key,
        columns: [],
        ...(present === 'legacy' ? { legacy: values ?? {} } : { cloud: values ?? {} }),
        ...(row.fresh
          ? {
              side: present,
              detail: `only on ${present}, written within the CDC lag; may still be on its way`,
            }
          : {}),
      });
    }
  }

  async #resolveMismatches(all: { key: string; fresh: boolean }[]): Promise<void> {
    const pairs = all.filter((p) => !this.#findings.reported(p.key));
    const keys = pairs.map((p) => p.key);
    const [lRows, cRows] = await both(fetchRows(this.#L, keys), fetchRows(this.#C, keys));
    for (const pair of pairs) {
      if (this.#findings.full) return;
      const a = lRows.get(pair.key);
      const b = cRows.get(pair.key);
      if (!a || !b) continue;
      const columns = this.#L.compared
        .map((col, i) => (a.tokens[i] !== b.tokens[i] ? col.name : undefined))
        .filter((x): x is string => x !== undefined);
      await this.#findings.add({
        class: pair.fresh ? 'in_flight' : 'mismatched',
        key: pair.key,
        columns,
        legacy: a.values,
        cloud: b.values,
        ...(pair.fresh ? { detail: 'differs, but one side was written within the CDC lag' } : {}),
      });
    }
  }
}

/** Full rows (display values and per-column tokens) for a batch of keys. */
async function fetchRows(
  side: SidePlan,
  keys: string[],
): Promise<Map<string, { values: RowValues; tokens: string[] }>> {
  const out = new Map<string, { values: RowValues; tokens: string[] }>();
  if (keys.length === 0) return out;
  const cols = side.display.map((col, i) => `${ident(col.name)}::text AS v${i}`);
  const toks = side.tokens.map((tok, i) => `${tok} AS t${i}`);
  const rows = await side.session.query<Record<string, string | null>>(
    'fetch',
    `SELECT ${[`${side.key}::text AS key`, ...cols, ...toks].join(', ')}
       FROM ${side.info.sql} WHERE ${side.keyPlan.lookup('$1')}`,
    [side.keyPlan.lookupValues(keys)],
  );
  for (const row of rows) {
    const values: RowValues = {};
    side.display.forEach((col, i) => (values[col.name] = row[`v${i}`] ?? null));
    out.set(String(row.key), { values, tokens: side.tokens.map((_, i) => String(row[`t${i}`])) });
  }
  return out;
}

async function partials(
  side: SidePlan,
  name: LedgerSide,
  cut: Cut,
  cells: Map<number, Cell>,
  since: string,
  findings: Findings,
): Promise<void> {
  if (side.required.length === 0) return;
  const withPartial = [...cells.entries()]
    .filter(([, cell]) => cell.p > 0)
    .map(([id]) => id)
    .sort((x, y) => x - y);
  for (const batch of batchesOf(withPartial, cut)) {
    if (findings.full) return;
    const source = batchSource(side, cut, batch, 5);
    const flags = side.required.map((col, i) => `${emptyPredicate(col)} AS f${i}`);
    const cols = side.display.map((col, i) => `${ident(col.name)}::text AS v${i}`);
    const rows = await side.session.query<Record<string, string | boolean | null>>(
      'partial',
      `SELECT ${[`${side.key}::text AS key`, ...flags, ...cols].join(', ')}
         FROM ${source.from}
        WHERE ${side.updatedAt} >= $2 AND ${side.cell} = ANY($3::bigint[]) AND ${side.partial} ${source.where}
        ORDER BY ${side.key}::text COLLATE "C" LIMIT $4`,
      [cut.bounds, since, batch.cells, findings.remaining, ...source.values],
    );
    for (const row of rows) {
      if (findings.full) return;
      const values: RowValues = {};
      side.display.forEach((col, i) => (values[col.name] = (row[`v${i}`] as string | null) ?? null));
      const columns = side.required.filter((_, i) => row[`f${i}`] === true).map((col) => col.name);
      await findings.add({
        class: 'partial',
        key: String(row.key),
        side: name,
        columns,
        [name]: values,
        detail: `${columns.join(', ')} ${columns.length === 1 ? 'is' : 'are'} NULL or empty on ${name}`,
      });
    }
  }
}

async function invariants(
  side: SidePlan,
  name: LedgerSide,
  entry: NonNullable<LedgerConfig['doubleEntry']>,
  config: LedgerConfig,
  since: string,
  findings: Findings,
): Promise<void> {
  const g = ident(entry.group);
  const a = ident(entry.amount);
  const s = ident(entry.side);
  const groupType = side.info.columns.get(entry.group)?.type ?? 'text';
  const signed = `CASE WHEN ${s}::text = $2 THEN ${a} WHEN ${s}::text = $3 THEN -${a} END`;
  const bad = `(${s} IS NULL OR ${s}::text NOT IN ($2, $3) OR ${a} IS NULL)`;
  // Groups touched in the window that don't balance there; a group that started before the window is
  // then summed whole before it is reported.
  const candidates = await side.session.query<{ grp: string }>(
    'invariant',
    `SELECT ${g}::text AS grp FROM ${side.info.sql}
      WHERE ${side.updatedAt} >= $1 AND ${g} IS NOT NULL
      GROUP BY ${g}
     HAVING coalesce(sum(${signed}), 0) <> 0 OR bool_or(${bad})
      LIMIT $4`,
    [since, entry.debit, entry.credit, findings.remaining],
  );
  for (let i = 0; i < candidates.length && !findings.full; i += FLUSH_KEYS) {
    const batch = candidates.slice(i, i + FLUSH_KEYS).map((r) => r.grp);
    const groups = await side.session.query<{
      grp: string;
      debits: string;
      credits: string;
      legs: string;
      bad: string;
    }>(
      'invariant',
      `SELECT ${g}::text AS grp,
              coalesce(sum(${a}) FILTER (WHERE ${s}::text = $2), 0)::text AS debits,
              coalesce(sum(${a}) FILTER (WHERE ${s}::text = $3), 0)::text AS credits,
              count(*) AS legs, count(*) FILTER (WHERE ${bad}) AS bad
         FROM ${side.info.sql} WHERE ${g} = ANY($1::text[]::${groupType}[])
        GROUP BY ${g}
       HAVING coalesce(sum(${signed}), 0) <> 0 OR bool_or(${bad})
        ORDER BY 1`,
      [batch, entry.debit, entry.credit],
    );
    for (const group of groups) {
      if (findings.full) return;
      const odd =
        Number(group.bad) > 0 ? `, ${group.bad} with no amount or a side other than debit/credit` : '';
      await findings.add({
        class: 'invariant',
        key: group.grp,
        side: name,
        columns: [entry.amount, entry.side],
        detail: `${config.doubleEntry?.group ?? 'group'} ${group.grp} on ${name}: debits ${group.debits}, credits ${group.credits} over ${group.legs} entries${odd}`,
      });
    }
  }
}
