// Pulls a file out of a pod over exec in resumable, retried chunks, checking its size and hash.
import { Writable } from 'node:stream';
import { shellQuote } from './pod-info.ts';
import { ExecError, type ExecParams, type ExecResult, type PulledFile, type PullOptions } from './types.ts';

/** Copies `path` from the pod into `sink`, resuming each cut chunk from the byte it reached. */
export async function pullFile(
  exec: (params: ExecParams) => Promise<ExecResult>,
  target: { namespace: string; pod: string; container: string },
  path: string,
  sink: Writable,
  opts: PullOptions = {},
): Promise<PulledFile> {
  const chunkBytes = opts.chunkBytes ?? 64 * 1024 * 1024;
  const retries = opts.retries ?? 3;
  const file = shellQuote(path);
  const sizeLine = await execText(exec, target, `wc -c < ${file}`, opts.timeoutMs);
  const size = Number(sizeLine.trim());
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ExecError(
      'protocol',
      `could not read the size of ${path} in the pod (got "${sizeLine.slice(0, 40)}")`,
    );
  }
  // The pod reads the whole file to hash it (seconds per GiB in a busy container): it hashes while the bytes
  // stream out, not before. Its failure is kept for after the transfer, so it is never an unhandled rejection.
  const hashing = execText(exec, target, `sha256sum ${file} 2>/dev/null || echo -`, opts.timeoutMs).then(
    (text) => ({ text }),
    (err: unknown) => ({ err }),
  );
  let received = 0;
  let execs = 1;
  let failures = 0;
  let totalRetries = 0;
  while (received < size) {
    const length = Math.min(chunkBytes, size - received);
    execs++;
    let got: number;
    let problem: string | undefined;
    try {
      const result = await exec({
        ...target,
        command: ['sh', '-c', `tail -c +${received + 1} ${file} | head -c ${length}`],
        stdout: sink,
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      });
      got = result.stdoutBytes;
      if (result.exitCode !== 0)
        problem = `exit code ${result.exitCode}: ${result.stderr.trim().slice(0, 200)}`;
      else if (got !== length) problem = `${got} of ${length} bytes arrived`;
    } catch (err) {
      if (
        !(err instanceof ExecError) ||
        ['forbidden', 'not-found', 'unauthorized', 'sink', 'missing-tool'].includes(err.failure)
      ) {
        if (err instanceof ExecError) err.stdoutBytes = received + err.stdoutBytes;
        throw err;
      }
      got = err.stdoutBytes;
      problem = err.message;
    }
    received += got;
    opts.onProgress?.(received, size);
    if (problem === undefined) {
      failures = 0;
      continue;
    }
    failures++;
    totalRetries++;
    if (failures > retries) {
      throw new ExecError(
        'cut',
        `pulling ${path} failed at byte ${received} of ${size} after ${retries} retries: ${problem}`,
        {
          stdoutBytes: received,
        },
      );
    }
  }
  const hashed = await hashing;
  if ('err' in hashed) throw hashed.err;
  const hash = hashed.text.trim().split(/\s+/)[0];
  const sha256 = hash && /^[0-9a-f]{64}$/.test(hash) ? hash : undefined;
  return { size, ...(sha256 ? { sha256 } : {}), execs: execs + 1, retries: totalRetries };
}

/** Runs a short shell command and returns its stdout; non-zero exit throws. */
async function execText(
  exec: (params: ExecParams) => Promise<ExecResult>,
  target: { namespace: string; pod: string; container: string },
  script: string,
  timeoutMs?: number,
): Promise<string> {
  const chunks: Buffer[] = [];
  const collect = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  const result = await exec({
    ...target,
    command: ['sh', '-c', script],
    stdout: collect,
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  if (result.exitCode !== 0) {
    throw new ExecError(
      'start-failed',
      `\`${script}\` exited with ${result.exitCode}: ${result.stderr.trim().slice(0, 300)}`,
      {
        stderr: result.stderr,
      },
    );
  }
  return Buffer.concat(chunks).toString('utf8');
}
