// Runs the benchmarks (all, or those named on the command line), writes their results and the table.
import { writeResult, writeTable, type BenchResult } from './lib.ts';

interface Bench {
  name: string;
  run(): Promise<BenchResult>;
}

const BENCHES: Bench[] = [
  { name: 'ack-latency', run: async () => (await import('./ack-latency.ts')).run() },
  { name: 'breaker-detection', run: async () => (await import('./breaker-detection.ts')).run() },
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
