// The Kubernetes port: what step L needs from a cluster, in our own types (no client-node shapes past this line).
import type { Readable, Writable } from 'node:stream';
import { ExternalServiceError } from '../../errors.ts';
import type { LabelSelector, MemoryMetrics, PodEvent, PodInfo } from '../../workload.ts';

/** A metav1.Status as the API server sends it on channel 3. */
export interface ExecStatus {
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { reason?: string; message?: string }[] };
}

export interface ExecParams {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  /** Receives stdout; its backpressure pauses the socket. Never ended here: callers may append several execs. */
  stdout?: Writable;
  /** Sent on channel 0. v4 has no way to signal end of input: the command must not wait for EOF. */
  stdin?: Readable;
  /** Whole call, default 10 minutes. */
  timeoutMs?: number;
  /** No frame for this long fails the call, default 60 s. */
  idleTimeoutMs?: number;
  /** Called every `everyMs` of silence (no frame), with how long it has lasted and the allowance. */
  onSilence?: { everyMs: number; notify(silentMs: number, allowanceMs: number): void };
  /** After the status frame, how long to wait for the server's close before closing ourselves, default 5 s. */
  closeTimeoutMs?: number;
  /** Stderr kept for messages, default 64 KiB (the rest is counted, not kept). */
  stderrLimit?: number;
}

/** The timers an exec arms (overall limit, silence allowance, close grace); tests inject a virtual clock. */
export interface ExecTimers {
  now(): number;
  set(fn: () => void, ms: number): { cancel(): void };
}

export const REAL_TIMERS: ExecTimers = {
  now: Date.now,
  set(fn, ms) {
    const timer = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(timer) };
  },
};

export interface ExecResult {
  exitCode: number;
  status: ExecStatus;
  stdoutBytes: number;
  stderr: string;
  durationMs: number;
}

export type ExecFailure =
  | 'forbidden'
  | 'not-found'
  | 'bad-request'
  | 'unauthorized'
  | 'unavailable'
  | 'protocol'
  | 'cut'
  | 'timeout'
  | 'start-failed'
  | 'missing-tool'
  | 'sink';

/** The exec did not produce an exit code; `stdoutBytes` says how much reached the sink before it failed. */
export class ExecError extends Error {
  code = 'kubernetes.exec';
  failure: ExecFailure;
  httpStatus: number | undefined;
  status: ExecStatus | undefined;
  stdoutBytes: number;
  stderr: string;
  constructor(
    failure: ExecFailure,
    message: string,
    extra: {
      httpStatus?: number;
      status?: ExecStatus;
      stdoutBytes?: number;
      stderr?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: extra.cause });
    this.name = 'ExecError';
    this.failure = failure;
    this.httpStatus = extra.httpStatus;
    this.status = extra.status;
    this.stdoutBytes = extra.stdoutBytes ?? 0;
    this.stderr = extra.stderr ?? '';
  }
}

/** A Kubernetes API call failed; `verb` and `resource` say what the bot was trying (for RBAC messages). */
export class KubernetesError extends ExternalServiceError {
  override code = 'kubernetes';
  reason: 'forbidden' | 'not-found' | 'conflict' | 'invalid' | 'unauthorized' | 'unavailable' | 'other';
  verb: string;
  resource: string;
  constructor(
    reason: KubernetesError['reason'],
    message: string,
    opts: { verb: string; resource: string; status?: number; cause?: unknown },
  ) {
    super('kubernetes', message, {
      ...(opts.status !== undefined ? { status: opts.status } : {}),
      retryable: reason === 'unavailable',
      cause: opts.cause,
    });
    this.reason = reason;
    this.verb = opts.verb;
    this.resource = opts.resource;
  }
}

export interface PulledFile {
  /** Size reported by `wc -c` in the pod; exactly this many bytes were streamed into the sink. */
  size: number;
  /** `sha256sum` computed in the pod; undefined when the image has no sha256sum. */
  sha256?: string;
  /** Exec calls it took (chunks plus retries). */
  execs: number;
  retries: number;
}

export interface PullOptions {
  /** Bytes per exec (default 64 MiB); a failed chunk resumes from the last byte received. */
  chunkBytes?: number;
  /** Attempts per chunk after the first (default 3). */
  retries?: number;
  timeoutMs?: number;
  onProgress?: (received: number, size: number) => void;
}

export interface ReplicaSetInfo {
  name: string;
  /** spec.replicas: the count the controller scales to, adopting or deleting pods. */
  replicas: number;
  selector: LabelSelector;
}

/** What a TCP probe from one pod to another found. */
export type TcpProbe =
  { result: 'reached' } | { result: 'blocked' } | { result: 'unavailable'; reason: string };

export interface QuarantinePolicySpec {
  name: string;
  /** The label the quarantined pods carry; the policy selects exactly them. */
  label: { key: string; value: string };
  /** Ingress is allowed only from this namespace (none when unset). */
  forensicsNamespace?: string;
  incident: string;
}

export interface Kubernetes {
  /** Pods matching the selector, with the details of `container`. */
  listPods(namespace: string, selector: string, container: string): Promise<PodInfo[]>;
  /** null when the pod does not exist (any more). */
  getPod(namespace: string, name: string, container: string): Promise<PodInfo | null>;
  /** The pod object as the API serves it, kept as evidence; null when gone. */
  podDocument(namespace: string, name: string): Promise<Record<string, unknown> | null>;
  /** Memory working set per pod from metrics.k8s.io; unavailable (with why) when there is no metrics server. */
  podMemory(namespace: string, selector: string, container: string): Promise<MemoryMetrics>;
  /** Warning events about pods in the namespace since `since`. */
  warningEvents(namespace: string, since: Date): Promise<PodEvent[]>;
  /** Streams a container's log into `sink`; `previous` reads the last terminated instance. Returns bytes. */
  streamLogs(
    namespace: string,
    pod: string,
    container: string,
    opts: { previous: boolean; limitBytes: number },
    sink: Writable,
  ): Promise<number>;
  exec(params: ExecParams): Promise<ExecResult>;
  /** Streams a file out of a container in retriable chunks; size and in-pod sha256sum are read first. */
  pullFile(
    target: { namespace: string; pod: string; container: string },
    path: string,
    sink: Writable,
    opts?: PullOptions,
  ): Promise<PulledFile>;
  /** Services whose selector selects these labels. */
  servicesSelecting(
    namespace: string,
    labels: Record<string, string>,
  ): Promise<{ name: string; selector: Record<string, string> }[]>;
  replicaSetSelector(namespace: string, name: string): Promise<LabelSelector | null>;
  /** The namespace's ReplicaSets: desired replicas and selector. */
  replicaSets(namespace: string): Promise<ReplicaSetInfo[]>;
  networkPolicies(namespace: string): Promise<{ name: string; podSelector: LabelSelector }[]>;
  /** Merge-patches labels and annotations (null removes a key). */
  patchPodMetadata(
    namespace: string,
    name: string,
    patch: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> },
  ): Promise<PodInfo>;
  /** Connects from a container of `from` to ip:port (nc or bash in its image); `waitFirstS` sleeps in the pod first. */
  probeTcp(
    from: { namespace: string; pod: string; container: string },
    ip: string,
    port: number,
    opts?: { waitFirstS?: number },
  ): Promise<TcpProbe>;
  /** Deletes the pod only if it still has this uid; 'gone' when it already was. */
  deletePod(namespace: string, name: string, uid: string): Promise<'deleted' | 'gone'>;
  createQuarantinePolicy(namespace: string, spec: QuarantinePolicySpec): Promise<'created' | 'exists'>;
  /** False when there was no such policy. */
  deleteNetworkPolicy(namespace: string, name: string): Promise<boolean>;
  /** Adds an ephemeral container sharing the target container's process namespace. */
  addDebugContainer(
    namespace: string,
    pod: string,
    spec: { name: string; image: string; target: string },
  ): Promise<void>;
}

/** One Kubernetes client per kubeconfig context. */
export interface KubernetesClusters {
  cluster(context?: string): Kubernetes;
}
