// Shared benchmark helpers: percentiles, peak RSS sampling, and result files (JSON + the Markdown table).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_DIR = 'bench/results';

export interface BenchResult {
  name: string;
  /** One line: what was measured against what. */
  title: string;
  when: string;
  machine: { cpus: number; node: string };
  /** The headline figures for the README table: label -> value with its unit. */
  headline: Record<string, string>;
  /** The target the issue sets, and whether it was met. */
  target?: { text: string; met: boolean };
  details: Record<string, unknown>;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

export function summarize(samplesMs: number[]): {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
} {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
    mean: round(mean),
  };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Samples this process's RSS every 20 ms; `stop()` returns the peak growth over the start, in MiB. */
export function rssSampler(): { stop(): { startMiB: number; peakMiB: number; growthMiB: number } } {
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      const mib = (b: number) => round(b / 1024 / 1024, 1);
      return { startMiB: mib(start), peakMiB: mib(peak), growthMiB: mib(peak - start) };
    },
  };
}

export function machine(): BenchResult['machine'] {
  return {
    cpus: (globalThis.navigator?.hardwareConcurrency as number | undefined) ?? 0,
    node: process.version,
  };
}

export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${result.name}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

/** Rebuilds the results table in bench/README.md from every result file. */
export function writeTable(): void {
  const results = readdirSync(RESULTS_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as BenchResult)
    // A benchmark run on its own writes its raw format; the table shows only runner results.
    .filter((r) => typeof r.headline === 'object' && r.headline !== null)
    .sort((a, b) => a.name.localeCompare(b.name));
  const rows = results.map((r) => {
    const figures = Object.entries(r.headline)
      .map(([k, v]) => `${k}: ${v}`)
      .join('<br>');
    const target = r.target ? `${r.target.met ? 'met' : '**missed**'}: ${r.target.text}` : '';
    return `| ${r.name} | ${r.title} | ${figures} | ${target} | ${r.when.slice(0, 10)} |`;
  });
  const readmePath = 'bench/README.md';
  const readme = readFileSync(readmePath, 'utf8');
  const table = ['| benchmark | measures | result | target | run |', '|---|---|---|---|---|', ...rows].join(
    '\n',
  );
  const next = readme.replace(
    /<!-- results -->[\s\S]*<!-- \/results -->/,
    `<!-- results -->\n${table}\n<!-- /results -->`,
  );
  writeFileSync(readmePath, next);
}
