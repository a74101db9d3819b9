// Step L evidence capture: what can't be lost first (status, events, previous logs), then dumps streamed out of pods.
import { takeLease, type Lease } from '../../src/lease.ts';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { EvidenceStore, StoredArtifact } from '../../src/adapters/evidence/store.ts';
import { ExecError, KubernetesError, type Kubernetes } from '../../src/adapters/kubernetes/types.ts';
import type { MessageRef } from '../../src/chat/chat.ts';
import { captureMessage, type CaptureItemView, type CaptureView } from './blocks.ts';
import type { KubernetesSection } from '../../src/config.ts';
import type { Deps } from '../../src/deps.ts';
import {
  CAPTURE_FINISHED,
  EVIDENCE_CAPTURED,
  EVIDENCE_FAILED,
  EVIDENCE_SKIPPED,
  type EvidenceEventData,
  type EvidenceFailedEventData,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { profileFor, renderCommand, toolOf, type ProfileStep } from './profiles.ts';
import type { Actor } from '../../src/timeline.ts';
import { formatBytes, type PodEvent, type PodRow } from '../../src/workload.ts';

export interface CaptureRequest {
  incident: Incident;
  service: string;
  cfg: KubernetesSection;
  cluster: Kubernetes;
  evidence: EvidenceStore;
  targets: PodRow[];
  actor: Actor;
  /** Pod status, events and previous logs. */
  basics: boolean;
  /** The runtime profile's dumps. */
  dumps: boolean;
  /** Warning events from the snapshot, kept with each pod's status. */
  events?: PodEvent[];
  /** Take the dumps from this ephemeral container; files are reached through /proc/<pid>/root. */
  debugContainer?: string;
  /** Shown on the card (e.g. "dumps follow once the quarantine is approved"). */
  note?: string;
}

export interface CaptureSummary {
  id: string;
  kept: number;
  failed: number;
  skipped: number;
  message?: MessageRef;
}

interface Item extends CaptureItemView {
  id: string;
}

/** Thrown inside a dump to stop this pod's remaining steps. */
class PodGone extends Error {}

const NODE_LEASE_MS = 60_000;
const NODE_WAIT_POLL_MS = 2000;

function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** The first meaningful line of command output (jcmd starts with a "<pid>:" line). */
function firstLine(text: string, max = 200): string {
  const line =
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0 && !/^\d+:$/.test(l)) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Keeps the first `limit` bytes written to it (command output for messages), counts the rest. */
function boundedCollector(limit = 16 * 1024): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (size < limit) chunks.push(chunk.subarray(0, limit - size));
      size += chunk.length;
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export class CaptureRun {
  #deps: Deps;
  #req: CaptureRequest;
  #id = randomUUID().slice(0, 8);
  #items: Item[] = [];
  #offers: CaptureView['offers'] = [];
  #message: MessageRef | undefined;
  #finished: CaptureView['finished'];
  #execForbidden: string | undefined;
  #gone = new Map<string, string>();

  constructor(deps: Deps, req: CaptureRequest) {
    this.#deps = deps;
    this.#req = req;
  }

  get id(): string {
    return this.#id;
  }

  #steps(): ProfileStep[] {
    return profileFor(this.#req.cfg.runtime, this.#req.cfg.profiles);
  }

  #view(): CaptureView {
    return {
      incident: this.#req.incident.id,
      service: this.#req.service,
      location: this.#req.evidence.location,
      items: this.#items,
      offers: this.#offers,
      ...(this.#finished ? { finished: this.#finished } : {}),
      ...(this.#req.note ? { note: this.#req.note } : {}),
    };
  }

  #refresh(): void {
    const ref = this.#message;
    if (!ref) return;
    this.#deps.throttle.schedule(`capture:${this.#id}`, async () => {
      try {
        await this.#deps.chat.update(ref, captureMessage(this.#view()));
      } catch (err) {
        this.#deps.log.warn({ err, capture: this.#id }, 'could not update the capture card');
      }
    });
  }

  #add(pod: string, kind: string): Item {
    const item: Item = { id: `${pod}/${kind}`, pod, kind, state: 'waiting' };
    this.#items.push(item);
    return item;
  }

  #set(item: Item, patch: Partial<CaptureItemView>): void {
    Object.assign(item, patch);
    this.#refresh();
  }

  #container(): string {
    return this.#req.debugContainer ?? this.#req.cfg.container;
  }

  #custody(pod: PodRow, kind: string, command: string[] | undefined, startedAt: Date) {
    return {
      incident: this.#req.incident.id,
      service: this.#req.service,
      kind,
      pod: pod.name,
      podUid: pod.uid,
      namespace: this.#req.cfg.namespace,
      container: this.#container(),
      ...(pod.node ? { node: pod.node } : {}),
      ...(pod.imageDigest ? { imageDigest: pod.imageDigest } : {}),
      ...(command ? { command } : {}),
      startedAt: startedAt.toISOString(),
      requestedBy: `${this.#req.actor.name} (${this.#req.actor.id})`,
    };
  }

  /** Runs everything asked for and reports it; never throws for a single artifact. */
  async run(): Promise<CaptureSummary> {
    const { targets } = this.#req;
    for (const pod of targets) {
      if (this.#req.basics) {
        this.#add(pod.name, 'pod-status');
        if (pod.restarts > 0) this.#add(pod.name, 'previous-logs');
      }
      if (this.#req.dumps) for (const step of this.#steps()) this.#add(pod.name, step.kind);
    }
    try {
      this.#message = await this.#deps.chat.post(this.#req.incident.channel, captureMessage(this.#view()));
    } catch (err) {
      this.#deps.log.warn({ err, capture: this.#id }, 'could not post the capture card');
    }
    // What can't be lost comes first, for every pod, before anything heavy touches one of them.
    if (this.#req.basics) for (const pod of targets) await this.#basics(pod);
    if (this.#req.dumps) {
      const byNode = new Map<string, PodRow[]>();
      for (const pod of targets) {
        const key = pod.node ?? `unscheduled:${pod.name}`;
        byNode.set(key, [...(byNode.get(key) ?? []), pod]);
      }
      // Nodes in parallel, pods on one node one after the other: never two dumps on a node at once.
      await Promise.all(
        [...byNode.entries()].map(async ([node, pods]) => {
          for (const pod of pods) await this.#dumps(pod, node);
        }),
      );
    }
    const kept = this.#items.filter((i) => i.state === 'kept').length;
    const failed = this.#items.filter((i) => i.state === 'failed').length;
    const skipped = this.#items.filter((i) => i.state === 'skipped').length;
    this.#finished = { kept, failed, skipped };
    await this.#deps.incidents.record(this.#req.incident.id, {
      step: 'L',
      kind: CAPTURE_FINISHED,
      actor: this.#req.actor,
      summary: `Evidence from ${targets.map((t) => t.name).join(', ')}: ${kept} kept, ${failed} failed, ${skipped} skipped`,
      data: {
        capture: this.#id,
        service: this.#req.service,
        pods: targets.map((t) => t.name),
        kept,
        failed,
        skipped,
        items: this.#items.map((i) => ({
          pod: i.pod,
          kind: i.kind,
          state: i.state,
          ...(i.uri ? { uri: i.uri } : {}),
          ...(i.detail ? { detail: i.detail } : {}),
        })),
      },
      stepState: failed === 0 && kept > 0 && this.#req.dumps ? 'done' : 'in_progress',
    });
    this.#refresh();
    return { id: this.#id, kept, failed, skipped, ...(this.#message ? { message: this.#message } : {}) };
  }

  #item(pod: string, kind: string): Item {
    const item = this.#items.find((i) => i.pod === pod && i.kind === kind && i.state === 'waiting');
    return item ?? this.#add(pod, kind);
  }

  async #basics(pod: PodRow): Promise<void> {
    const { cluster, cfg } = this.#req;
    const status = this.#item(pod.name, 'pod-status');
    await this.#artifact(pod, status, {
      extension: 'pod.json',
      contentType: 'application/json',
      command: ['GET', `/api/v1/namespaces/${cfg.namespace}/pods/${pod.name}`],
      produce: async (sink) => {
        const document = await cluster.podDocument(cfg.namespace, pod.name);
        if (!document) throw new PodGone(`pod ${pod.name} is gone`);
        const body = {
          capturedAt: this.#deps.now().toISOString(),
          pod: document,
          memory: {
            usageBytes: pod.memoryBytes ?? null,
            limitBytes: pod.limitBytes ?? null,
            percentOfLimit: pod.percent ?? null,
          },
          warningEvents: (this.#req.events ?? []).filter((e) => e.pod === pod.name),
        };
        sink.write(`${JSON.stringify(body, null, 2)}\n`);
        return {};
      },
    });
    if (pod.restarts === 0) return;
    const logs = this.#item(pod.name, 'previous-logs');
    await this.#artifact(pod, logs, {
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
  async #artifact(
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
    const deps = this.#deps;
    const startedAt = deps.now();
    this.#set(item, { state: 'running', detail: 'streaming' });
    const key = `${this.#req.incident.id}/${this.#req.service}/${pod.name}/${stamp(startedAt)}-${item.kind}.${spec.extension}`;
    const custody = this.#custody(pod, item.kind, spec.command, startedAt);
    let writer;
    try {
      writer = await deps.metrics.timed('evidence', 'create', () =>
        this.#req.evidence.create(key, { contentType: spec.contentType }),
      );
    } catch (err) {
      await this.#failed(
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
      const reason = await this.#explain(pod, err);
      const kept = await writer.keepPartial({ ...custody, endedAt: deps.now().toISOString(), reason });
      await spec.cleanup?.().catch(() => {});
      await this.#failed(pod, item, startedAt, spec.command, reason, kept);
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
      await this.#failed(pod, item, startedAt, spec.command, `storing failed: ${(err as Error).message}`);
      return false;
    }
    await spec.cleanup?.().catch(() => {});
    if (stored.problem) {
      await this.#failed(pod, item, startedAt, spec.command, stored.problem, stored);
      return false;
    }
    const endedAt = deps.now();
    const data: EvidenceEventData = {
      uri: stored.uri,
      kind: item.kind,
      pod: pod.name,
      container: this.#container(),
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
    await deps.incidents.record(this.#req.incident.id, {
      step: 'L',
      kind: EVIDENCE_CAPTURED,
      actor: this.#req.actor,
      summary: `Kept ${item.kind} of ${pod.name}: ${formatBytes(stored.size)}, sha256 ${stored.sha256}`,
      data: { ...data, incident: this.#req.incident.id, service: this.#req.service },
    });
    this.#set(item, {
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
  async #explain(pod: PodRow, err: unknown): Promise<string> {
    if (err instanceof PodGone) {
      this.#gone.set(pod.name, err.message);
      return err.message;
    }
    let reason = err instanceof Error ? err.message : String(err);
    if (err instanceof ExecError && err.failure === 'forbidden') this.#execForbidden = reason;
    // Only a broken stream or a missing pod says anything about whether the pod is still there.
    const podMayBeGone =
      (err instanceof ExecError &&
        ['cut', 'not-found', 'timeout', 'unavailable', 'bad-request'].includes(err.failure)) ||
      (err instanceof KubernetesError && (err.reason === 'not-found' || err.reason === 'unavailable'));
    if (podMayBeGone) {
      try {
        const now = await this.#req.cluster.getPod(
          this.#req.cfg.namespace,
          pod.name,
          this.#req.cfg.container,
        );
        const gone = !now
          ? `pod ${pod.name} is gone (deleted during the capture)`
          : now.uid !== pod.uid
            ? `pod ${pod.name} was replaced by a new pod of the same name during the capture`
            : now.deletingSince
              ? `pod ${pod.name} is being deleted (since ${now.deletingSince})`
              : undefined;
        if (gone) {
          this.#gone.set(pod.name, gone);
          reason = `${gone}; ${reason}`;
        }
      } catch {
        // the original error says enough
      }
    }
    return reason;
  }

  async #failed(
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
      container: this.#container(),
      ...(pod.node ? { node: pod.node } : {}),
      ...(command ? { command } : {}),
      reason,
      ...(kept ? { kept: { uri: kept.uri, size: kept.size, sha256: kept.sha256 } } : {}),
      startedAt: startedAt.toISOString(),
      endedAt: this.#deps.now().toISOString(),
      requestedBy: `${this.#req.actor.name} (${this.#req.actor.id})`,
    };
    await this.#deps.incidents.record(this.#req.incident.id, {
      step: 'L',
      kind: EVIDENCE_FAILED,
      actor: this.#req.actor,
      summary: `FAILED ${item.kind} of ${pod.name}: ${reason}${kept ? ` (kept ${formatBytes(kept.size)} marked partial)` : ''}`,
      data: { ...data, incident: this.#req.incident.id, service: this.#req.service },
    });
    this.#set(item, {
      state: 'failed',
      detail: reason,
      ...(kept ? { kept: { uri: kept.uri, size: kept.size } } : {}),
    });
  }

  async #skipped(pod: PodRow, item: Item, reason: string): Promise<void> {
    const now = this.#deps.now().toISOString();
    const data: EvidenceFailedEventData = {
      kind: item.kind,
      pod: pod.name,
      container: this.#container(),
      ...(pod.node ? { node: pod.node } : {}),
      reason,
      startedAt: now,
      endedAt: now,
      requestedBy: `${this.#req.actor.name} (${this.#req.actor.id})`,
    };
    await this.#deps.incidents.record(this.#req.incident.id, {
      step: 'L',
      kind: EVIDENCE_SKIPPED,
      actor: this.#req.actor,
      summary: `Skipped ${item.kind} of ${pod.name}: ${reason}`,
      data: { ...data, incident: this.#req.incident.id, service: this.#req.service },
    });
    this.#set(item, { state: 'skipped', detail: reason });
  }

  /** Waits for this node's dump lease (one dump per node, across replicas and incidents). */
  async #nodeLease(node: string): Promise<Lease | string> {
    const { store, instanceId } = this.#deps;
    const key = `telemetry:node-dump:${node}`;
    const lease = await takeLease(store, key, {
      owner: `${instanceId}:${this.#id}`,
      ttlMs: NODE_LEASE_MS,
      renewMs: 20_000,
      waitMs: this.#req.cfg.capture.timeout,
      pollMs: NODE_WAIT_POLL_MS,
      onLost: (reason) => this.#deps.log.warn({ node, reason }, 'lost the node dump lease'),
    });
    if (!lease)
      return `another dump on node ${node} kept it busy for over ${Math.round(this.#req.cfg.capture.timeout / 60_000)} min`;
    return lease;
  }

  async #dumps(pod: PodRow, node: string): Promise<void> {
    const steps = this.#steps();
    if (!pod.running && !this.#req.debugContainer) {
      const reason = `container ${this.#req.cfg.container} is not running (${pod.status}): there is no process to dump; its status and previous logs are the evidence`;
      for (const step of steps) await this.#skipped(pod, this.#item(pod.name, step.kind), reason);
      return;
    }
    const lease = await this.#nodeLease(node);
    if (typeof lease === 'string') {
      for (const step of steps) await this.#skipped(pod, this.#item(pod.name, step.kind), lease);
      return;
    }
    try {
      for (const step of steps) {
        const item = this.#item(pod.name, step.kind);
        if (lease.signal.aborted) {
          await this.#skipped(
            pod,
            item,
            `the dump lease of node ${node} was lost, so another dump may run there`,
          );
          continue;
        }
        const gone = this.#gone.get(pod.name);
        if (gone) {
          await this.#skipped(pod, item, gone);
          continue;
        }
        if (this.#execForbidden) {
          await this.#skipped(pod, item, `exec is forbidden: ${this.#execForbidden}`);
          continue;
        }
        const noRoom = this.#headroomProblem(pod, step);
        if (noRoom) {
          await this.#skipped(pod, item, noRoom);
          continue;
        }
        await this.#dump(pod, step, item);
      }
    } finally {
      await lease.release();
    }
  }

  /** Why a step that needs free memory (a V8 heap snapshot) must not run now; undefined when it may. */
  #headroomProblem(pod: PodRow, step: ProfileStep): string | undefined {
    if (step.headroom === undefined) return undefined;
    if (pod.memoryBytes === undefined || pod.limitBytes === undefined) {
      return `memory use or limit unknown, so the free memory a ${step.kind} needs cannot be checked (it could OOM-kill the pod and lose the evidence)`;
    }
    const free = pod.limitBytes - pod.memoryBytes;
    const needed = pod.memoryBytes * step.headroom;
    if (free >= needed) return undefined;
    return `it uses ${formatBytes(pod.memoryBytes)} of its ${formatBytes(pod.limitBytes)} limit and a ${step.kind} needs about ${formatBytes(needed)} free (headroom ${step.headroom}); taking it now could OOM-kill the pod. Quarantine the pod first, or lower headroom in the profile`;
  }

  async #dump(pod: PodRow, step: ProfileStep, item: Item): Promise<void> {
    const { cluster, cfg } = this.#req;
    const container = this.#container();
    const dir = cfg.scratchDir.replace(/\/+$/, '') || '/';
    const name = `cloud-safety-${this.#id}-${step.name}.${step.extension}`;
    // From a debug container, the application's files are reached through its root in /proc.
    const file = this.#req.debugContainer
      ? `/proc/${cfg.pid}/root${dir === '/' ? '' : dir}/${name}`
      : `${dir === '/' ? '' : dir}/${name}`;
    const script = renderCommand(step, { pid: cfg.pid, file, dir });
    const target = { namespace: cfg.namespace, pod: pod.name, container };
    const command = ['sh', '-c', script];
    await this.#artifact(pod, item, {
      extension: step.extension,
      contentType: 'application/octet-stream',
      command,
      produce: async (sink) => {
        this.#set(item, { detail: `running \`${firstLine(script, 60)}\`` });
        const output = boundedCollector();
        let result;
        try {
          result = await cluster.exec({
            ...target,
            command,
            stdout: output.stream,
            timeoutMs: cfg.capture.timeout,
          });
        } catch (err) {
          if (err instanceof ExecError && err.failure === 'missing-tool')
            throw this.#missingTool(pod, step, err.message);
          throw err;
        }
        if (result.exitCode === 127 || (result.exitCode !== 0 && /not found/i.test(result.stderr))) {
          throw this.#missingTool(pod, step, firstLine(result.stderr || output.text()));
        }
        if (result.exitCode !== 0) {
          throw new Error(
            `\`${firstLine(script, 80)}\` exited with code ${result.exitCode}: ${firstLine(result.stderr || output.text()) || 'no output'}`,
          );
        }
        this.#set(item, { detail: 'pulling the file out of the pod' });
        const pulled = await cluster.pullFile(target, file, sink, {
          chunkBytes: cfg.capture.chunkBytes,
          retries: cfg.capture.retries,
          timeoutMs: cfg.capture.timeout,
          onProgress: (received, size) =>
            this.#set(item, { detail: `${formatBytes(received)} of ${formatBytes(size)}` }),
        });
        return { size: pulled.size, ...(pulled.sha256 ? { sha256: pulled.sha256 } : {}) };
      },
      cleanup: async () => {
        if (this.#gone.has(pod.name) || this.#execForbidden) return;
        await cluster.exec({ ...target, command: ['rm', '-f', file], timeoutMs: 30_000 });
      },
    });
  }

  #missingTool(pod: PodRow, step: ProfileStep, detail: string): Error {
    const tool = toolOf(step);
    const { cfg, incident } = this.#req;
    if (cfg.debugImage && !this.#req.debugContainer && !this.#offers.some((o) => o.pod === pod.name)) {
      this.#offers.push({ pod: pod.name, tool, value: `${incident.id}|${pod.name}` });
    }
    const next = this.#req.debugContainer
      ? 'the debug image lacks it too; set kubernetes.debugImage to an image that has it'
      : cfg.debugImage
        ? `press "Debug container" below to take it from an ephemeral container running ${cfg.debugImage}`
        : 'set kubernetes.debugImage to an image with the tool to be offered an ephemeral debug container';
    return new Error(`the image has no \`${tool}\` (${detail || 'not found'}); ${next}`);
  }
}
