// Step L evidence capture, dumps: one node at a time under its lease, streamed out of the pod by the profile's steps.
import type { CaptureState } from './capture-state.ts';
import { takeLease, type Lease } from '../../src/lease.ts';
import { ExecError } from '../../src/adapters/kubernetes/types.ts';
import { renderCommand, toolOf, type ProfileStep } from './profiles.ts';
import { formatBytes, type PodRow } from '../../src/workload.ts';
import { formatDuration } from '../../src/duration.ts';
import { keepArtifact, markSkipped } from './artifacts.ts';
import type { Item } from './capture-state.ts';
import {
  NODE_LEASE_MS,
  NODE_WAIT_POLL_MS,
  boundedCollector,
  containerOf,
  firstLine,
  itemFor,
  setItem,
  stepsOf,
} from './capture-state.ts';

export async function nodeLease(cr: CaptureState, node: string): Promise<Lease | string> {
  const { store, instanceId } = cr.deps;
  const key = `telemetry:node-dump:${node}`;
  const lease = await takeLease(store, key, {
    owner: `${instanceId}:${cr.id}`,
    ttlMs: NODE_LEASE_MS,
    renewMs: 20_000,
    waitMs: cr.req.cfg.capture.timeout,
    pollMs: NODE_WAIT_POLL_MS,
    onLost: (reason) => cr.deps.log.warn({ node, reason }, 'lost the node dump lease'),
  });
  if (!lease)
    return `another dump on node ${node} kept it busy for over ${Math.round(cr.req.cfg.capture.timeout / 60_000)} min`;
  return lease;
}

export async function captureDumps(cr: CaptureState, pod: PodRow, node: string): Promise<void> {
  const steps = stepsOf(cr);
  if (!pod.running && !cr.req.debugContainer) {
    const reason = `container ${cr.req.cfg.container} is not running (${pod.status}): there is no process to dump; its status and previous logs are the evidence`;
    for (const step of steps) await markSkipped(cr, pod, itemFor(cr, pod.name, step.kind), reason);
    return;
  }
  const lease = await nodeLease(cr, node);
  if (typeof lease === 'string') {
    for (const step of steps) await markSkipped(cr, pod, itemFor(cr, pod.name, step.kind), lease);
    return;
  }
  try {
    for (const step of steps) {
      const item = itemFor(cr, pod.name, step.kind);
      if (lease.signal.aborted) {
        await markSkipped(
          cr,
          pod,
          item,
          `the dump lease of node ${node} was lost, so another dump may run there`,
        );
        continue;
      }
      const gone = cr.gone.get(pod.name);
      if (gone) {
        await markSkipped(cr, pod, item, gone);
        continue;
      }
      if (cr.execForbidden) {
        await markSkipped(cr, pod, item, `exec is forbidden: ${cr.execForbidden}`);
        continue;
      }
      const noRoom = headroomProblem(pod, step);
      if (noRoom) {
        await markSkipped(cr, pod, item, noRoom);
        continue;
      }
      await captureDump(cr, pod, step, item);
    }
  } finally {
    await lease.release();
  }
}

/** Why a step that needs free memory (a V8 heap snapshot) must not run now; undefined when it may. */
export function headroomProblem(pod: PodRow, step: ProfileStep): string | undefined {
  if (step.headroom === undefined) return undefined;
  if (pod.memoryBytes === undefined || pod.limitBytes === undefined) {
    return `memory use or limit unknown, so the free memory a ${step.kind} needs cannot be checked (it could OOM-kill the pod and lose the evidence)`;
  }
  const free = pod.limitBytes - pod.memoryBytes;
  const needed = pod.memoryBytes * step.headroom;
  if (free >= needed) return undefined;
  return `it uses ${formatBytes(pod.memoryBytes)} of its ${formatBytes(pod.limitBytes)} limit and a ${step.kind} needs about ${formatBytes(needed)} free (headroom ${step.headroom}); taking it now could OOM-kill the pod. Quarantine the pod first, or lower headroom in the profile`;
}

export async function captureDump(
  cr: CaptureState,
  pod: PodRow,
  step: ProfileStep,
  item: Item,
): Promise<void> {
  const { cluster, cfg } = cr.req;
  const container = containerOf(cr);
  const dir = cfg.scratchDir.replace(/\/+$/, '') || '/';
  const name = `cloud-safety-${cr.id}-${step.name}.${step.extension}`;
  // From a debug container, the application's files are reached through its root in /proc.
  const file = cr.req.debugContainer
    ? `/proc/${cfg.pid}/root${dir === '/' ? '' : dir}/${name}`
    : `${dir === '/' ? '' : dir}/${name}`;
  const script = renderCommand(step, { pid: cfg.pid, file, dir });
  const target = { namespace: cfg.namespace, pod: pod.name, container };
  const command = ['sh', '-c', script];
  await keepArtifact(cr, pod, item, {
    extension: step.extension,
    contentType: 'application/octet-stream',
    command,
    produce: async (sink) => {
      setItem(cr, item, { detail: `running \`${firstLine(script, 60)}\`` });
      const output = boundedCollector();
      const silence = silenceAllowance(step, pod);
      let result;
      try {
        result = await cluster.exec({
          ...target,
          command,
          stdout: output.stream,
          timeoutMs: Math.max(cfg.capture.timeout, silence.ms + 60_000),
          idleTimeoutMs: silence.ms,
          ...(silence.heap
            ? {
                onSilence: {
                  everyMs: SILENCE_NOTICE_MS,
                  notify: (silentMs: number, allowanceMs: number) =>
                    setItem(cr, item, {
                      detail: `writing the heap dump in the pod (${silence.heap}): no output for ${formatDuration(silentMs)}, which is normal until the file is complete; waiting up to ${formatDuration(allowanceMs)}`,
                    }),
                },
              }
            : {}),
        });
      } catch (err) {
        if (err instanceof ExecError && err.failure === 'missing-tool')
          throw missingTool(cr, pod, step, err.message);
        throw err;
      }
      if (result.exitCode === 127 || (result.exitCode !== 0 && /not found/i.test(result.stderr))) {
        throw missingTool(cr, pod, step, firstLine(result.stderr || output.text()));
      }
      if (result.exitCode !== 0) {
        throw new Error(
          `\`${firstLine(script, 80)}\` exited with code ${result.exitCode}: ${firstLine(result.stderr || output.text()) || 'no output'}`,
        );
      }
      setItem(cr, item, { detail: 'pulling the file out of the pod' });
      const pulled = await cluster.pullFile(target, file, sink, {
        chunkBytes: cfg.capture.chunkBytes,
        retries: cfg.capture.retries,
        timeoutMs: cfg.capture.timeout,
        onProgress: (received, size) =>
          setItem(cr, item, { detail: `${formatBytes(received)} of ${formatBytes(size)}` }),
      });
      return { size: pulled.size, ...(pulled.sha256 ? { sha256: pulled.sha256 } : {}) };
    },
    cleanup: async () => {
      if (cr.gone.has(pod.name) || cr.execForbidden) return;
      await cluster.exec({ ...target, command: ['rm', '-f', file], timeoutMs: 30_000 });
    },
  });
}

/** Bytes per second a JVM writes a gzipped heap dump at, at the least (gzip level 1 on one core, a busy node). */
export const HEAP_DUMP_BYTES_PER_SECOND = 20 * 1024 * 1024;
/** Silence allowed to any dump step, and to a heap dump on top of its size-based share. */
export const BASE_SILENCE_MS = 60_000;
/** A heap dump of a pod whose memory limit is unknown may stay silent this long. */
export const UNKNOWN_HEAP_SILENCE_MS = 10 * 60_000;
export const SILENCE_NOTICE_MS = 15_000;

/**
 * How long a step may go without a byte of output. `jcmd GC.heap_dump` (and a V8 heap snapshot written to a file)
 * says nothing until the whole heap is on disk, so the allowance grows with the heap, bounded by the memory limit.
 */
export function silenceAllowance(step: ProfileStep, pod: PodRow): { ms: number; heap?: string } {
  if (!/^heap-(dump|snapshot)$/.test(step.kind)) return { ms: BASE_SILENCE_MS };
  if (pod.limitBytes === undefined || pod.limitBytes <= 0)
    return { ms: UNKNOWN_HEAP_SILENCE_MS, heap: 'memory limit unknown' };
  return {
    ms: BASE_SILENCE_MS + Math.ceil((pod.limitBytes / HEAP_DUMP_BYTES_PER_SECOND) * 1000),
    heap: `up to ${formatBytes(pod.limitBytes)}, the container's memory limit`,
  };
}

export function missingTool(cr: CaptureState, pod: PodRow, step: ProfileStep, detail: string): Error {
  const tool = toolOf(step);
  const { cfg, incident } = cr.req;
  if (cfg.debugImage && !cr.req.debugContainer && !cr.offers.some((o) => o.pod === pod.name)) {
    cr.offers.push({ pod: pod.name, tool, value: `${incident.id}|${pod.name}` });
  }
  const next = cr.req.debugContainer
    ? 'the debug image lacks it too; set kubernetes.debugImage to an image that has it'
    : cfg.debugImage
      ? `press "Debug container" below to take it from an ephemeral container running ${cfg.debugImage}`
      : 'set kubernetes.debugImage to an image with the tool to be offered an ephemeral debug container';
  return new Error(`the image has no \`${tool}\` (${detail || 'not found'}); ${next}`);
}
