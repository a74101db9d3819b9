// Copies rows the cloud side wrote and legacy never got into legacy: one transaction, idempotent, never overwriting.
import type { LedgerConfig } from '../../config.ts';
import { ExternalServiceError } from '../../errors.ts';
import type { ReconcilePlan, ReconcileResult } from '../../ledger.ts';
import { both } from './audit.ts';
import { inspectTable, type TableInfo } from './schema.ts';
import type { LedgerSideDb, SideSession } from './side.ts';
import { ident, literal, type TableName } from './sql.ts';

const BATCH = 1000;

interface Shape {
  legacy: TableInfo;
  cloud: TableInfo;
  /** Columns copied: present on both sides and not generated on legacy. */
  columns: string[];
}

async function shape(legacy: SideSession, cloud: SideSession, config: LedgerConfig, table: TableName) {
  const [l, c] = await both(inspectTable(legacy, table, config), inspectTable(cloud, table, config));
  if (!l.keyUnique) {
    throw new ExternalServiceError(
      'legacy database',
      `${legacy.target}: ${l.display} has no unique index on ${config.key}, so a copy could not be made idempotent. Add one, or copy by hand.`,
    );
  }
  const columns = l.allColumns
    .filter((col) => !col.generated && c.columns.has(col.name))
    .map((col) => col.name);
  return { legacy: l, cloud: c, columns } satisfies Shape;
}

function insertStatement(info: TableInfo, columns: string[], key: string): string {
  const list = columns.map(ident).join(', ');
  return `INSERT INTO ${info.sql} (${list}) OVERRIDING SYSTEM VALUE
SELECT ${list} FROM json_populate_recordset(NULL::${info.sql}, $1::json)
ON CONFLICT (${ident(key)}) DO NOTHING RETURNING ${ident(key)}::text AS key`;
}

/** Rows of `keys` on cloud, each as the JSON text of its copied columns (no number ever passes through JS). */
async function cloudRows(
  cloud: SideSession,
  info: TableInfo,
  columns: string[],
  key: string,
  keys: string[],
) {
  const keyType = info.columns.get(key)?.type ?? 'text';
  return cloud.query<{ key: string; row: string; values: string[] }>(
    'reconcile',
    `SELECT ${ident(key)}::text AS key, row_to_json(x)::text AS row,
            ARRAY[${columns.map((c) => `x.${ident(c)}::text`).join(', ')}] AS values
       FROM (SELECT ${columns.map(ident).join(', ')} FROM ${info.sql}
              WHERE ${ident(key)} = ANY($1::text[]::${keyType}[])) x`,
    [keys],
  );
}

export async function planReconcile(
  legacy: LedgerSideDb,
  cloud: LedgerSideDb,
  config: LedgerConfig,
  table: TableName,
  keys: string[],
): Promise<ReconcilePlan> {
  return legacy.snapshot((l) =>
    cloud.snapshot(async (c) => {
      const s = await shape(l, c, config, table);
      const sample = await cloudRows(c, s.cloud, s.columns, config.key, keys.slice(0, 3));
      const preview = sample.map(
        (row) =>
          `INSERT INTO ${s.legacy.sql} (${s.columns.map(ident).join(', ')}) VALUES (${row.values
            .map((v) => (v === null ? 'NULL' : literal(v)))
            .join(', ')}) ON CONFLICT (${ident(config.key)}) DO NOTHING;`,
      );
      return {
        keys,
        columns: s.columns,
        preview,
        statement: insertStatement(s.legacy, s.columns, config.key),
        warnings: await sequenceWarnings(l, s.legacy, config.key, keys),
      };
    }),
  );
}

/** A serial key copied past legacy's sequence would be handed out again by legacy: say so before it bites. */
async function sequenceWarnings(
  legacy: SideSession,
  info: TableInfo,
  key: string,
  keys: string[],
): Promise<string[]> {
  const [row] = await legacy.query<{ seq: string | null; last: string | null }>(
    'reconcile',
    `SELECT s.seq, (SELECT last_value::text FROM pg_sequences q
                     WHERE format('%I.%I', q.schemaname, q.sequencename)::regclass = s.seq::regclass) AS last
       FROM (SELECT pg_get_serial_sequence($1, $2) AS seq) s`,
    [info.sql, key],
  );
  if (!row?.seq || !/^-?\d+$/.test(keys[0] ?? '')) return [];
  const highest = keys.reduce(
    (max, k) => (/^-?\d+$/.test(k) && BigInt(k) > max ? BigInt(k) : max),
    -(2n ** 63n),
  );
  const last = row.last === null ? null : BigInt(row.last);
  if (last !== null && highest <= last) return [];
  return [
    `legacy's sequence ${row.seq} is at ${row.last ?? 'its start'}, below the copied key ${highest}: legacy would hand that key out again. After the copy, advance it: SELECT setval('${row.seq}', ${highest});`,
  ];
}

export async function reconcile(
  legacy: LedgerSideDb,
  cloud: LedgerSideDb,
  config: LedgerConfig,
  table: TableName,
  keys: string[],
): Promise<ReconcileResult> {
  return cloud.snapshot(async (c) => {
    let fetched = 0;
    const inserted = await legacy.transaction(async (l) => {
      const s = await shape(l, c, config, table);
      const statement = insertStatement(s.legacy, s.columns, config.key);
      let count = 0;
      for (let i = 0; i < keys.length; i += BATCH) {
        const rows = await cloudRows(c, s.cloud, s.columns, config.key, keys.slice(i, i + BATCH));
        fetched += rows.length;
        if (rows.length === 0) continue;
        const done = await l.query('reconcile', statement, [`[${rows.map((r) => r.row).join(',')}]`]);
        count += done.length;
      }
      return count;
    });
    return { inserted, alreadyPresent: fetched - inserted, goneFromCloud: keys.length - fetched };
  });
}

export async function countInLegacy(
  legacy: LedgerSideDb,
  config: LedgerConfig,
  table: TableName,
  keys: string[],
): Promise<number> {
  return legacy.snapshot(async (l) => {
    const info = await inspectTable(l, table, config);
    const keyType = info.columns.get(config.key)?.type ?? 'text';
    const [row] = await l.query<{ n: string }>(
      'reconcile',
      `SELECT count(*)::text AS n FROM ${info.sql} WHERE ${ident(config.key)} = ANY($1::text[]::${keyType}[])`,
      [keys],
    );
    return Number(row?.n ?? 0);
  });
}
