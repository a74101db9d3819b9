// The failing workload as step L sees it (pure): pods, memory against limits, ranking, label selectors, quarantine limits.

/** One pod of the workload, as our adapters report it (only the configured container's details). */
export interface PodInfo {
  name: string;
  uid: string;
  namespace: string;
  node?: string;
  /** metadata.creationTimestamp (ISO). */
  createdAt?: string;
  /** status.podIP, once the pod has one. */
  ip?: string;
  phase: string;
  ready: boolean;
  /** Set when the pod is being deleted. */
  deletingSince?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  owner?: { kind: string; name: string };
  container?: ContainerInfo;
  /** Ephemeral (debug) containers and whether they run. */
  ephemeral?: { name: string; running: boolean }[];
}

export interface ContainerInfo {
  name: string;
  image: string;
  /** The digest of the image actually running (from imageID), e.g. sha256:…. */
  imageDigest?: string;
  ready: boolean;
  state: 'running' | 'waiting' | 'terminated' | 'unknown';
  stateReason?: string;
  restarts: number;
  lastTermination?: { reason: string; exitCode: number; finishedAt?: string };
  memoryLimitBytes?: number;
  /** The container's declared TCP containerPorts. */
  ports?: number[];
}

export interface MemoryUsage {
  pod: string;
  bytes: number;
  at: string;
}

export type MemoryMetrics = { available: true; usage: MemoryUsage[] } | { available: false; reason: string };

export interface PodEvent {
  pod: string;
  type: string;
  reason: string;
  message: string;
  count: number;
  lastSeen: string;
}

/** A label selector as the Kubernetes API writes it. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** One row of the snapshot table. */
export interface PodRow {
  name: string;
  uid: string;
  node?: string;
  phase: string;
  /** What kubectl would show: Running, CrashLoopBackOff, Terminating… */
  status: string;
  /** The configured container runs a process that can be exec'd into and dumped. */
  running: boolean;
  ready: boolean;
  deleting: boolean;
  restarts: number;
  oomKilled: boolean;
  lastTermination?: { reason: string; exitCode: number; at?: string };
  memoryBytes?: number;
  limitBytes?: number;
  /** Memory as a percentage of the limit, when both are known. */
  percent?: number;
  imageDigest?: string;
  image?: string;
  quarantined?: string;
}

export interface WorkloadSnapshot {
  service: string;
  namespace: string;
  selector: string;
  container: string;
  at: string;
  pods: PodRow[];
  metrics: { available: boolean; reason?: string };
  events: PodEvent[];
  digests: { digest: string; pods: number }[];
}

export const QUARANTINE_LABEL = 'cloud-safety.io/quarantine';
export const ANNOTATION = {
  incident: 'cloud-safety.io/incident',
  expires: 'cloud-safety.io/quarantine-expires',
  by: 'cloud-safety.io/quarantined-by',
  labels: 'cloud-safety.io/original-labels',
} as const;

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3 };

/** Bytes in a Kubernetes quantity ("1843Mi", "2G", "1932735283", "129e6"); undefined when it is not one. */
export function parseQuantity(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m|[eE][0-9]+)?$/.exec(text.trim());
  if (!match?.[1]) return undefined;
  const value = Number(match[1]);
  const suffix = match[2];
  if (!suffix) return value;
  if (/^[eE]/.test(suffix)) return value * 10 ** Number(suffix.slice(1));
  return value * (BINARY[suffix] ?? DECIMAL[suffix] ?? NaN);
}

/** "1.9 GiB", "512 MiB", "880 B". */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** Joins pods, metrics and events into the rows of the snapshot, worst first. */
export function buildSnapshot(input: {
  service: string;
  namespace: string;
  selector: string;
  container: string;
  at: Date;
  pods: PodInfo[];
  metrics: MemoryMetrics;
  events: PodEvent[];
}): WorkloadSnapshot {
  const usage = new Map(input.metrics.available ? input.metrics.usage.map((u) => [u.pod, u.bytes]) : []);
  const rows = input.pods.map((pod): PodRow => {
    const c = pod.container;
    const memoryBytes = usage.get(pod.name);
    const limitBytes = c?.memoryLimitBytes;
    const percent =
      memoryBytes !== undefined && limitBytes !== undefined && limitBytes > 0
        ? (memoryBytes / limitBytes) * 100
        : undefined;
    const term = c?.lastTermination;
    const quarantined = pod.labels[QUARANTINE_LABEL];
    return {
      name: pod.name,
      uid: pod.uid,
      ...(pod.node ? { node: pod.node } : {}),
      phase: pod.phase,
      status: pod.deletingSince
        ? 'Terminating'
        : c?.state === 'waiting' && c.stateReason
          ? c.stateReason
          : pod.phase,
      running: pod.phase === 'Running' && pod.deletingSince === undefined && c?.state === 'running',
      ready: pod.ready,
      deleting: pod.deletingSince !== undefined,
      restarts: c?.restarts ?? 0,
      oomKilled: term?.reason === 'OOMKilled',
      ...(term
        ? {
            lastTermination: {
              reason: term.reason,
              exitCode: term.exitCode,
              ...(term.finishedAt ? { at: term.finishedAt } : {}),
            },
          }
        : {}),
      ...(memoryBytes !== undefined ? { memoryBytes } : {}),
      ...(limitBytes !== undefined ? { limitBytes } : {}),
      ...(percent !== undefined ? { percent } : {}),
      ...(c?.imageDigest ? { imageDigest: c.imageDigest } : {}),
      ...(c?.image ? { image: c.image } : {}),
      ...(quarantined ? { quarantined } : {}),
    };
  });
  const digests = new Map<string, number>();
  for (const row of rows) {
    const key = row.imageDigest ?? row.image ?? 'unknown';
    digests.set(key, (digests.get(key) ?? 0) + 1);
  }
  const names = new Set(input.pods.map((p) => p.name));
  return {
    service: input.service,
    namespace: input.namespace,
    selector: input.selector,
    container: input.container,
    at: input.at.toISOString(),
    pods: rankPods(rows),
    metrics: input.metrics.available
      ? { available: true }
      : { available: false, reason: input.metrics.reason },
    events: input.events.filter((e) => names.has(e.pod)).sort((a, b) => b.lastSeen.localeCompare(a.lastSeen)),
    digests: [...digests.entries()]
      .map(([digest, pods]) => ({ digest, pods }))
      .sort((a, b) => b.pods - a.pods || a.digest.localeCompare(b.digest)),
  };
}

/** Closest to the memory limit first; pods without metrics after, most restarts first; then by name. */
export function rankPods(rows: PodRow[]): PodRow[] {
  return [...rows].sort((a, b) => {
    if (a.percent !== undefined || b.percent !== undefined) {
      if (a.percent === undefined) return 1;
      if (b.percent === undefined) return -1;
      if (b.percent !== a.percent) return b.percent - a.percent;
    }
    return b.restarts - a.restarts || a.name.localeCompare(b.name);
  });
}

/** Pods whose state is worth keeping: everything not already being deleted (a crash-looping pod's logs matter most). */
export function capturable(row: PodRow): boolean {
  return !row.deleting;
}

/** Does a Kubernetes label selector select these labels? An empty selector selects everything. */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, expr.key);
    const value = labels[expr.key];
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
        if (!has || value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (has && value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Every label key a selector looks at. */
export function selectorKeys(selector: LabelSelector | Record<string, string> | undefined): string[] {
  if (!selector) return [];
  if ('matchLabels' in selector || 'matchExpressions' in selector) {
    const s = selector as LabelSelector;
    return [...Object.keys(s.matchLabels ?? {}), ...(s.matchExpressions ?? []).map((e) => e.key)];
  }
  return Object.keys(selector);
}

/**
 * How many of the requested pods may be isolated: never more than `max`, and never so many ready pods that fewer
 * than (1 - fraction) of the ready pods keep serving. Pods that are not ready cost no capacity.
 */
export function quarantineAllowance(
  candidates: Pick<PodRow, 'ready'>[],
  readyTotal: number,
  limits: { max: number; fraction: number },
): { allowed: number; readyBudget: number } {
  const readyBudget = Math.floor(readyTotal * limits.fraction);
  let allowed = 0;
  let readyUsed = 0;
  for (const pod of candidates) {
    if (allowed >= limits.max) break;
    if (pod.ready) {
      if (readyUsed >= readyBudget) break;
      readyUsed++;
    }
    allowed++;
  }
  return { allowed, readyBudget };
}

/** A label value or resource name derived from an incident id: INC-12 -> inc-12. */
export function incidentSlug(incidentId: string): string {
  return incidentId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
}
