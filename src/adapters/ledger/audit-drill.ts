// The audit's drill phase: differing cells streamed from both sides, merged, and their keys resolved.
import type { QueryResultRow } from 'pg';
import type { LedgerSide, RowValues } from '../../ledger.ts';
import type { Findings, Progress } from './audit-findings.ts';
import {
  BATCH_CELLS,
  FETCH_ROWS,
  FLUSH_KEYS,
  type Batch,
  type Cut,
  type DrillRow,
  type SidePlan,
} from './audit-plan.ts';
import { both, interval } from './audit-sides.ts';
import type { SideSession } from './side.ts';
import { ident } from './sql.ts';

/** Groups cells into batches; the open-ended first and last ranges go alone (no index range to join). */
export function batchesOf(cells: number[], cut: Cut): Batch[] {
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
export function batchSource(side: SidePlan, cut: Cut, batch: Batch, at: number) {
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

/**
 * Keeps the rows of the batch's cells ($3). With fine key ranges (one slice) a cell is exactly its key range, which
 * the batch's FROM already reads, so there is nothing to test per row; $1 and $3 are still named for their types.
 */
function cellFilter(side: SidePlan, cut: Cut): string {
  if (cut.slices === 1) return '$1::text[] IS NOT NULL AND $3::bigint[] IS NOT NULL';
  return `${side.cell} = ANY($3::bigint[])`;
}

/** Streams rows of a cursor in batches. */
class CursorReader<R extends QueryResultRow> {
  #session: SideSession;
  #name: string;
  #buffer: R[] = [];
  #at = 0;
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
    if (this.#at >= this.#buffer.length && !this.#done) {
      this.#buffer = await this.#session.query<R>('drill', `FETCH ${FETCH_ROWS} FROM ${this.#name}`);
      this.#at = 0;
      if (this.#buffer.length < FETCH_ROWS) this.#done = true;
    }
    return this.#buffer[this.#at++];
  }

  /** The next row without a round trip, when one is buffered (or the cursor is done): no promise per row. */
  get ready(): boolean {
    return this.#at < this.#buffer.length || this.#done;
  }

  take(): R | undefined {
    return this.#buffer[this.#at++];
  }

  async close(): Promise<void> {
    await this.#session.query('drill', `CLOSE ${this.#name}`);
  }
}

export async function drill(
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
        // OFFSET 0 keeps the key ranges read by index and sorted after: asked for key order directly, the
        // planner may walk the whole key index instead.
        `SELECT key, h, fresh FROM (
           SELECT ${side.key}::text AS key, (${side.hash})::text AS h,
                  ${side.updatedAt} > now() - $4::interval AS fresh, ${side.keyPlan.orderBy} AS cs_o
             FROM ${source.from}
            WHERE ${side.updatedAt} >= $2 AND ${cellFilter(side, cut)} ${source.where}
           OFFSET 0) cs_d
          ORDER BY cs_o`,
        [cut.bounds, since, batch.cells, interval(inFlightMs), ...source.values],
      );
    };
    const [lc, cc] = await both(open(L), open(C));
    let [a, b] = await both(lc.next(), cc.next());
    while ((a || b) && !findings.full) {
      const order = !a ? 1 : !b ? -1 : L.keyPlan.compare(a.key, b.key);
      if (order < 0 && a) {
        await resolver.onlyIn('legacy', a);
        a = lc.ready ? lc.take() : await lc.next();
      } else if (order > 0 && b) {
        await resolver.onlyIn('cloud', b);
        b = cc.ready ? cc.take() : await cc.next();
      } else if (a && b) {
        if (a.h !== b.h) await resolver.mismatch(a.key, a.fresh || b.fresh);
        [a, b] = lc.ready && cc.ready ? [lc.take(), cc.take()] : await both(lc.next(), cc.next());
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
