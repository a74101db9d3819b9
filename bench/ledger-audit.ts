// Benchmark (not a test): the ledger audit vs a naive row-by-row diff vs one in-database hash scan (the floor).
//
//   node bench/ledger-audit.ts                       # 1,000,000 and 10,000,000 rows per side
//   LEDGER_BENCH_ROWS=1000000 node bench/ledger-audit.ts
//
// Env: LEDGER_BENCH_ROWS (comma-separated sizes), LEDGER_BENCH_DIFFERENCES (default 100),
// LEDGER_BENCH_URL (a server; else TEST_DATABASE_URL, the local server on 127.0.0.1:5432, or a throwaway one),
// LEDGER_BENCH_SKIP_NAIVE=1 (skip the naive diff for sizes above 1,000,000), LEDGER_BENCH_KEEP=1 (keep the databases).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgLedger } from '../src/adapters/ledger/index.ts';
import { LedgerConfig } from '../src/config.ts';
import type { AuditResult, DifferenceCounts } from '../src/ledger.ts';
import { createLogger } from '../src/log.ts';
import { createMetrics } from '../src/metrics.ts';
import { createRedactor } from '../src/redact.ts';
import { dropPair, ledgerSection, plantScattered, seedIdenticalPair } from '../test/support/ledger-seed.ts';
import { adminQuery, testPostgres, type PgServer } from '../test/support/postgres.ts';

const COLUMNS = ['txn_id', 'account', 'side', 'amount', 'currency', 'payload', 'memo', 'updated_at'];
const SETTINGS = [
  "SET LOCAL TimeZone = 'UTC'",
  'SET LOCAL jit = off',
  'SET LOCAL max_parallel_workers_per_gather = 0',
];

export interface SizeResult {
  rowsPerSide: number;
  differencesPlanted: number;
  seedSeconds: number;
  audit: {
    seconds: number;
    rowsPerSecond: number;
    counts: DifferenceCounts;
    buckets: number;
    differingBuckets: number;
    peakRssMiB: number;
  };
  auditWithChecks: { seconds: number; counts: DifferenceCounts; peakRssMiB: number };
  floor: { seconds: number; rowsPerSecond: number };
  naive?: { seconds: number; rowsPerSecond: number; differences: number; peakRssMiB: number };
  ratios: { auditOverFloor: number; naiveOverAudit?: number };
}

export interface BenchResult {
  at: string;
  machine: { cores: number; node: string; postgres: string };
  server: PgServer['kind'];
  sizes: SizeResult[];
  /** Peak RSS of a process that loads the same modules and does nothing: what the phases' RSS starts from. */
  baselineRssMiB: number;
}

interface PhaseInput {
  phase: 'audit' | 'checks' | 'naive' | 'baseline';
  legacy: string;
  cloud: string;
  since: string;
}

interface PhaseOutput {
  seconds: number;
  /** Peak RSS of the process that ran the phase (a fresh one per phase, so phases don't inflate each other). */
  peakRssMiB: number;
  audit?: AuditResult;
  naiveDifferences?: number;
}

/** Runs one phase in a child process of its own and returns what it measured. */
async function inChild(input: PhaseInput): Promise<PhaseOutput> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--phase', JSON.stringify(input)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`bench phase ${input.phase} exited with ${code}`);
  return JSON.parse(out) as PhaseOutput;
}

async function runPhase(input: PhaseInput): Promise<PhaseOutput> {
  const since = new Date(input.since);
  const started = performance.now();
  let audit: AuditResult | undefined;
  let naiveDifferences: number | undefined;
  if (input.phase === 'baseline') {
    // Nothing: the RSS of node with these modules loaded, to read the others against.
  } else if (input.phase === 'naive') {
    naiveDifferences = await naiveDiff(input.legacy, input.cloud);
  } else {
    const ledger = ledgerAt(input.legacy, input.cloud, input.phase === 'checks');
    audit = await ledger.audit({ since, inFlightMs: 60_000 });
    await ledger.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds,
    peakRssMiB: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
    ...(audit ? { audit } : {}),
    ...(naiveDifferences !== undefined ? { naiveDifferences } : {}),
  };
}

async function seconds<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - started) / 1000 };
}

/** The floor: one hashing pass over each table, both at once, with the audit's session settings. */
async function floorScan(urls: string[]): Promise<void> {
  await Promise.all(
    urls.map(async (url) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        for (const s of SETTINGS) await client.query(s);
        await client.query(
          `SELECT count(*), sum(hash_record_extended(ROW(${COLUMNS.map((c) => pg.escapeIdentifier(c)).join(', ')}), 0)) FROM public.ledger_entries`,
        );
        await client.query('COMMIT');
      } finally {
        await client.end();
      }
    }),
  );
}

/** The naive diff: every row of both sides streamed into the process in key order and compared here. */
async function naiveDiff(legacyUrl: string, cloudUrl: string): Promise<number> {
  const open = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const s of SETTINGS) await client.query(s);
    await client.query(
      `DECLARE naive NO SCROLL CURSOR FOR SELECT id, ${COLUMNS.map((c) => `${pg.escapeIdentifier(c)}::text AS ${pg.escapeIdentifier(c)}`).join(', ')} FROM public.ledger_entries ORDER BY id`,
    );
    let buffer: Record<string, string | null>[] = [];
    let done = false;
    return {
      async next(): Promise<Record<string, string | null> | undefined> {
        if (buffer.length === 0 && !done) {
          buffer = (await client.query<Record<string, string | null>>('FETCH 10000 FROM naive')).rows;
          if (buffer.length < 10000) done = true;
          buffer.reverse();
        }
        return buffer.pop();
      },
      async close() {
        await client.query('COMMIT');
        await client.end();
      },
    };
  };
  const [l, c] = await Promise.all([open(legacyUrl), open(cloudUrl)]);
  let differences = 0;
  let [a, b] = await Promise.all([l.next(), c.next()]);
  while (a || b) {
    const ka = a ? BigInt(a.id ?? 0) : undefined;
    const kb = b ? BigInt(b.id ?? 0) : undefined;
    if (kb === undefined || (ka !== undefined && ka < kb)) {
      differences += 1;
      a = await l.next();
    } else if (ka === undefined || kb < ka) {
      differences += 1;
      b = await c.next();
    } else {
      if (COLUMNS.some((col) => a?.[col] !== b?.[col])) differences += 1;
      [a, b] = await Promise.all([l.next(), c.next()]);
    }
  }
  await Promise.all([l.close(), c.close()]);
  return differences;
}

function ledgerAt(legacy: string, cloud: string, checks: boolean): PgLedger {
  const extra = checks ? {} : { required: [], doubleEntry: undefined };
  const config = LedgerConfig.parse(ledgerSection(legacy, cloud, extra));
  return new PgLedger({
    service: 'bench',
    config,
    legacy,
    cloud,
    metrics: createMetrics({ defaults: false }),
    log: createLogger(createRedactor(), { level: 'warn' }),
  });
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

async function benchSize(
  server: PgServer,
  rows: number,
  planted: number,
  naive: boolean,
  log: (s: string) => void,
): Promise<SizeResult> {
  log(`seeding ${rows.toLocaleString('en-US')} rows per side…`);
  const seeded = await seconds(async () => {
    const pair = await seedIdenticalPair(server, rows, 'cs_bench');
    await plantScattered(server, pair, planted);
    await adminQuery(server.url(pair.cloud), 'VACUUM ANALYZE public.ledger_entries');
    await adminQuery(server.url(pair.legacy), 'VACUUM ANALYZE public.ledger_entries');
    return pair;
  });
  const pair = seeded.value;
  const legacy = server.url(pair.legacy);
  const cloud = server.url(pair.cloud);
  const since = new Date(Date.now() - 24 * 3_600_000).toISOString();
  try {
    // Warm the caches the same way for everyone: one untimed pass over both tables.
    await floorScan([legacy, cloud]);
    log('audit (row differences only)…');
    const audit = await inChild({ phase: 'audit', legacy, cloud, since });
    log('audit with partial and double-entry checks…');
    const checked = await inChild({ phase: 'checks', legacy, cloud, since });
    log('floor: one hash scan of both tables…');
    const floor = await seconds(() => floorScan([legacy, cloud]));
    let naiveResult: SizeResult['naive'];
    if (naive) {
      log('naive diff: every row of both sides through the process…');
      const n = await inChild({ phase: 'naive', legacy, cloud, since });
      naiveResult = {
        seconds: round(n.seconds),
        rowsPerSecond: Math.round((2 * rows) / n.seconds),
        differences: n.naiveDifferences ?? -1,
        peakRssMiB: n.peakRssMiB,
      };
    }
    const result = audit.audit;
    const checks = checked.audit;
    if (!result || !checks) throw new Error('an audit phase returned no result');
    return {
      rowsPerSide: rows,
      differencesPlanted: planted,
      seedSeconds: round(seeded.seconds, 1),
      audit: {
        seconds: round(audit.seconds),
        rowsPerSecond: Math.round(result.rowsCompared / audit.seconds),
        counts: result.counts,
        buckets: result.buckets,
        differingBuckets: result.differingBuckets,
        peakRssMiB: audit.peakRssMiB,
      },
      auditWithChecks: {
        seconds: round(checked.seconds),
        counts: checks.counts,
        peakRssMiB: checked.peakRssMiB,
      },
      floor: { seconds: round(floor.seconds), rowsPerSecond: Math.round((2 * rows) / floor.seconds) },
      ...(naiveResult ? { naive: naiveResult } : {}),
      ratios: {
        auditOverFloor: round(audit.seconds / floor.seconds),
        ...(naiveResult ? { naiveOverAudit: round(naiveResult.seconds / audit.seconds) } : {}),
      },
    };
  } finally {
    if (!process.env.LEDGER_BENCH_KEEP) await dropPair(server, pair);
  }
}

export async function run(
  opts: { sizes?: number[]; differences?: number; log?: (s: string) => void; write?: boolean } = {},
): Promise<BenchResult> {
  const sizes = opts.sizes ?? (process.env.LEDGER_BENCH_ROWS ?? '1000000,10000000').split(',').map(Number);
  const differences = opts.differences ?? Number(process.env.LEDGER_BENCH_DIFFERENCES ?? 100);
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  if (process.env.LEDGER_BENCH_URL) process.env.TEST_DATABASE_URL = process.env.LEDGER_BENCH_URL;
  const server = await testPostgres();
  const version = await adminQuery<{ server_version: string }>(server.url('postgres'), 'SHOW server_version');
  const results: SizeResult[] = [];
  try {
    for (const rows of sizes) {
      const naive = rows <= 1_000_000 || !process.env.LEDGER_BENCH_SKIP_NAIVE;
      results.push(await benchSize(server, rows, differences, naive, log));
    }
  } finally {
    await server.stop();
  }
  const bench: BenchResult = {
    at: new Date().toISOString(),
    machine: {
      cores: availableParallelism(),
      node: process.version,
      postgres: version[0]?.server_version ?? '?',
    },
    server: server.kind,
    sizes: results,
    baselineRssMiB: (
      await inChild({ phase: 'baseline', legacy: '', cloud: '', since: new Date().toISOString() })
    ).peakRssMiB,
  };
  if (opts.write ?? true) {
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/ledger-audit.json', `${JSON.stringify(bench, null, 2)}\n`);
  }
  return bench;
}

export function formatResults(bench: BenchResult): string {
  const lines = [
    `ledger audit benchmark — ${bench.machine.cores} cores, node ${bench.machine.node}, PostgreSQL ${bench.machine.postgres} (${bench.server} server)`,
  ];
  for (const s of bench.sizes) {
    const n = (v: number) => v.toLocaleString('en-US');
    const found = Object.values(s.audit.counts).reduce((a, b) => a + b, 0);
    lines.push(
      '',
      `${n(s.rowsPerSide)} rows per side, ${s.differencesPlanted} scattered differences (seeded in ${s.seedSeconds} s)`,
      `  audit              ${s.audit.seconds.toFixed(2)} s  ${n(s.audit.rowsPerSecond)} rows/s  found ${found}  buckets ${s.audit.differingBuckets}/${s.audit.buckets} differ  peak RSS ${s.audit.peakRssMiB} MiB`,
      `  audit + checks     ${s.auditWithChecks.seconds.toFixed(2)} s  found ${Object.values(s.auditWithChecks.counts).reduce((a, b) => a + b, 0)} (partial rows and double-entry groups too; a deleted leg unbalances its group)  peak RSS ${s.auditWithChecks.peakRssMiB} MiB`,
      `  floor (hash scan)  ${s.floor.seconds.toFixed(2)} s  ${n(s.floor.rowsPerSecond)} rows/s`,
      s.naive
        ? `  naive diff         ${s.naive.seconds.toFixed(2)} s  ${n(s.naive.rowsPerSecond)} rows/s  found ${s.naive.differences}  peak RSS ${s.naive.peakRssMiB} MiB`
        : '  naive diff         skipped',
      `  audit / floor      ${s.ratios.auditOverFloor}x`,
      s.ratios.naiveOverAudit !== undefined ? `  naive / audit      ${s.ratios.naiveOverAudit}x` : '',
    );
  }
  lines.push(
    '',
    `Peak RSS is that of a fresh process running only that phase; the same process doing nothing peaks at ${bench.baselineRssMiB} MiB.`,
  );
  lines.push('Results in bench/results/ledger-audit.json');
  return lines.filter((l, i, all) => l !== '' || all[i - 1] !== '').join('\n');
}

if (import.meta.main) {
  if (process.argv[2] === '--phase') {
    const output = await runPhase(JSON.parse(process.argv[3] ?? '{}') as PhaseInput);
    process.stdout.write(JSON.stringify(output));
  } else {
    const bench = await run();
    process.stdout.write(`${formatResults(bench)}\n`);
  }
}
