// NetworkPolicy semantics for the drill cluster's network plugin
// (https://kubernetes.io/docs/concepts/services-networking/network-policies/): a pod selected by a policy of type
// Ingress accepts only what one of those policies' ingress rules allows, and likewise for Egress; policies add up;
// a pod no policy selects is open. Peers are pods (podSelector, same namespace), namespaces (namespaceSelector) or
// CIDRs (ipBlock).
import { selectorMatches, type LabelSelector } from '../workload.ts';
import { NAMESPACE, type PodSpecInput } from './kubernetes-objects.ts';

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: { port?: number | string; protocol?: string }[];
}

export interface StoredPolicy {
  name: string;
  /** What GET returns: the policy as created, with the server's metadata. */
  document: Record<string, unknown>;
  podSelector: LabelSelector;
  types: string[];
  ingress: Rule[];
  egress: Rule[];
  /** Real time (performance.now) the plugin saw it; it drops traffic once it has programmed it. */
  programmedFrom: number;
}

/** The port the app container declares (named http) and listens on. */
export const APP_PORT = 8080;

/** The labels of the drill's only namespace, as the API server sets them. */
const NAMESPACE_LABELS = { 'kubernetes.io/metadata.name': NAMESPACE };

/** Validates a created NetworkPolicy the way the API server does (enough of it), or says what is wrong. */
export function networkPolicyOf(
  body: unknown,
  seq: number,
  storyNow: number,
  realNow: number,
): StoredPolicy | string {
  const doc = body as {
    metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: { podSelector?: LabelSelector; policyTypes?: string[]; ingress?: Rule[]; egress?: Rule[] };
  };
  const name = doc?.metadata?.name;
  if (!name || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name))
    return `NetworkPolicy.networking.k8s.io "${name ?? ''}" is invalid: metadata.name: Invalid value: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`;
  const spec = doc.spec;
  if (!spec?.podSelector)
    return `NetworkPolicy.networking.k8s.io "${name}" is invalid: spec.podSelector: Required value`;
  const types = spec.policyTypes ?? ['Ingress', ...(spec.egress ? ['Egress'] : [])];
  const bad = types.find((t) => t !== 'Ingress' && t !== 'Egress');
  if (bad)
    return `NetworkPolicy.networking.k8s.io "${name}" is invalid: spec.policyTypes: Unsupported value: "${bad}": supported values: "Egress", "Ingress"`;
  return {
    name,
    podSelector: spec.podSelector,
    types,
    ingress: spec.ingress ?? [],
    egress: spec.egress ?? [],
    programmedFrom: realNow,
    document: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        ...doc.metadata,
        namespace: NAMESPACE,
        uid: `np-uid-${seq}`,
        resourceVersion: String(49000 + seq),
        generation: 1,
        creationTimestamp: new Date(storyNow).toISOString().replace(/\.\d+Z$/, 'Z'),
      },
      spec: { ...spec, policyTypes: types },
    },
  };
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return undefined;
  return parts.reduce((acc, n) => acc * 256 + n, 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const a = ipv4(ip);
  const b = ipv4(base ?? '');
  const n = Number(bits ?? '32');
  if (a === undefined || b === undefined || !(n >= 0 && n <= 32)) return false;
  const size = 2 ** (32 - n);
  return Math.floor(a / size) === Math.floor(b / size);
}

function peerMatches(peer: Peer, pod: PodSpecInput): boolean {
  if (peer.ipBlock) {
    const ip = pod.ip ?? '';
    return inCidr(ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(ip, c));
  }
  // Every pod of the drill lives in one namespace; a namespaceSelector alone selects all pods of the namespaces it names.
  if (peer.namespaceSelector && !selectorMatches(peer.namespaceSelector, NAMESPACE_LABELS)) return false;
  if (peer.podSelector && !selectorMatches(peer.podSelector, pod.labels ?? {})) return false;
  return Boolean(peer.namespaceSelector || peer.podSelector);
}

function ruleAllows(rule: Rule, peers: Peer[] | undefined, other: PodSpecInput, port: number): boolean {
  const portOk =
    !rule.ports ||
    rule.ports.length === 0 ||
    rule.ports.some(
      (p) =>
        (p.protocol ?? 'TCP') === 'TCP' &&
        (p.port === undefined || p.port === port || (p.port === 'http' && port === APP_PORT)),
    );
  const peerOk = !peers || peers.length === 0 || peers.some((peer) => peerMatches(peer, other));
  return portOk && peerOk;
}

/**
 * Does the plugin drop a TCP connection from `source` to `target`:port? Only policies it has programmed for the pod
 * count (`programmed`): right after a policy or a relabel, traffic still flows for the plugin's delay.
 */
export function policyDropsPair(
  policies: StoredPolicy[],
  source: PodSpecInput,
  target: PodSpecInput,
  port: number,
  programmed: (policy: StoredPolicy, pod: PodSpecInput) => boolean,
): boolean {
  const selecting = (pod: PodSpecInput, type: string) =>
    policies.filter(
      (p) => p.types.includes(type) && selectorMatches(p.podSelector, pod.labels ?? {}) && programmed(p, pod),
    );
  const ingress = selecting(target, 'Ingress');
  if (ingress.length > 0 && !ingress.some((p) => p.ingress.some((r) => ruleAllows(r, r.from, source, port))))
    return true;
  const egress = selecting(source, 'Egress');
  return egress.length > 0 && !egress.some((p) => p.egress.some((r) => ruleAllows(r, r.to, target, port)));
}
