// Runs the benchmarks (all, or those named on the command line), writes their results and the table.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { machine, round, writeResult, writeTable, type BenchResult } from './lib.ts';

interface Bench {
  name: string;
  run(): Promise<BenchResult>;
}

/** The floor for evidence streaming: the same bytes hashed and written to local disk, no network, no pod. */
async function diskFloor(bytes: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'cs-bench-floor-'));
  const block = randomBytes(1024 * 1024);
  const hash = createHash('sha256');
  let sent = 0;
  const source = Readable.from(
    (function* () {
      while (sent < bytes) {
        const chunk = block.subarray(0, Math.min(block.length, bytes - sent));
        sent += chunk.length;
        hash.update(chunk);
        yield chunk;
      }
    })(),
  );
  const started = performance.now();
  try {
    await pipeline(source, createWriteStream(join(dir, 'floor.bin')));
    hash.digest();
    return bytes / 1e6 / ((performance.now() - started) / 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BENCHES: Bench[] = [
  { name: 'ack-latency', run: async () => (await import('./ack-latency.ts')).run() },
  { name: 'approval-to-change', run: async () => (await import('./approval-to-change.ts')).run() },
  { name: 'breaker-detection', run: async () => (await import('./breaker-detection.ts')).run() },
  { name: 'timeline-scale', run: async () => (await import('./timeline-scale.ts')).run() },
  {
    name: 'evidence-stream',
    async run() {
      const { run } = await import('./evidence-stream.ts');
      const r = await run({ write: false });
      const floor = await diskFloor(r.bytes);
      return {
        name: 'evidence-stream',
        title: `A ${round(r.bytes / 1024 ** 3)} GiB heap dump pulled through exec (v4.channel.k8s.io, chunked, verified) into the evidence store, vs hashing and writing the same bytes to disk`,
        when: r.at,
        machine: machine(),
        headline: {
          throughput: `${r.mbPerSecond} MB/s (disk floor ${round(floor, 0)} MB/s, ${round(r.mbPerSecond / floor)}x)`,
          'peak RSS growth': `${r.peakRssGrowthMiB} MiB`,
          'CPU bot / API server double': `${r.botCpuSeconds} / ${r.serverCpuSeconds ?? '?'} s`,
          verified: String(r.verified),
        },
        target: {
          text: 'throughput ≥ 0.7x the disk floor (hashing + writing the same bytes), peak RSS growth < 64 MiB (issue 20)',
          met: r.mbPerSecond / floor >= 0.7 && r.peakRssGrowthMiB < 64,
        },
        details: { ...r, diskFloorMbPerSecond: round(floor, 1) },
      };
    },
  },
  {
    name: 'ledger-audit',
    async run() {
      const { run, targetText } = await import('./ledger-audit.ts');
      const r = await run({ write: false });
      const headline: Record<string, string> = {};
      for (const s of r.sizes) {
        const n = s.rowsPerSide.toLocaleString('en-US');
        headline[`${n} rows`] =
          `/ledger audit (checks on) ${s.audit.seconds.join('/')} s, floor ${s.floor.seconds.join('/')} s, ` +
          `audit/floor ${s.ratios.auditOverFloor}x` +
          (s.ratios.naiveOverAudit !== undefined ? `, naive/audit ${s.ratios.naiveOverAudit}x` : '') +
          `, peak RSS ${s.audit.peakRssMiB} MiB`;
      }
      return {
        name: 'ledger-audit',
        title:
          '`/ledger audit` command to final reply, partial and double-entry checks on (100 scattered differences), vs one hash scan of both sides at once (floor) and a naive row-by-row diff',
        when: r.at,
        machine: machine(),
        headline,
        target: targetText(r),
        details: { ...r },
      };
    },
  },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !BENCHES.some((b) => b.name === w));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`,
  );
  process.exit(2);
}
for (const bench of BENCHES.filter((b) => wanted.length === 0 || wanted.includes(b.name))) {
  console.log(`== ${bench.name}`);
  const result = await bench.run();
  for (const [label, value] of Object.entries(result.headline)) console.log(`   ${label}: ${value}`);
  if (result.target)
    console.log(`   target (${result.target.met ? 'met' : 'MISSED'}): ${result.target.text}`);
  console.log(`   -> ${writeResult(result)}`);
}
writeTable();
console.log('bench/README.md table updated');
