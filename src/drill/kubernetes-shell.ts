// The tiny shell of a simulated pod: the few lines the bot sends (jcmd dumps, wc and sha256sum, tail | head).
import { fileSha256, fileSize, type FakeFile } from './kubernetes-files.ts';

export interface FakePod {
  files: Map<string, FakeFile>;
  /** Tools on the image's PATH; anything else is "not found" (exit 127). */
  tools: Set<string>;
  /** What `jcmd … GC.heap_dump` writes. */
  heap?: FakeFile;
  /** What a thread dump prints. */
  threads?: string;
  /** Cut the connection after this many bytes of the next N stdout streams (a dropped stream mid-way). */
  cutAfter?: { bytes: number; times: number };
  /** Delete the pod when a pull reaches this byte (the pod dies mid-capture). */
  dieAt?: number;
  /** No shell: every exec fails to start, like a distroless image. */
  noShell?: boolean;
  /** After the status frame, keep the connection open (a server that never closes). */
  holdOpen?: boolean;
  /** Send this many stdout bytes, then go silent without closing (a stalled stream). */
  stallAfter?: number;
  /** Tools in ephemeral debug containers (named cs-debug-…), when they differ from `tools`. */
  debugTools?: Set<string>;
  /** How long `sha256sum` takes to read a file (a real one reads a 1 GiB dump for seconds). */
  hashMs?: number;
}

export interface Outcome {
  stdout?: FakeFile | string;
  range?: [number, number];
  stderr?: string;
  exit?: number;
  /** Status frame sent as-is (e.g. an InternalError when the binary is missing). */
  status?: Record<string, unknown>;
  cutAfter?: number;
  /** Milliseconds the command runs before its output starts. */
  delayMs?: number;
}

/** Runs one `sh -c` line the way sh in the pod would. */
export function runShell(pod: FakePod, tools: Set<string>, script: string): Outcome {
  const tool = (name: string) => tools.has(name);
  let m = /^jcmd (\d+) Thread\.print -l > (\S+)$/.exec(script);
  if (m?.[2]) {
    if (!tool('jcmd')) return { stderr: 'sh: 1: jcmd: not found\n', exit: 127 };
    pod.files.set(m[2], Buffer.from(pod.threads ?? ''));
    return { exit: 0 };
  }
  m = /^jcmd (\d+) GC\.heap_dump -gz=1 (\S+)$/.exec(script);
  if (m?.[2]) {
    if (!tool('jcmd')) return { stderr: 'sh: 1: jcmd: not found\n', exit: 127 };
    if (!pod.heap)
      return {
        stdout: '1:\ncom.sun.tools.attach.AttachNotSupportedException: Unable to open socket file\n',
        exit: 1,
      };
    pod.files.set(m[2], pod.heap);
    return { stdout: `1:\nDumping heap to ${m[2]} ...\nHeap dump file created\n`, exit: 0 };
  }
  m = /^wc -c < '([^']+)' && \{ sha256sum '([^']+)' 2>\/dev\/null \|\| echo -; \}$/.exec(script);
  if (m?.[1]) {
    const file = pod.files.get(m[1]);
    if (!file) return { stderr: `sh: can't open '${m[1]}': No such file or directory\n`, exit: 1 };
    const hash = tool('sha256sum') ? `${fileSha256(file)}  ${m[1]}` : '-';
    return {
      stdout: `${fileSize(file)}\n${hash}\n`,
      exit: 0,
      ...(pod.hashMs ? { delayMs: pod.hashMs } : {}),
    };
  }
  m = /^wc -c < '([^']+)'$/.exec(script);
  if (m?.[1]) {
    const file = pod.files.get(m[1]);
    if (!file) return { stderr: `sh: can't open '${m[1]}': No such file or directory\n`, exit: 1 };
    return { stdout: `${fileSize(file)}\n`, exit: 0 };
  }
  m = /^sha256sum '([^']+)' 2>\/dev\/null \|\| echo -$/.exec(script);
  if (m?.[1]) {
    const file = pod.files.get(m[1]);
    const hash = tool('sha256sum') && file ? `${fileSha256(file)}  ${m[1]}` : '-';
    return { stdout: `${hash}\n`, exit: 0, ...(pod.hashMs ? { delayMs: pod.hashMs } : {}) };
  }
  m = /^tail -c \+(\d+) '([^']+)' \| head -c (\d+)$/.exec(script);
  if (m?.[1] && m[2] && m[3]) {
    const file = pod.files.get(m[2]);
    if (!file) return { stderr: `tail: can't open '${m[2]}': No such file or directory\n`, exit: 1 };
    const start = Number(m[1]) - 1;
    const end = Math.min(fileSize(file), start + Number(m[3]));
    const out: Outcome = { stdout: file, range: [start, end], exit: 0 };
    if (pod.cutAfter && pod.cutAfter.times > 0) {
      pod.cutAfter.times--;
      out.cutAfter = pod.cutAfter.bytes;
    }
    if (pod.dieAt !== undefined && end > pod.dieAt) out.cutAfter = Math.max(0, pod.dieAt - start);
    return out;
  }
  const first = script.split(/\s+/)[0] ?? '';
  if (!tool(first)) return { stderr: `sh: 1: ${first}: not found\n`, exit: 127 };
  return { stderr: `sh: unexpected script in fake pod: ${script}\n`, exit: 2 };
}
