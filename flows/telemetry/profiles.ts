// Runtime profiles: what to run inside a pod to dump a JVM, Node.js, Go or Python process (defaults; configurable).

export type Runtime = 'jvm' | 'node' | 'go' | 'python';

/**
 * One dump. `command` runs under `sh -c` in the container and must write the artifact to {file}; placeholders:
 * {pid} the process, {file} the scratch file, {dir} the scratch directory. The file is then pulled out in chunks.
 */
export interface ProfileStep {
  name: string;
  /** heap-dump, thread-dump, report, goroutines… (what the evidence is). */
  kind: string;
  command: string;
  extension: string;
  /** Free memory needed before starting, as a fraction of the container's current use (heap snapshots). */
  headroom?: number;
}

// Runs in the pod with `node -e`: opens the inspector with SIGUSR1 (which Node handles, never dies of), then either
// streams a V8 heap snapshot or writes process.report to the file. Double quotes only: it sits inside '…'.
const NODE_INSPECTOR = [
  'const [pid, file, mode] = process.argv.slice(1); const fs = require("fs");',
  'if (!fs.readFileSync("/proc/" + pid + "/cmdline", "utf8").includes("node")) { console.error("pid " + pid + " is not a node process"); process.exit(3); }',
  'if (typeof WebSocket === "undefined") { console.error("node in the image is older than 22 (no built-in WebSocket): set a node profile using --heapsnapshot-signal, or use a debug image"); process.exit(5); }',
  'process.kill(Number(pid), "SIGUSR1");',
  '(async () => {',
  '  let target; for (let i = 0; i < 50 && !target; i++) { try { target = (await (await fetch("http://127.0.0.1:9229/json/list")).json())[0]; } catch { await new Promise((r) => setTimeout(r, 200)); } }',
  '  if (!target) { console.error("the inspector did not open on 127.0.0.1:9229"); process.exit(4); }',
  '  const ws = new WebSocket(target.webSocketDebuggerUrl); const out = fs.createWriteStream(file); let id = 0; const pending = new Map();',
  '  const call = (method, params) => new Promise((res, rej) => { id++; pending.set(id, { res, rej }); ws.send(JSON.stringify({ id, method, params: params || {} })); });',
  '  ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.method === "HeapProfiler.addHeapSnapshotChunk") out.write(m.params.chunk); else if (m.id && pending.has(m.id)) { const p = pending.get(m.id); pending.delete(m.id); if (m.error) p.rej(new Error(m.error.message)); else p.res(m.result); } };',
  '  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error("could not connect to the inspector")); });',
  '  if (mode === "heap") await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });',
  '  else { const r = await call("Runtime.evaluate", { expression: "JSON.stringify(process.report.getReport())", returnByValue: true }); out.write(r.result.value); }',
  '  ws.close(); out.end(() => process.exit(0));',
  '})().catch((e) => { console.error(String(e)); process.exit(1); });',
].join(' ');

const PPROF = 'http://127.0.0.1:6060/debug/pprof';

function fetchTo(url: string): string {
  return `if command -v curl >/dev/null 2>&1; then curl -sfS -o {file} '${url}'; elif command -v wget >/dev/null 2>&1; then wget -q -O {file} '${url}'; else echo 'neither curl nor wget: not found' >&2; exit 127; fi`;
}

/** Light steps first: a thread dump survives when the heavy heap dump that follows kills the pod. */
export const DEFAULT_PROFILES: Record<Runtime, ProfileStep[]> = {
  jvm: [
    {
      name: 'threads',
      kind: 'thread-dump',
      command: 'jcmd {pid} Thread.print -l > {file}',
      extension: 'threads.txt',
    },
    {
      name: 'heap',
      kind: 'heap-dump',
      command: 'jcmd {pid} GC.heap_dump -gz=1 {file}',
      extension: 'hprof.gz',
    },
  ],
  node: [
    {
      name: 'report',
      kind: 'report',
      command: `node -e '${NODE_INSPECTOR}' {pid} {file} report`,
      extension: 'report.json',
    },
    {
      name: 'heap',
      kind: 'heap-snapshot',
      // V8 writes snapshots uncompressed; gzip in the pod would need the disk twice and another tool.
      command: `node -e '${NODE_INSPECTOR}' {pid} {file} heap`,
      extension: 'heapsnapshot',
      headroom: 1,
    },
  ],
  go: [
    {
      name: 'goroutines',
      kind: 'goroutines',
      command: fetchTo(`${PPROF}/goroutine?debug=2`),
      extension: 'goroutines.txt',
    },
    { name: 'heap', kind: 'heap-profile', command: fetchTo(`${PPROF}/heap`), extension: 'heap.pb.gz' },
  ],
  python: [
    {
      name: 'threads',
      kind: 'thread-dump',
      command: 'py-spy dump --pid {pid} > {file}',
      extension: 'py-spy.txt',
    },
  ],
};

/** The steps for a runtime: the configured ones, or the defaults. */
export function profileFor(
  runtime: Runtime,
  configured?: Partial<Record<Runtime, ProfileStep[]>>,
): ProfileStep[] {
  return configured?.[runtime] ?? DEFAULT_PROFILES[runtime];
}

/** Fills {pid}, {file} and {dir} (our own safe paths: no quoting needed). */
export function renderCommand(step: ProfileStep, values: { pid: number; file: string; dir: string }): string {
  return step.command
    .replaceAll('{pid}', String(values.pid))
    .replaceAll('{file}', values.file)
    .replaceAll('{dir}', values.dir);
}

/** The tool a step needs, for "the image has no X" messages: the first word of its command. */
export function toolOf(step: ProfileStep): string {
  const first = /^\s*(?:if command -v (\S+)|(\S+))/.exec(step.command);
  return first?.[1] ?? first?.[2] ?? 'the tool';
}
