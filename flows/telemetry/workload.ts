// Step L, shared: the workload a service names, quarantine's stored shapes, and fresh pod rows.
import { type Kubernetes } from '../../src/adapters/kubernetes/types.ts';
import type { EvidenceStore } from '../../src/adapters/evidence/store.ts';
import { type KubernetesSection } from '../../src/config.ts';
import type { TelemetryCaps } from './caps.ts';
import { ConfigError, UsageError } from '../../src/errors.ts';
import { buildSnapshot, incidentSlug, type PodInfo, type PodRow } from '../../src/workload.ts';

export const QUARANTINE_KIND = 'pods.quarantine';
export const EXPIRY_QUEUE = 'telemetry-quarantine-expiry';
export const DEFAULT_PODS = 2;
export const EVENTS_SINCE_MS = 60 * 60_000;

export interface QuarantineBasis {
  pods: { name: string; uid: string; ready: boolean; node?: string; percent?: number }[];
  readyTotal: number;
  otherPolicies: string[];
}

export interface QuarantineChange {
  service: string;
  namespace: string;
  pods: { name: string; removeLabels: string[] }[];
  label: { key: string; value: string };
  policy: string;
  forensicsNamespace?: string;
  ttlMs: number;
  onExpiry: 'return' | 'delete';
  /** Take the runtime dumps from the pods once isolated. */
  captureAfter: boolean;
}

export interface Workload {
  cfg: KubernetesSection;
  cluster: Kubernetes;
  evidence: EvidenceStore;
}

/** The service's Kubernetes section and adapters, or a message saying what to configure. */
/** The service's kubernetes section, or a message saying how to add one. Touches no cluster. */
export function kubernetesSection(deps: TelemetryCaps, service: string): KubernetesSection {
  const cfg = deps.config.services[service]?.kubernetes;
  if (!cfg) {
    throw new UsageError(
      `${service} has no kubernetes section in cloud-safety.yml, so there is no workload to inspect. Add services.${service}.kubernetes (namespace, selector, container, runtime); see docs/telemetry.md.`,
    );
  }
  return cfg;
}

export function workloadOf(deps: TelemetryCaps, service: string): Workload {
  const cfg = kubernetesSection(deps, service);
  const { kubernetes, evidence } = deps.adapters;
  if (!kubernetes || !evidence) {
    throw new ConfigError('The Kubernetes adapter or the evidence store is not built; this is a wiring bug.');
  }
  return { cfg, cluster: kubernetes.cluster(cfg.context), evidence };
}

export function policyName(incidentId: string): string {
  return `cloud-safety-quarantine-${incidentSlug(incidentId)}`;
}

export function expiryMember(incidentId: string, service: string): string {
  return `${incidentId}|${service}`;
}

export function rowsByName(rows: PodRow[]): Map<string, PodRow> {
  return new Map(rows.map((r) => [r.name, r]));
}

/** Fresh rows (memory included) for named pods, for captures that start later than the snapshot. */
export async function rowsForPods(
  deps: TelemetryCaps,
  cfg: KubernetesSection,
  cluster: Kubernetes,
  names: string[],
  selector: string,
): Promise<PodRow[]> {
  const pods = (await Promise.all(names.map((n) => cluster.getPod(cfg.namespace, n, cfg.container)))).filter(
    (p): p is PodInfo => p !== null,
  );
  const metrics = await cluster
    .podMemory(cfg.namespace, selector, cfg.container)
    .catch((err: unknown) => ({ available: false as const, reason: (err as Error).message }));
  return buildSnapshot({
    service: '',
    namespace: cfg.namespace,
    selector: '',
    container: cfg.container,
    at: deps.now(),
    pods,
    metrics,
    events: [],
  }).pods;
}
