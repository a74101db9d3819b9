// Reads the ledger table's shape from each side's catalog and checks it against the config, naming the side.
import { ExternalServiceError } from '../../errors.ts';
import type { LedgerConfig } from '../../config.ts';
import type { SideSession } from './side.ts';
import { displayTable, literal, qualified, type ColumnInfo, type TableName } from './sql.ts';

export interface TableInfo {
  oid: number;
  /** The schema-qualified, quoted name to put in SQL. */
  sql: string;
  display: string;
  serverVersion: number;
  columns: Map<string, ColumnInfo>;
  /** A unique index (or primary key) covers exactly the key column. */
  keyUnique: boolean;
  /** The extended hash function of the key's type ("hashint8extended"), when it has one. */
  keyHashFunction: string | undefined;
  /** Every column name in table order (for reconcile). */
  allColumns: ColumnInfo[];
}

/** Columns whose values the audit reads: compared, window, required and double-entry ones. */
export function neededColumns(config: LedgerConfig): string[] {
  const names = [config.key, config.updatedAt, ...config.columns, ...config.required];
  if (config.doubleEntry)
    names.push(config.doubleEntry.group, config.doubleEntry.amount, config.doubleEntry.side);
  return [...new Set(names)];
}

function fault(session: SideSession, text: string): ExternalServiceError {
  return new ExternalServiceError(`${session.side} database`, `${session.target}: ${text}`);
}

const COLUMNS_SQL = `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            bt.typcategory AS category, bt.typname AS base,
            a.attgenerated <> '' AS generated, a.attidentity <> '' AS identity, a.attnum AS num,
            bt.typlen::int AS len, t.oid < 16384 AS builtin, bt.typtype::text AS kind, a.atttypmod AS typmod,
            coalesce(co.collname::text, '') AS collation,
            -- "default" is the database's collation; to_jsonb reads columns older servers do not have.
            CASE WHEN a.attcollation = 0 THEN ''
                 WHEN co.collname = 'default' THEN coalesce(to_jsonb(d) ->> 'datlocprovider', 'c')
                 ELSE co.collprovider::text END AS provider,
            CASE WHEN co.collname = 'default' THEN d.datcollate::text ELSE coalesce(co.collcollate::text, '') END AS collate,
            coalesce((to_jsonb(co) ->> 'collisdeterministic')::boolean, true) AS deterministic
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
       LEFT JOIN pg_database d ON d.datname = current_database()
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`;

const UNIQUE_SQL = `SELECT EXISTS (
       SELECT 1 FROM pg_index i
        WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
          AND i.indnkeyatts = 1 AND i.indkey[0] = $2) AS unique`;

const HASH_FN_SQL = `SELECT p.amproc::regproc::text AS fn
       FROM pg_opclass oc
       JOIN pg_am am ON am.oid = oc.opcmethod AND am.amname = 'hash'
       JOIN pg_amproc p ON p.amprocfamily = oc.opcfamily AND p.amprocnum = 2
                       AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype
      WHERE oc.opcdefault AND oc.opcintype = (SELECT atttypid FROM pg_attribute WHERE attrelid = $1 AND attnum = $2)
      LIMIT 1`;

export async function inspectTable(
  session: SideSession,
  table: TableName,
  config: LedgerConfig,
): Promise<TableInfo> {
  const sqlName = qualified(table);
  // One round trip: the table, its columns, whether the key is unique and its hash function, by the name.
  const rel = `to_regclass(${literal(sqlName)})`;
  const keyAttnum = `(SELECT attnum FROM pg_attribute WHERE attrelid = ${rel} AND attname = ${literal(config.key)} AND NOT attisdropped)`;
  const results = await session.batch('inspect', [
    `SELECT ${rel}::oid::int AS oid, current_setting('server_version_num')::int AS version`,
    COLUMNS_SQL.replace('$1', () => rel),
    UNIQUE_SQL.replace('$1', () => rel).replace('$2', () => keyAttnum),
    HASH_FN_SQL.replace('$1', () => rel).replace('$2', () => keyAttnum),
  ]);
  const found = results[0]?.[0] as { oid: number | null; version: number } | undefined;
  if (!found?.oid) {
    throw fault(
      session,
      `table ${displayTable(table)} does not exist (or the bot's user cannot see it). Check ledger.table and the search_path.`,
    );
  }
  const rows = (results[1] ?? []) as {
    name: string;
    type: string;
    category: string;
    base: string;
    generated: boolean;
    identity: boolean;
    num: number;
    len: number;
    builtin: boolean;
    kind: string;
    typmod: number;
    collation: string;
    provider: string;
    collate: string;
    deterministic: boolean;
  }[];
  const columns = new Map<string, ColumnInfo>();
  const allColumns: ColumnInfo[] = [];
  for (const row of rows) {
    const info: ColumnInfo = {
      name: row.name,
      type: row.type,
      category: row.category,
      baseName: row.base,
      generated: row.generated,
      identity: row.identity,
      fixedWidth: row.len > 0,
      builtin: row.builtin,
      kind: row.kind,
      precision: timestampPrecision(row.base, row.typmod),
      order:
        row.provider === ''
          ? 'none'
          : row.provider !== 'i' && (row.collate === 'C' || row.collate === 'POSIX')
            ? 'bytewise'
            : 'locale',
      deterministic: row.deterministic,
      collation: row.collation,
    };
    columns.set(row.name, info);
    allColumns.push(info);
  }
  const missing = neededColumns(config).filter((name) => !columns.has(name));
  if (missing.length > 0) {
    throw fault(
      session,
      `${displayTable(table)} has no column ${missing.map((m) => `"${m}"`).join(', ')}. Column names are case-sensitive; fix ledger.${missing.length === 1 ? 'columns' : 'columns/key/required'} in the config.`,
    );
  }
  const unique = results[2]?.[0] as { unique: boolean } | undefined;
  const hashFn = results[3]?.[0] as { fn: string | null } | undefined;
  return {
    oid: found.oid,
    sql: sqlName,
    display: displayTable(table),
    serverVersion: found.version,
    columns,
    keyUnique: unique?.unique ?? false,
    keyHashFunction: hashFn?.fn ?? undefined,
    allColumns,
  };
}

/** Fractional-second digits a timestamp column keeps: its typmod, or 6 (microseconds) when undeclared. */
function timestampPrecision(base: string, typmod: number): number {
  if (base !== 'timestamp' && base !== 'timestamptz') return 6;
  return typmod >= 0 && typmod <= 6 ? typmod : 6;
}

/** Whether `hash_record_extended` can hash every one of these columns on this server. */
export async function canHashRecords(session: SideSession, columns: ColumnInfo[]): Promise<boolean> {
  // One try for every type at once: a single type that cannot be hashed fails the whole row.
  const types = [...new Set(columns.map((c) => c.type))];
  if (types.length === 0) return true;
  // Savepoint, try and release in one round trip; only a failure costs a second one (the rollback to it).
  try {
    await session.batch('inspect', [
      'SAVEPOINT cs_attempt',
      `SELECT hash_record_extended(ROW(${types.map((t) => `NULL::${t}`).join(', ')}), 0)`,
      'RELEASE SAVEPOINT cs_attempt',
    ]);
    return true;
  } catch {
    // A lost connection fails this too, and is reported as such.
    await session.query('savepoint', 'ROLLBACK TO SAVEPOINT cs_attempt');
    return false;
  }
}
