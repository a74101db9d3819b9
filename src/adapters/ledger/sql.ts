// SQL text for the ledger audit: quoted identifiers and the hash, bucket and partial-row expressions (pure).
import { escapeIdentifier, escapeLiteral } from 'pg';

/** Identifiers from the config are always quoted this way; never interpolated raw. */
export function ident(name: string): string {
  return escapeIdentifier(name);
}

export function literal(value: string): string {
  return escapeLiteral(value);
}

export interface TableName {
  schema?: string;
  name: string;
}

/** "ledger" or "schema.ledger" as the config writes it. */
export function parseTableName(text: string): TableName {
  const dot = text.indexOf('.');
  return dot < 0 ? { name: text } : { schema: text.slice(0, dot), name: text.slice(dot + 1) };
}

export function qualified(table: TableName): string {
  return table.schema ? `${ident(table.schema)}.${ident(table.name)}` : ident(table.name);
}

export function displayTable(table: TableName): string {
  return table.schema ? `${table.schema}.${table.name}` : table.name;
}

/** A column as the catalog describes it on one side. */
export interface ColumnInfo {
  name: string;
  /** format_type(): "numeric(14,2)", "timestamp with time zone", "character varying(40)"… */
  type: string;
  /** pg_type.typcategory: S string, N numeric, D date/time, A array, U user (json, jsonb, uuid)… */
  category: string;
  /** pg_type.typname of the base type: "numeric", "jsonb", "bpchar"… */
  baseName: string;
  generated: boolean;
  identity: boolean;
  /** pg_type.typlen > 0: a fixed-width type (int8, uuid, timestamptz…). */
  fixedWidth: boolean;
}

/** Text that prints the same value the same way on any server we talk to (the md5 path). */
export function normalizedText(column: ColumnInfo, serverVersion: number): string {
  const c = ident(column.name);
  if (column.baseName === 'numeric' && serverVersion >= 130000) return `trim_scale(${c})::text`;
  if (column.baseName === 'json' || column.baseName === 'jsonb') return `${c}::jsonb::text`;
  return `${c}::text`;
}

export type HashMethod = 'hash_record_extended' | 'md5';

/** A signed 64-bit hash of the compared columns of one row. */
export function rowHash(columns: ColumnInfo[], method: HashMethod, serverVersion: number): string {
  if (method === 'hash_record_extended') {
    return `hash_record_extended(ROW(${columns.map((c) => ident(c.name)).join(', ')}), 0)`;
  }
  const parts = columns.map((c) => `quote_nullable(${normalizedText(c, serverVersion)})`);
  return `('x' || substr(md5(concat_ws(',', ${parts.join(', ')})), 1, 16))::bit(64)::bigint`;
}

/** One comparable token per column, to name the columns that differ in a mismatched row. */
export function columnToken(column: ColumnInfo, method: HashMethod, serverVersion: number): string {
  if (method === 'hash_record_extended') return `hash_record_extended(ROW(${ident(column.name)}), 0)::text`;
  return `md5(quote_nullable(${normalizedText(column, serverVersion)}))`;
}

/** True when the column holds nothing useful: NULL, or empty for its kind of type. */
export function emptyPredicate(column: ColumnInfo): string {
  const c = ident(column.name);
  if (column.baseName === 'json' || column.baseName === 'jsonb')
    return `(${c} IS NULL OR ${c}::jsonb IN ('{}'::jsonb, '[]'::jsonb, 'null'::jsonb, '""'::jsonb))`;
  if (column.category === 'S') return `(${c} IS NULL OR btrim(${c}::text) = '')`;
  if (column.category === 'A') return `(${c} IS NULL OR cardinality(${c}) = 0)`;
  return `(${c} IS NULL)`;
}

export function partialPredicate(required: ColumnInfo[]): string {
  return required.length === 0 ? 'false' : `(${required.map(emptyPredicate).join(' OR ')})`;
}

/** Slices per bucket when the key is variable-width: each bucket's rows spread over slices by a key hash. */
export const SLICES = 64;

/**
 * The cell of a row. Fixed-width keys (bigint, uuid, timestamps): the key range it falls in, cut by actual keys
 * (`$thresholds`) finely, so a differing cell is read back with one small index range scan. Variable-width keys
 * (text, numeric), where width_bucket walks the array, get coarse ranges times SLICES slices by a key hash.
 * Both sides compute the same cell for the same key.
 */
export function cellExpr(
  keyExpr: string,
  keyType: string,
  keyHash: string | undefined,
  thresholdsParam: string,
  slices: number,
): string {
  const bucket = `width_bucket(${keyExpr}, ${thresholdsParam}::text[]::${keyType}[])`;
  if (slices === 1 || keyHash === undefined) return `${bucket}::bigint`;
  return `(${bucket} * ${slices} + (${keyHash} & ${slices - 1}))`;
}
