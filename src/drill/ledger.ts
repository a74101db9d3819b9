// The drill's two ledger databases: throwaway databases on the machine's PostgreSQL, the cloud copy diverged the way
// the scenario says (rows missing either side, mismatched, half-written, unbalanced).
import pg from 'pg';
import type { Scenario } from './scenario.ts';

export type DrillLedger =
  | { legacy: string; cloud: string; stop: () => Promise<void> }
  | { legacy: string; cloud: string; missing: string; why: string };

/** The balanced ledger both sides start with; `anchor` (SQL) is the instant the newest row was written. */
export function ddl(rows: number, anchor = 'now()'): string {
  return `
CREATE TABLE public.ledger_entries (
  id bigint PRIMARY KEY, txn_id bigint NOT NULL, account text, side text NOT NULL,
  amount numeric(14,2) NOT NULL, currency char(3) NOT NULL, payload jsonb, updated_at timestamptz NOT NULL);
INSERT INTO public.ledger_entries
  SELECT g, (g + 1) / 2, 'acct-' || (g % 97), CASE WHEN g % 2 = 1 THEN 'debit' ELSE 'credit' END,
         ((g + 1) / 2 % 500) + 0.99, 'EUR', jsonb_build_object('ref', 'txn' || ((g + 1) / 2)),
         ${anchor} - ((${rows} - g) * (5400.0 / ${rows}) * interval '1 second')
  FROM generate_series(1, ${rows}) g;`;
}

/**
 * The SQL that diverges the cloud copy. Every touched row is the debit of its own double-entry pair (odd id), taken
 * in turn from the middle of the table, so one kind of damage never hides another.
 */
export function divergenceSql(ledger: Scenario['ledger']): string {
  const { rows } = ledger;
  let cursor = Math.floor(rows / 2) | 1;
  const take = () => {
    const id = cursor;
    cursor += 2;
    return id;
  };
  const list = (ids: number[]) => ids.join(', ');
  const sql: string[] = [];
  if (ledger.missingInLegacy > 0) {
    // Balanced pairs the cloud wrote in the last minutes, after CDC stopped carrying them back.
    sql.push(`INSERT INTO public.ledger_entries
  SELECT g, (g + 1) / 2, 'acct-' || (g % 97), CASE WHEN g % 2 = 1 THEN 'debit' ELSE 'credit' END,
         49.90, 'EUR', jsonb_build_object('ref', 'txn' || ((g + 1) / 2)), now() - interval '2 minutes'
  FROM generate_series(${rows + 1}, ${rows + 2 * ledger.missingInLegacy}) g;`);
  }
  const pairs = Math.floor(ledger.mismatched / 2);
  const amountIds = Array.from({ length: pairs }, take).flatMap((id) => [id, id + 1]);
  if (amountIds.length > 0)
    sql.push(`UPDATE public.ledger_entries SET amount = amount + 10 WHERE id IN (${list(amountIds)});`);
  if (ledger.mismatched % 2 === 1)
    sql.push(`UPDATE public.ledger_entries SET payload = '{"ref":"txn-rewritten"}' WHERE id = ${take()};`);
  const half = Array.from({ length: ledger.halfWritten }, take);
  if (half.length > 0)
    sql.push(`UPDATE public.ledger_entries SET payload = NULL WHERE id IN (${list(half)});`);
  const unbalanced = Array.from({ length: ledger.unbalanced }, take);
  if (unbalanced.length > 0)
    sql.push(`UPDATE public.ledger_entries SET amount = amount + 1 WHERE id IN (${list(unbalanced)});`);
  const lost = Array.from({ length: Math.ceil(ledger.missingInCloud / 2) }, take)
    .flatMap((id) => [id, id + 1])
    .slice(0, ledger.missingInCloud);
  if (lost.length > 0) sql.push(`DELETE FROM public.ledger_entries WHERE id IN (${list(lost)});`);
  return sql.join('\n');
}

async function query(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Is a process with this id running on this machine? (EPERM: yes, someone else's.) */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Drops the ledger databases of drills whose process died without cleaning up (killed, crashed). */
async function dropOrphans(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname ~ '^cs_drill_(legacy|cloud)_[0-9]+_[0-9a-z]+$'",
    );
    for (const { datname } of rows) {
      const pid = Number(/^cs_drill_(?:legacy|cloud)_(\d+)_/.exec(datname)?.[1]);
      if (pid > 0 && !alive(pid)) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
  } finally {
    await client.end();
  }
}

/** The cloud writer role `/ledger lock` revokes, holding the writes a real service account has. */
export function writerRoleSql(scenario: Scenario): string {
  const role = `${scenario.service.replace(/-/g, '_')}_cloud_writer`;
  return `DO $$ BEGIN CREATE ROLE ${role}; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
     GRANT INSERT, UPDATE, DELETE ON public.ledger_entries TO ${role};`;
}

let sequence = 0;

/** Two throwaway ledger databases on the machine's PostgreSQL, or why there are none. */
export async function startLedger(adminUrl: string, scenario: Scenario): Promise<DrillLedger> {
  // Unique per process and per drill: two drills in one bot never share a database.
  const suffix = `${process.pid}_${Date.now().toString(36)}${(sequence++).toString(36)}`;
  const names = { legacy: `cs_drill_legacy_${suffix}`, cloud: `cs_drill_cloud_${suffix}` };
  const at = (db: string) => {
    const url = new URL(adminUrl);
    url.pathname = `/${db}`;
    return url.toString();
  };
  try {
    await dropOrphans(adminUrl);
    await query(adminUrl, `CREATE DATABASE ${names.legacy}`);
  } catch (err) {
    const where = new URL(adminUrl);
    const why = `no PostgreSQL the drill can use at ${where.hostname}:${where.port || '5432'} as ${where.username || 'postgres'} (${(err as Error).message})`;
    return {
      legacy: at(names.legacy),
      cloud: at(names.cloud),
      missing: `${why}; start one there, or set PAYMENTS_LEGACY_DB_URL and PAYMENTS_CLOUD_DB_URL`,
      why,
    };
  }
  await query(at(names.legacy), ddl(scenario.ledger.rows));
  await query(adminUrl, `CREATE DATABASE ${names.cloud} TEMPLATE ${names.legacy}`);
  const divergence = divergenceSql(scenario.ledger);
  if (divergence) await query(at(names.cloud), divergence);
  await query(at(names.cloud), writerRoleSql(scenario));
  return {
    legacy: at(names.legacy),
    cloud: at(names.cloud),
    stop: async () => {
      for (const db of [names.legacy, names.cloud]) {
        await query(adminUrl, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
      }
    },
  };
}
