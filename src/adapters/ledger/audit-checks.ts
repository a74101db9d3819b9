// The audit's per-side checks: duplicate keys, partial rows and double-entry invariants.
import type { LedgerConfig } from '../../config.ts';
import type { LedgerSide, RowValues } from '../../ledger.ts';
import { batchesOf, batchSource } from './audit-drill.ts';
import type { Findings } from './audit-findings.ts';
import { FLUSH_KEYS, type Cell, type Cut, type SidePlan } from './audit-plan.ts';
import { emptyPredicate, ident } from './sql.ts';

/**
 * Keys stored more than once on a side (no unique index, or two stored keys with one canonical form), where at
 * least one copy is in the window: reported as duplicates, never compared as if they were one row.
 */
export async function duplicates(
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

export async function partials(
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

/** Most group ranges read again by their bounds (an OR of index ranges); more than that, the whole window. */
export const MAX_RANGES = 256;

/**
 * Which group ranges to read again: `thresholds` cut the group column (range r covers [thresholds[r-1],
 * thresholds[r])), `ranges` are the ones the scan found unbalanced. Undefined: the whole window.
 */
export interface GroupRanges {
  thresholds: string[];
  ranges: number[];
}

/** WHERE text (and its values, from parameter $at on) that keeps only rows of the given group ranges. */
export function rangeFilter(
  column: string,
  type: string,
  restrict: GroupRanges | undefined,
  at: number,
): { where: string; values: string[] } {
  if (!restrict || restrict.thresholds.length === 0 || restrict.ranges.length > MAX_RANGES)
    return { where: '', values: [] };
  const values: string[] = [];
  const param = (v: string) => {
    values.push(v);
    return `$${at + values.length - 1}::text::${type}`;
  };
  const parts = restrict.ranges.map((r) => {
    const lo = r > 0 ? restrict.thresholds[r - 1] : undefined;
    const hi = r < restrict.thresholds.length ? restrict.thresholds[r] : undefined;
    const clauses = [
      ...(lo !== undefined ? [`${column} >= ${param(lo)}`] : []),
      ...(hi !== undefined ? [`${column} < ${param(hi)}`] : []),
    ];
    return clauses.length > 0 ? `(${clauses.join(' AND ')})` : 'true';
  });
  return { where: parts.length > 0 ? `AND (${parts.join(' OR ')})` : 'AND false', values };
}

export async function invariants(
  side: SidePlan,
  name: LedgerSide,
  entry: NonNullable<LedgerConfig['doubleEntry']>,
  config: LedgerConfig,
  since: string,
  findings: Findings,
  restrict?: GroupRanges,
): Promise<void> {
  const g = ident(entry.group);
  const a = ident(entry.amount);
  const s = ident(entry.side);
  const groupType = side.info.columns.get(entry.group)?.type ?? 'text';
  const signed = `CASE WHEN ${s}::text = $2 THEN ${a} WHEN ${s}::text = $3 THEN -${a} END`;
  const bad = `(${s} IS NULL OR ${s}::text NOT IN ($2, $3) OR ${a} IS NULL)`;
  const only = rangeFilter(g, groupType, restrict, 5);
  // Groups touched in the window that don't balance there (only in the ranges the scan found unbalanced); a
  // group that started before the window is then summed whole before it is reported.
  const candidates = await side.session.query<{ grp: string }>(
    'invariant',
    `SELECT ${g}::text AS grp FROM ${side.info.sql}
      WHERE ${side.updatedAt} >= $1 AND ${g} IS NOT NULL ${only.where}
      GROUP BY ${g}
     HAVING coalesce(sum(${signed}), 0) <> 0 OR bool_or(${bad})
      LIMIT $4`,
    [since, entry.debit, entry.credit, findings.remaining, ...only.values],
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
