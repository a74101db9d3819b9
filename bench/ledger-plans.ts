// Captures EXPLAIN (ANALYZE, BUFFERS) of every kind of query one `/ledger audit` runs, for docs/ledger.md.
//
//   node bench/ledger-plans.ts <legacy-url> <cloud-url>   # e.g. the databases LEDGER_BENCH_KEEP=1 leaves behind
//
// The audit runs once (checks on) with the driver's query() watched; the first statement of each kind on the
// legacy side is then explained in a snapshot with the audit's own settings. Long threshold arrays are elided.
import pg from 'pg';
import { PgLedger } from '../src/adapters/ledger/index.ts';
import { LedgerConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createMetrics } from '../src/metrics.ts';
import { createRedactor } from '../src/redact.ts';
import { ledgerSection } from '../test/support/ledger-seed.ts';

const KINDS: [string, RegExp][] = [
  ['scan: one pass per side (cells, partial rows, double-entry sums)', /^SELECT width_bucket\(.*AS cell/s],
  ['drill: keys and row hashes of differing cells', /^DECLARE cs_drill/],
  ['lookup: keys seen on one side, on the other', /^SELECT .* AS fresh\s+FROM .* WHERE .* = ANY\(\$1/s],
  ['fetch: full rows of differing keys', /^SELECT "id"::text AS key, .* AS t0/s],
  ['partial: half-written rows of the cells that counted some', /FROM .*AND \("account" IS NULL/s],
  ['invariant: unbalanced groups in the flagged group ranges', /^SELECT "txn_id"::text AS grp FROM/],
  ['invariant: flagged groups summed whole', /^SELECT "txn_id"::text AS grp,/],
];

interface Seen {
  kind: string;
  text: string;
  values: unknown[];
  database: string;
}

const [legacy, cloud] = process.argv.slice(2);
if (!legacy || !cloud) {
  console.error('usage: node bench/ledger-plans.ts <legacy-url> <cloud-url>');
  process.exit(2);
}

const seen: Seen[] = [];
const original = pg.Client.prototype.query;
// Watching the driver, not the adapter: the audit's code is exactly what runs in production.
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const [text, values] = args as [unknown, unknown];
  if (typeof text === 'string') {
    const kind = KINDS.find(([, re]) => re.test(text))?.[0];
    const database = this.database ?? '';
    if (kind && legacy.endsWith(`/${database}`) && !seen.some((s) => s.kind === kind))
      seen.push({ kind, text, values: Array.isArray(values) ? values : [], database });
  }
  return (original as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;

const config = LedgerConfig.parse(ledgerSection(legacy, cloud));
const ledger = new PgLedger({
  service: 'plans',
  config,
  legacy,
  cloud,
  metrics: createMetrics({ defaults: false }),
  log: createLogger(createRedactor(), { level: 'warn' }),
});
const started = performance.now();
const result = await ledger.audit({ since: new Date(Date.now() - 24 * 3_600_000), inFlightMs: 60_000 });
const seconds = (performance.now() - started) / 1000;
await ledger.close();
pg.Client.prototype.query = original;

const client = new pg.Client({ connectionString: legacy });
await client.connect();
const out: string[] = [
  `Audit of ${result.rows.legacy.toLocaleString('en-US')} + ${result.rows.cloud.toLocaleString('en-US')} rows in ${seconds.toFixed(1)} s; ${result.notes.join(' ')}`,
];
for (const [kind] of KINDS) {
  const s = seen.find((x) => x.kind === kind);
  if (!s) continue;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  for (const setting of [
    "SET LOCAL TimeZone = 'UTC'",
    'SET LOCAL jit = off',
    'SET LOCAL max_parallel_workers_per_gather = 0',
    "SET LOCAL work_mem = '64MB'",
    ...(kind.startsWith('scan') ? ['SET LOCAL enable_sort = off'] : []),
  ])
    await client.query(setting);
  // The scan is shown whole: the audit runs the same statement over page ranges (ctid) to report progress.
  const sql = s.text
    .replace(/^DECLARE \w+ NO SCROLL CURSOR FOR /, '')
    .replace(/AND ctid >= '\(\d+,0\)'::tid( AND ctid < '\(\d+,0\)'::tid)?/, '');
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS) ${sql}`,
    s.values,
  );
  await client.query('COMMIT');
  const plan = rows
    .map((r) => r['QUERY PLAN'])
    .join('\n')
    .replace(/'\{([^}]{120,})\}'/g, (_, list: string) => `'{… ${list.split(',').length} values …}'`);
  out.push('', `#### ${kind}`, '', '```sql', sql.replace(/\s+/g, ' ').trim(), '```', '', '```', plan, '```');
}
await client.end();
process.stdout.write(`${out.join('\n')}\n`);
