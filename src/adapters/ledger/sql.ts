// SQL text for the ledger audit: quoted identifiers and the hash, bucket and partial-row expressions (pure).
import { escapeIdentifier, escapeLiteral } from 'pg';

/** Identifiers from the config are always quoted this way; never interpolated raw. */
export function ident(name: string): string {
  return escapeIdentifier(name);
}

export function literal(value: string): string {
  return escapeLiteral(value);
}

/**
 * A text[] parameter in PostgreSQL's array literal form. The driver would serialize a JS array element by
 * element on every query; the scan sends the same thousands of thresholds with each of its page-range chunks.
 */
export function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
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
  /** A type of PostgreSQL itself (not an enum, domain or other type created in this database). */
  builtin: boolean;
  /** pg_type.typtype: b base, e enum, d domain, c composite… */
  kind: string;
  /** Fractional-second digits of a timestamp column (6 when not declared). */
  precision: number;
  /** How values of a collatable column order: bytewise (C, POSIX), by a locale (libc or ICU), or not text. */
  order: 'none' | 'bytewise' | 'locale';
  /** Equal strings are equal bytes (every collation but a nondeterministic ICU one). */
  deterministic: boolean;
  /** The collation's name, for notes ("default", "und-x-icu"); empty when not collatable. */
  collation: string;
}

/** The kind of value a column holds, as far as comparing two sides goes. */
export type TypeFamily = 'timestamp' | 'number' | 'json' | 'uuid' | 'enum' | 'text' | 'other';

const NUMBERS = new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8']);

export function familyOf(column: ColumnInfo): TypeFamily {
  if (column.baseName === 'timestamp' || column.baseName === 'timestamptz') return 'timestamp';
  if (NUMBERS.has(column.baseName)) return 'number';
  if (column.baseName === 'json' || column.baseName === 'jsonb') return 'json';
  if (column.baseName === 'uuid') return 'uuid';
  if (column.kind === 'e') return 'enum';
  if (column.category === 'S') return 'text';
  return 'other';
}

/**
 * Whether `hash_record_extended` over this column means the same on both sides: the same built-in type (an enum
 * or a domain hashes by ids of its own database) and, for text, a collation whose equality is bytewise.
 */
export function hashableAlike(a: ColumnInfo, b: ColumnInfo): boolean {
  return a.type === b.type && a.builtin && b.builtin && a.deterministic && b.deterministic;
}

/** Numbers as numbers: no trailing zeros, so 5.00 and 5 (and 5::int) print the same. */
function canonicalNumber(expr: string, serverVersion: number): string {
  if (serverVersion >= 130000) return `trim_scale((${expr})::numeric)::text`;
  return `regexp_replace(regexp_replace((${expr})::numeric::text, '(\\.[0-9]*[1-9])0+$', '\\1'), '\\.0+$', '')`;
}

/** JSON text tokens: a string, a number, or anything else (punctuation, true, false, null). */
const JSON_TOKEN = String.raw`("(?:[^"\\]|\\.)*")|(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)|([^"0-9-]+)`;

/**
 * JSON as canonical jsonb text (keys sorted, duplicates resolved, spacing fixed) with numbers normalised, the way
 * jsonb equality sees them: {"amt": 5.00} and {"amt": 5} print the same. Only text with a trailing zero after a
 * decimal point is tokenised.
 */
function canonicalJson(expr: string, serverVersion: number): string {
  const number = serverVersion >= 130000 ? 'trim_scale(m[2]::numeric)::text' : canonicalNumber('m[2]', 0);
  return `(SELECT CASE WHEN cs_j.t !~ '[0-9][.][0-9]*0([^0-9]|$)' THEN cs_j.t
                     ELSE (SELECT string_agg(CASE WHEN m[2] IS NULL THEN coalesce(m[1], m[3]) ELSE ${number} END, '' ORDER BY cs_n)
                             FROM regexp_matches(cs_j.t, ${literal(JSON_TOKEN)}, 'g') WITH ORDINALITY AS cs_m(m, cs_n)) END
             FROM (SELECT (${expr})::jsonb::text AS t) cs_j)`;
}

/**
 * One canonical text per value, the same on both sides for values that are equal: timestamps (with or without
 * zone, read as UTC) as UTC instants at the coarser precision of the two sides, numbers as numbers, JSON as
 * canonical jsonb, enums by label, uuids lower-case. `other` is the same column on the other side.
 */
export function canonicalValue(column: ColumnInfo, other: ColumnInfo, serverVersion: number): string {
  const c = ident(column.name);
  const mine = familyOf(column);
  const theirs = familyOf(other);
  if (mine === 'timestamp' && theirs === 'timestamp') {
    const precision = Math.min(column.precision, other.precision);
    return `((${c})::timestamptz(${precision}) AT TIME ZONE 'UTC')::text`;
  }
  if (mine === 'number' && theirs === 'number') return canonicalNumber(c, serverVersion);
  if (mine === 'json' && theirs === 'json') return canonicalJson(c, serverVersion);
  if (mine === 'uuid' || theirs === 'uuid') return `lower((${c})::text)`;
  // char(n) ignores trailing spaces; a text column facing it is read the same way.
  if (mine === 'text' && other.baseName === 'bpchar' && column.baseName !== 'bpchar')
    return `rtrim((${c})::text, ' ')`;
  return `(${c})::text`;
}

/** Why two columns of different types still compare (one line for the notes), or undefined when alike. */
export function toleratedDifference(legacy: ColumnInfo, cloud: ColumnInfo): string | undefined {
  if (legacy.type === cloud.type && legacy.builtin && cloud.builtin) return undefined;
  const both = `${legacy.name}: ${legacy.type} vs ${cloud.type}`;
  const l = familyOf(legacy);
  const c = familyOf(cloud);
  if (l === 'timestamp' && c === 'timestamp') {
    const p = Math.min(legacy.precision, cloud.precision);
    const loss =
      legacy.precision !== cloud.precision
        ? `; ${legacy.precision < cloud.precision ? 'legacy' : 'cloud'} keeps ${digits(p)}, so both were compared at ${digits(p)} (the finer side rounded)`
        : '';
    return `${both}, compared as UTC instants${loss}`;
  }
  if (l === 'number' && c === 'number') return `${both}, compared as numbers`;
  if (l === 'json' && c === 'json') return `${both}, compared as canonical jsonb`;
  if (l === 'uuid' || c === 'uuid') return `${both}, compared as lower-case uuid text`;
  if (l === 'enum' || c === 'enum') return `${both}, compared by label`;
  return `${both}, compared as text`;
}

function digits(precision: number): string {
  if (precision === 6) return 'microseconds';
  if (precision === 3) return 'milliseconds';
  if (precision === 0) return 'whole seconds';
  return `${precision} fractional digits`;
}

export type HashMethod = 'hash_record_extended' | 'md5';

/**
 * A signed 64-bit hash of the compared columns of one row: the binary hash when every column is alike on both
 * sides, else md5 of the canonical values (`canonical`, one SQL expression per column).
 */
export function rowHash(
  columns: ColumnInfo[],
  method: HashMethod,
  canonical: string[],
  direct: ReadonlyMap<string, string> = new Map(),
): string {
  if (method === 'hash_record_extended') {
    // Columns whose type's own extended hash function takes the column as it is are hashed by a direct call,
    // seeded by their position (a NULL counts as the seed): no record is built and taken apart again per row.
    // A timestamptz goes to its opclass's timestamp_hash_extended through a cast to timestamp, the identity on
    // the instant in the audit's sessions (TimeZone = 'UTC'). The rest (arrays, domains…) go through one
    // hash_record_extended; the parts are XORed.
    const parts: string[] = [];
    const rest: string[] = [];
    columns.forEach((c, i) => {
      const fn = direct.get(c.name);
      const arg = fn === 'timestamp_hash_extended' && c.baseName === 'timestamptz' ? '::timestamp' : '';
      if (fn && /^[a-z_][a-z0-9_]*$/.test(fn))
        parts.push(`coalesce(${fn}(${ident(c.name)}${arg}, ${i + 1}), ${i + 1})`);
      else rest.push(ident(c.name));
    });
    if (rest.length > 0 || parts.length === 0) parts.push(`hash_record_extended(ROW(${rest.join(', ')}), 0)`);
    return parts.length === 1 ? (parts[0] ?? '') : `(${parts.join(' # ')})`;
  }
  const parts = canonical.map((expr) => `quote_nullable(${expr})`);
  return `('x' || substr(md5(concat_ws(',', ${parts.join(', ')})), 1, 16))::bit(64)::bigint`;
}

/** One comparable token per column, to name the columns that differ in a mismatched row. */
export function columnToken(column: ColumnInfo, method: HashMethod, canonical: string): string {
  if (method === 'hash_record_extended') return `hash_record_extended(ROW(${ident(column.name)}), 0)::text`;
  return `md5(quote_nullable(${canonical}))`;
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

/**
 * The same test as `emptyPredicate`, with a cheap necessary condition first, for the scan that evaluates it on
 * every row: an empty jsonb is at most 12 bytes, and a text of spaces only is empty or sorts before '!' bytewise.
 */
function scanEmptyPredicate(column: ColumnInfo): string {
  const c = ident(column.name);
  if (column.baseName === 'jsonb')
    return `(${c} IS NULL OR (pg_column_size(${c}) <= 12 AND ${c} IN ('{}'::jsonb, '[]'::jsonb, 'null'::jsonb, '""'::jsonb)))`;
  if (column.category === 'S')
    return `(${c} IS NULL OR ((${c})::text COLLATE "C" < '!' AND btrim(${c}::text) = ''))`;
  return emptyPredicate(column);
}

/** True when a row is half-written: a required column is NULL or empty (evaluated by the scan on every row). */
export function partialPredicate(required: ColumnInfo[]): string {
  return required.length === 0 ? 'false' : `(${required.map(scanEmptyPredicate).join(' OR ')})`;
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
