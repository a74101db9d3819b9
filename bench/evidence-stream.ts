// Benchmark (not a test): a 1 GiB synthetic heap dump through the exec capture path into the evidence store.
// Prints MB/s and the bot process's peak RSS growth; writes bench/results/evidence-stream.json.
// Run: node bench/evidence-stream.ts   (BENCH_SIZE_MB=256 for a quicker run)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LocalEvidenceStore } from '../src/adapters/evidence/local.ts';
import { KubeCluster } from '../src/adapters/kubernetes/client.ts';
import { createMetrics } from '../src/metrics.ts';
import { FakeCluster, NAMESPACE, fileSha256 } from '../src/drill/kubernetes.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const POD = 'payments-7d9f8b6c5-bench';
const DUMP = '/tmp/cloud-safety-bench-heap.hprof.gz';

export interface EvidenceStreamResult {
  name: 'evidence-stream';
  bytes: number;
  chunkBytes: number;
  seconds: number;
  mbPerSecond: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  peakRssGrowthMiB: number;
  execs: number;
  /** CPU seconds (user + system) the bot's process spent during the pull, and the API server double's. */
  botCpuSeconds: number;
  serverCpuSeconds: number | undefined;
  verified: boolean;
  node: string;
  at: string;
}

/** The API server side runs in a child process, so only the bot's side counts towards RSS. */
async function serve(size: number): Promise<void> {
  const server = new FakeCluster();
  await server.start();
  const file = { size, block: randomBytes(1024 * 1024) };
  const sha256 = fileSha256(file);
  server.addPod(POD, { heap: file });
  process.stdout.write(`${JSON.stringify({ port: server.port, sha256 })}\n`);
  process.stdin.resume();
  const started = process.cpuUsage();
  process.stdin.on('end', () => {
    // What serving cost the API server's process, so a reader can see which side is the bottleneck.
    const used = process.cpuUsage(started);
    process.stdout.write(`${JSON.stringify({ cpuMs: Math.round((used.user + used.system) / 1000) })}\n`);
    void server.stop().then(() => process.exit(0));
  });
}

async function startServer(
  size: number,
): Promise<{ port: number; sha256: string; stop: () => Promise<number | undefined> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', String(size)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the fake API server exited with ${code}`)));
  });
  const info = JSON.parse(first) as { port: number; sha256: string };
  let stopped: Promise<number | undefined> | undefined;
  const stop = () =>
    (stopped ??= new Promise<string | undefined>((resolve) => {
      lines.once('line', resolve);
      child.once('exit', () => resolve(undefined));
      child.stdin.end();
    }).then((line) => (line ? (JSON.parse(line) as { cpuMs: number }).cpuMs : undefined)));
  return { ...info, stop };
}

export async function run(
  opts: { sizeBytes?: number; chunkBytes?: number; write?: boolean } = {},
): Promise<EvidenceStreamResult> {
  const size = opts.sizeBytes ?? Number(process.env.BENCH_SIZE_MB ?? 1024) * 1024 * 1024;
  const chunkBytes = opts.chunkBytes ?? 64 * 1024 * 1024;
  const server = await startServer(size);
  const dir = mkdtempSync(join(tmpdir(), 'cs-bench-evidence-'));
  try {
    const fake = new FakeCluster();
    fake.port = server.port;
    const cluster = new KubeCluster(fake.kubeConfig(), createMetrics({ defaults: false }));
    const store = new LocalEvidenceStore(dir);
    const target = { namespace: NAMESPACE, pod: POD, container: 'app' };

    globalThis.gc?.();
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    const started = performance.now();
    const cpuAtStart = process.cpuUsage();

    // The capture path: the dump command in the pod, then the chunked pull into a hashing evidence writer.
    const dumped = await cluster.exec({
      ...target,
      command: ['sh', '-c', `jcmd 1 GC.heap_dump -gz=1 ${DUMP}`],
    });
    if (dumped.exitCode !== 0) throw new Error(`dump failed: ${dumped.stderr}`);
    const writer = await store.create(`BENCH/payments/${POD}/heap-dump.hprof.gz`);
    const pulled = await cluster.pullFile(target, DUMP, writer.stream, { chunkBytes });
    const stored = await writer.commit({ bench: true }, (got) =>
      got.size === pulled.size && got.sha256 === pulled.sha256 ? undefined : 'mismatch',
    );

    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage.rss());
    const mib = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
    const result: EvidenceStreamResult = {
      name: 'evidence-stream',
      bytes: stored.size,
      chunkBytes,
      seconds: Math.round(seconds * 100) / 100,
      mbPerSecond: Math.round((stored.size / 1e6 / seconds) * 10) / 10,
      baselineRssMiB: mib(baseline),
      peakRssMiB: mib(peak),
      peakRssGrowthMiB: mib(peak - baseline),
      execs: pulled.execs + 1,
      botCpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100,
      serverCpuSeconds: undefined,
      verified: !stored.partial && stored.sha256 === server.sha256,
      node: process.version,
      at: new Date().toISOString(),
    };
    const serverCpuMs = await server.stop();
    result.serverCpuSeconds = serverCpuMs === undefined ? undefined : serverCpuMs / 1000;
    if (opts.write ?? true) {
      const out = join(HERE, 'results');
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'evidence-stream.json'), `${JSON.stringify(result, null, 2)}\n`);
    }
    return result;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  if (process.argv[2] === '--serve') {
    await serve(Number(process.argv[3]));
  } else {
    const result = await run();
    process.stdout.write(
      `evidence-stream: ${(result.bytes / 1024 ** 3).toFixed(2)} GiB in ${result.seconds}s = ${result.mbPerSecond} MB/s; ` +
        `peak RSS growth ${result.peakRssGrowthMiB} MiB (baseline ${result.baselineRssMiB} MiB, peak ${result.peakRssMiB} MiB); ` +
        `${result.execs} execs; CPU bot ${result.botCpuSeconds}s, API server double ${result.serverCpuSeconds}s; ` +
        `sha256 verified: ${result.verified}\n`,
    );
    if (!result.verified) process.exitCode = 1;
  }
}
