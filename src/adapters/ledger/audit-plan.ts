// Shared audit types and tuning constants: cells, key and side plans, cuts and batches.
import type { QueryResultRow } from 'pg';
import type { TableInfo } from './schema.ts';
import type { SideSession } from './side.ts';
import { compareC } from './audit-sides.ts';
import { canonicalValue, familyOf, ident, type ColumnInfo } from './sql.ts';

const INTEGER_KEYS = new Set(['int2', 'int4', 'int8']);

/** Differing cells read back per query (their key ranges joined in, each an index range scan). */
export const BATCH_CELLS = 128;
/** Cells per reported bucket (a bucket is about `bucketRows` rows). */
export const CELLS_PER_BUCKET = 64;
/** Drill rows per FETCH: a batch of fine cells (~200 rows each) is read in one or two round trips. */
export const FETCH_ROWS = 20_000;
/** Keys resolved (looked up, fetched, classified) per round trip. */
export const FLUSH_KEYS = 500;
/** Pages per TID range chunk at least; big tables are cut into about CHUNKS chunks. */
export const MIN_CHUNK_PAGES = 1000;
export const CHUNKS = 10;

export interface Cell {
  n: number;
  s: bigint;
  p: number;
}

/** How one side's key is read, bucketed and looked up. */
export interface KeyPlan {
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
  /** How the drill orders keys (SQL), and the same order for their text here: integers as numbers, else bytewise. */
  orderBy: string;
  compare: (a: string, b: string) => number;
}

/** Integer keys ordered as numbers: the index order, so no sort of key text is needed. */
export function compareIntegers(a: string, b: string): number {
  // Up to 15 digits a double holds exactly: no BigInt per comparison (the drill compares every key it reads).
  if (a.length <= 15 && b.length <= 15) {
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function uuidsOnly(keys: string[]): string[] {
  return keys.filter((k) => UUID.test(k));
}

export function allKeys(keys: string[]): string[] {
  return keys;
}

/** What one side needs to build its SQL. */
export interface SidePlan {
  session: SideSession;
  info: TableInfo;
  key: string;
  keyType: string;
  keyPlan: KeyPlan;
  updatedAt: string;
  hash: string;
  cell: string;
  partial: string;
  /** The scan's window filter: `updatedAt >= $2`, or a constant when every row of the table is in the window. */
  window: string;
  display: ColumnInfo[];
  compared: ColumnInfo[];
  tokens: string[];
  required: ColumnInfo[];
}

export interface DrillRow extends QueryResultRow {
  key: string;
  h: string;
  fresh: boolean;
}

/** How the key space is cut: thresholds, and slices per key range (1 for fine ranges). */
export interface Cut {
  bounds: string[];
  slices: number;
}

/** Cells read back together: their key ranges (buckets of the cut) and the cells wanted in them. */
export interface Batch {
  cells: number[];
  buckets: number[];
}

/** How one side's key is read, bucketed and looked up: natively, or by its canonical text under COLLATE "C". */
export function keyPlanOf(
  key: string,
  nativeKey: boolean,
  info: TableInfo,
  mine: ColumnInfo,
  theirs: ColumnInfo,
): KeyPlan {
  if (nativeKey) {
    const type = mine.type;
    return {
      expr: ident(key),
      type,
      hash: info.keyHashFunction
        ? `${info.keyHashFunction}(${ident(key)}, 0)`
        : `hashtextextended(${ident(key)}::text, 0)`,
      lookup: (param) => `${ident(key)} = ANY(${param}::text[]::${type}[])`,
      lookupValues: (keys) => keys,
      injective: true,
      ...(INTEGER_KEYS.has(mine.baseName)
        ? { orderBy: ident(key), compare: compareIntegers }
        : { orderBy: `${ident(key)}::text COLLATE "C"`, compare: compareC }),
    };
  }
  const canonical = canonicalValue(mine, theirs, info.serverVersion);
  const expr = `((${canonical}) COLLATE "C")`;
  const family = familyOf(mine);
  const identity = canonical === `(${ident(key)})::text`;
  // Equality lookups go through the key's own index where the canonical text maps back to one value.
  const lookup =
    family === 'uuid'
      ? { sql: (param: string) => `${ident(key)} = ANY(${param}::uuid[])`, values: uuidsOnly }
      : family === 'text' && identity && mine.deterministic
        ? { sql: (param: string) => `${ident(key)} = ANY(${param}::text[])`, values: allKeys }
        : { sql: (param: string) => `${expr} = ANY(${param}::text[])`, values: allKeys };
  return {
    expr,
    type: 'text',
    hash: `hashtextextended(${expr}, 0)`,
    lookup: lookup.sql,
    lookupValues: lookup.values,
    // Lower-casing or trimming can fold two stored keys into one canonical key.
    injective: identity || family === 'uuid',
    orderBy: `${expr}::text COLLATE "C"`,
    compare: compareC,
  };
}
