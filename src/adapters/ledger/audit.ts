// The ledger audit: bucketed row hashes computed inside both databases, compared here; rows fetched only where they differ.
//
// 1. Both sides open a REPEATABLE READ READ ONLY snapshot (TimeZone=UTC) and their catalogs are checked.
// 2. Bucket thresholds are cut from actual keys of one side (exactly, or from a page sample for big windows).
// 3. One pass over each table, both sides at once: count, sum of a 64-bit row hash and partial rows per cell (a
//    fine key range; for variable-width keys a bucket times 64 slices by a key hash), read in physical page
//    ranges (TID range scans) so progress and ETA can be told.
// 4. For cells that differ, keys and row hashes stream from both sides in the same order and are merged; keys
//    found on one side only are looked up by key on the other (a row may sit outside the window there); only
//    then are full rows fetched, for the keys that differ.
// 5. Partial rows are fetched from the cells that counted some; double-entry groups are summed per side.
import type { LedgerConfig } from '../../config.ts';
import { zeroCounts, type AuditOptions, type AuditResult, type DifferenceClass } from '../../ledger.ts';
import { duplicates, invariants, partials } from './audit-checks.ts';
import { drill } from './audit-drill.ts';
import { Findings, Progress, ROW_CLASSES } from './audit-findings.ts';
import { CELLS_PER_BUCKET, keyPlanOf, type Cut, type KeyPlan, type SidePlan } from './audit-plan.ts';
import { coversTable, cutterReads, prescan, type Prescan } from './audit-prescan.ts';
import {
  cutThresholds,
  scan,
  sumPartial,
  sumRows,
  unbalancedRanges,
  type EntryScan,
  type ScanResult,
} from './audit-scan.ts';
import { groupRanges, interpolate, rowsNow, STATS_MIN_WINDOW_ROWS } from './audit-stats.ts';
import { both, failure } from './audit-sides.ts';
import { canHashRecords, inspectTable, neededColumns, type TableInfo } from './schema.ts';
import type { LedgerSideDb, SideSession } from './side.ts';
import {
  canonicalValue,
  cellExpr,
  columnToken,
  hashableAlike,
  toleratedDifference,
  ident,
  partialPredicate,
  rowHash,
  SLICES,
  type ColumnInfo,
  type HashMethod,
  type TableName,
} from './sql.ts';

export { both, compareC } from './audit-sides.ts';

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
  const entry = config.doubleEntry;
  const ask = {
    indexed: [config.key, config.updatedAt, ...(entry ? [entry.group] : [])],
    group: entry?.group,
    hashed: config.columns,
  };
  const bare = (session: SideSession, info: TableInfo) => ({
    session,
    info,
    updatedAt: ident(config.updatedAt),
  });
  // The cloud side reads its estimates and catalog while the legacy side still checks that records can be hashed.
  const [[hashable, lPre], cPre] = await both(
    (async () => {
      const ok = alike && sameMajor && (await canHashRecords(lSession, lCompared));
      return [ok, await prescan(bare(lSession, lInfo), since, ask)] as const;
    })(),
    prescan(bare(cSession, cInfo), since, ask),
  );
  const method: HashMethod = hashable ? 'hash_record_extended' : 'md5';
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
  const lKey = keyPlanOf(config.key, nativeKey, lInfo, lKeyCol, cKeyCol);
  const cKey = keyPlanOf(config.key, nativeKey, cInfo, cKeyCol, lKeyCol);
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
      window: `${ident(config.updatedAt)} >= $2`,
      display: display.map((name) => info.columns.get(name)).filter((x) => x !== undefined),
      compared,
      tokens: compared.map((col, i) => columnToken(col, method, canonical[i] ?? 'NULL')),
      required,
    };
  };
  const L = plan(lSession, lInfo, lKey, lCompared, lCanonical);
  const C = plan(cSession, cInfo, cKey, cCompared, cCanonical);
  if (method === 'hash_record_extended') {
    // Columns hashed by a direct call on both sides: only where both sides name the same function.
    const direct = new Map([...lPre.direct].filter(([name, fn]) => cPre.direct.get(name) === fn));
    L.hash = rowHash(lCompared, method, lCanonical, direct);
    C.hash = rowHash(cCompared, method, cCanonical, direct);
  }
  const progress = new Progress(opts.onProgress, config.doubleEntry !== undefined);

  // Thresholds come from the side with more rows in the window.
  const lEst = lPre.est;
  const cEst = cPre.est;
  const cutter = cEst.window >= lEst.window ? C : L;
  const windowRows = Math.max(lEst.window, cEst.window);
  const groupCol = entry ? cutter.info.columns.get(entry.group) : undefined;
  // The cutter's statistics, largest key and group and window cover in one round trip; the other side's cover at once.
  const [cutPre, other, otherPre] = cutter === C ? [cPre, L, lPre] : [lPre, C, cPre];
  const statsOf = [...new Set([config.key, ...(entry ? [entry.group] : [])])];
  const covers = (pre: Prescan) =>
    pre.indexed.has(config.updatedAt) ? { updatedAt: config.updatedAt, since } : undefined;
  const [reads, otherCovers] = await both(
    cutterReads(
      cutter,
      statsOf,
      statsOf.filter((c) => cutPre.indexed.has(c)),
      covers(cutPre),
    ),
    coversTable(other, config.updatedAt, since, otherPre.indexed.has(config.updatedAt)),
  );
  const stats = reads.stats;
  // Cut from statistics, cells cost nothing to make, so they are 4x finer: a differing cell is read back with
  // a quarter of the rows (at 1 M rows and 100 scattered differences the drill otherwise reads 8% of the table).
  const statsCellRows = Math.max(16, Math.floor(cellRows / 4));
  const fromStats =
    fine && windowRows >= STATS_MIN_WINDOW_ROWS && rowsNow(stats) <= 4 * windowRows
      ? interpolate(stats, lKeyCol, statsCellRows, reads.max.get(config.key))
      : undefined;
  const thresholds = fromStats
    ? { keys: fromStats, sampled: false }
    : await cutThresholds(cutter, since, {
        windowRows,
        cellRows,
        bucketRows: config.bucketRows,
        pages: (cutter === C ? cEst : lEst).pages,
      });
  if (fromStats) notes.push('bucket thresholds were interpolated from the table statistics (pg_stats).');
  if (thresholds.sampled) notes.push('bucket thresholds were cut from a page sample of the window.');
  const cut: Cut = { bounds: thresholds.keys, slices };
  const bounds = cut.bounds;
  const cellsPerBucket = fromStats ? CELLS_PER_BUCKET * 4 : CELLS_PER_BUCKET;
  const totalBuckets = Math.ceil(((bounds.length + 1) * slices) / cellsPerBucket);

  // The double-entry sums ride on the same pass, per range of the group column.
  const ranges =
    entry && groupCol
      ? groupRanges(stats, config.key, groupCol, bounds.length + 1, cellRows, reads.max.get(entry.group))
      : [];
  const entryScan = (side: SidePlan, pre: Prescan): EntryScan | undefined => {
    if (!entry) return undefined;
    const g = ident(entry.group);
    const type = side.info.columns.get(entry.group)?.type ?? 'text';
    const hash = pre.groupHash;
    // A weight per group, so two groups off by opposite amounts in one range do not cancel out.
    const weight = hash
      ? `((${hash}(${g}, 2026) & 1048575) + 1)`
      : `((hashtextextended(${g}::text, 2026) & 1048575) + 1)`;
    const s = `${ident(entry.side)}::text`;
    const a = ident(entry.amount);
    return {
      range:
        ranges.length > 0
          ? `width_bucket(${g}, $3::text[]::${type}[])`
          : `CASE WHEN ${g} IS NULL OR $3::text[] IS NULL THEN NULL ELSE 0 END`,
      weighted: `(${a})::numeric * ${weight}`,
      isDebit: `${s} = $4`,
      isCredit: `${s} = $5`,
      // side IS NULL OR side NOT IN (debit, credit) OR amount IS NULL, without NOT IN's per-row array walk.
      bad: `((${s} = $4 OR ${s} = $5) IS NOT TRUE OR ${a} IS NULL)`,
      values: [ranges, entry.debit, entry.credit],
    };
  };
  const lEntry = entryScan(L, lPre);
  const cEntry = entryScan(C, cPre);
  // A table wholly inside the window is scanned with no filter at all.
  const lAll = cutter === L ? reads.covers : otherCovers;
  const cAll = cutter === C ? reads.covers : otherCovers;
  if (lAll) L.window = '$2::timestamptz IS NOT NULL';
  if (cAll) C.window = '$2::timestamptz IS NOT NULL';

  progress.pages('legacy', lEst.pages);
  progress.pages('cloud', cEst.pages);
  const [lScan, cScan] = await both(
    scan(L, 'legacy', bounds, since, lEst, progress, lEntry),
    scan(C, 'cloud', bounds, since, cEst, progress, cEntry),
  );
  const lCells = lScan.cells;
  const cCells = cScan.cells;
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
  const differingBuckets = new Set(differing.map((id) => Math.floor(id / cellsPerBucket))).size;
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
  if (entry && !findings.full) {
    // Only the group ranges the scan found unbalanced are read again, on each side at once.
    const only = (result: ScanResult) => {
      const flagged = result.ranges ? unbalancedRanges(result.ranges) : [];
      return flagged.length === 0 ? undefined : { thresholds: ranges, ranges: flagged };
    };
    const lOnly = only(lScan);
    const cOnly = only(cScan);
    await both(
      lOnly ? invariants(L, 'legacy', entry, config, since, findings, lOnly) : Promise.resolve(),
      cOnly ? invariants(C, 'cloud', entry, config, since, findings, cOnly) : Promise.resolve(),
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
