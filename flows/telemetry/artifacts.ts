// Step L evidence capture, basics: pod status, events and previous logs, each kept as an artifact or reported.
import type { CaptureState } from './capture-state.ts';
import type { Writable } from 'node:stream';
import type { StoredArtifact } from '../../src/adapters/evidence/store.ts';
import { ExecError, KubernetesError } from '../../src/adapters/kubernetes/types.ts';
import {
  EVIDENCE_CAPTURED,
  EVIDENCE_FAILED,
  EVIDENCE_SKIPPED,
  type EvidenceEventData,
  type EvidenceFailedEventData,
} from '../../src/events.ts';
import { formatBytes, type PodRow } from '../../src/workload.ts';
import type { Item } from './capture-state.ts';
import { PodGone, containerOf, custodyOf, itemFor, setItem, stamp } from './capture-state.ts';

export async function captureBasics(cr: CaptureState, pod: PodRow): Promise<void> {
  const { cluster, cfg } = cr.req;
  const status = itemFor(cr, pod.name, 'pod-status');
  await keepArtifact(cr, pod, status, {
    extension: 'pod.json',
    contentType: 'application/json',
    command: ['GET', `/api/v1/namespaces/${cfg.namespace}/pods/${pod.name}`],
    produce: async (sink) => {
      const document = await cluster.podDocument(cfg.namespace, pod.name);
      if (!document) throw new PodGone(`pod ${pod.name} is gone`);
      const body = {
        capturedAt: cr.deps.now().toISOString(),
        pod: document,
        memory: {
          usageBytes: pod.memoryBytes ?? null,
          limitBytes: pod.limitBytes ?? null,
          percentOfLimit: pod.percent ?? null,
        },
        warningEvents: (cr.req.events ?? []).filter((e) => e.pod === pod.name),
      };
      sink.write(`${JSON.stringify(body, null, 2)}\n`);
      return {};
    },
  });
  if (pod.restarts === 0) return;
  const logs = itemFor(cr, pod.name, 'previous-logs');
  await keepArtifact(cr, pod, logs, {
    extension: 'previous.log',
    contentType: 'text/plain',
    command: [
      'GET',
      `/api/v1/namespaces/${cfg.namespace}/pods/${pod.name}/log?container=${cfg.container}&previous=true&limitBytes=${cfg.capture.logBytes}`,
    ],
    produce: async (sink) => {
      await cluster.streamLogs(
        cfg.namespace,
        pod.name,
        cfg.container,
        { previous: true, limitBytes: cfg.capture.logBytes },
        sink,
      );
      return {};
    },
  });
}

/**
 * Stores one artifact: streams it through `produce`, verifies size and in-pod SHA-256 when known, and records
 * evidence.captured, or evidence.failed with whatever partial bytes were kept.
 */
export async function keepArtifact(
  cr: CaptureState,
  pod: PodRow,
  item: Item,
  spec: {
    extension: string;
    contentType: string;
    command: string[];
    produce: (sink: Writable) => Promise<{ size?: number; sha256?: string }>;
    cleanup?: () => Promise<void>;
  },
): Promise<boolean> {
  const deps = cr.deps;
  const startedAt = deps.now();
  setItem(cr, item, { state: 'running', detail: 'streaming' });
  const key = `${cr.req.incident.id}/${cr.req.service}/${pod.name}/${stamp(startedAt)}-${item.kind}.${spec.extension}`;
  const custody = custodyOf(cr, pod, item.kind, spec.command, startedAt);
  let writer;
  try {
    writer = await deps.metrics.timed('evidence', 'create', () =>
      cr.req.evidence.create(key, { contentType: spec.contentType }),
    );
  } catch (err) {
    await markFailed(
      cr,
      pod,
      item,
      startedAt,
      spec.command,
      `the evidence store refused it: ${(err as Error).message}`,
    );
    return false;
  }
  let expected: { size?: number; sha256?: string };
  try {
    expected = await spec.produce(writer.stream);
  } catch (err) {
    const reason = await explainFailure(cr, pod, err);
    const kept = await writer.keepPartial({ ...custody, endedAt: deps.now().toISOString(), reason });
    await spec.cleanup?.().catch(() => {});
    await markFailed(cr, pod, item, startedAt, spec.command, reason, kept);
    return false;
  }
  let stored: StoredArtifact;
  try {
    stored = await deps.metrics.timed('evidence', 'commit', () =>
      writer.commit({ ...custody, endedAt: deps.now().toISOString() }, (got) => {
        if (expected.size !== undefined && got.size !== expected.size)
          return `size mismatch: the pod has ${expected.size} bytes, ${got.size} were stored`;
        if (expected.sha256 !== undefined && got.sha256 !== expected.sha256)
          return `sha256 mismatch: the pod says ${expected.sha256}, the stored bytes hash to ${got.sha256}`;
        return undefined;
      }),
    );
  } catch (err) {
    await spec.cleanup?.().catch(() => {});
    await markFailed(cr, pod, item, startedAt, spec.command, `storing failed: ${(err as Error).message}`);
    return false;
  }
  await spec.cleanup?.().catch(() => {});
  if (stored.problem) {
    await markFailed(cr, pod, item, startedAt, spec.command, stored.problem, stored);
    return false;
  }
  const endedAt = deps.now();
  const data: EvidenceEventData = {
    uri: stored.uri,
    kind: item.kind,
    pod: pod.name,
    container: containerOf(cr),
    ...(pod.node ? { node: pod.node } : {}),
    ...(pod.imageDigest ? { imageDigest: pod.imageDigest } : {}),
    command: spec.command,
    size: stored.size,
    sha256: stored.sha256,
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    requestedBy: custody.requestedBy,
    verifiedInPod: expected.sha256 !== undefined,
  };
  await deps.incidents.record(cr.req.incident.id, {
    step: 'L',
    kind: EVIDENCE_CAPTURED,
    actor: cr.req.actor,
    summary: `Kept ${item.kind} of ${pod.name}: ${formatBytes(stored.size)}, sha256 ${stored.sha256}`,
    data: { ...data, incident: cr.req.incident.id, service: cr.req.service },
  });
  setItem(cr, item, {
    state: 'kept',
    detail: '',
    uri: stored.uri,
    size: stored.size,
    sha256: stored.sha256,
    verifiedInPod: expected.sha256 !== undefined,
  });
  return true;
}

/** A message for a failure, checking whether the pod itself is gone. */
export async function explainFailure(cr: CaptureState, pod: PodRow, err: unknown): Promise<string> {
  if (err instanceof PodGone) {
    cr.gone.set(pod.name, err.message);
    return err.message;
  }
  let reason = err instanceof Error ? err.message : String(err);
  if (err instanceof ExecError && err.failure === 'forbidden') cr.execForbidden = reason;
  // Only a broken stream or a missing pod says anything about whether the pod is still there.
  const podMayBeGone =
    (err instanceof ExecError &&
      ['cut', 'not-found', 'timeout', 'unavailable', 'bad-request'].includes(err.failure)) ||
    (err instanceof KubernetesError && (err.reason === 'not-found' || err.reason === 'unavailable'));
  if (podMayBeGone) {
    try {
      const now = await cr.req.cluster.getPod(cr.req.cfg.namespace, pod.name, cr.req.cfg.container);
      const gone = !now
        ? `pod ${pod.name} is gone (deleted during the capture)`
        : now.uid !== pod.uid
          ? `pod ${pod.name} was replaced by a new pod of the same name during the capture`
          : now.deletingSince
            ? `pod ${pod.name} is being deleted (since ${now.deletingSince})`
            : undefined;
      if (gone) {
        cr.gone.set(pod.name, gone);
        reason = `${gone}; ${reason}`;
      }
    } catch {
      // the original error says enough
    }
  }
  return reason;
}

export async function markFailed(
  cr: CaptureState,
  pod: PodRow,
  item: Item,
  startedAt: Date,
  command: string[] | undefined,
  reason: string,
  kept?: StoredArtifact,
): Promise<void> {
  const data: EvidenceFailedEventData = {
    kind: item.kind,
    pod: pod.name,
    container: containerOf(cr),
    ...(pod.node ? { node: pod.node } : {}),
    ...(command ? { command } : {}),
    reason,
    ...(kept ? { kept: { uri: kept.uri, size: kept.size, sha256: kept.sha256 } } : {}),
    startedAt: startedAt.toISOString(),
    endedAt: cr.deps.now().toISOString(),
    requestedBy: `${cr.req.actor.name} (${cr.req.actor.id})`,
  };
  await cr.deps.incidents.record(cr.req.incident.id, {
    step: 'L',
    kind: EVIDENCE_FAILED,
    actor: cr.req.actor,
    summary: `FAILED ${item.kind} of ${pod.name}: ${reason}${kept ? ` (kept ${formatBytes(kept.size)} marked partial)` : ''}`,
    data: { ...data, incident: cr.req.incident.id, service: cr.req.service },
  });
  setItem(cr, item, {
    state: 'failed',
    detail: reason,
    ...(kept ? { kept: { uri: kept.uri, size: kept.size } } : {}),
  });
}

export async function markSkipped(cr: CaptureState, pod: PodRow, item: Item, reason: string): Promise<void> {
  const now = cr.deps.now().toISOString();
  const data: EvidenceFailedEventData = {
    kind: item.kind,
    pod: pod.name,
    container: containerOf(cr),
    ...(pod.node ? { node: pod.node } : {}),
    reason,
    startedAt: now,
    endedAt: now,
    requestedBy: `${cr.req.actor.name} (${cr.req.actor.id})`,
  };
  await cr.deps.incidents.record(cr.req.incident.id, {
    step: 'L',
    kind: EVIDENCE_SKIPPED,
    actor: cr.req.actor,
    summary: `Skipped ${item.kind} of ${pod.name}: ${reason}`,
    data: { ...data, incident: cr.req.incident.id, service: cr.req.service },
  });
  setItem(cr, item, { state: 'skipped', detail: reason });
}

/** Waits for this node's dump lease (one dump per node, across replicas and incidents). */
