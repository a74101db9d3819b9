// The drill cluster's control plane over the story's pods: the ReplicaSet controller, the workload's Service,
// NetworkPolicies, pod relabels and deletes, and the pod network as a CNI sees it. "Network policies are implemented
// by the network plugin … Creating a NetworkPolicy resource without a controller that implements it will have no
// effect" (https://kubernetes.io/docs/concepts/services-networking/network-policies/#prerequisites): with
// `enforces` the plugin drops what the policies do not allow, once it has programmed them (`delayMs` after the policy
// or the pod's new labels); without it every pod stays reachable whatever the API stored.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { selectorMatches } from '../workload.ts';
import type { ClusterWorld, FakeCluster, RestAnswer } from './kubernetes-cluster.ts';
import { NAMESPACE, podObject, status404, statusSuccess, type PodSpecInput } from './kubernetes-objects.ts';
import { APP_PORT, networkPolicyOf, policyDropsPair, type StoredPolicy } from './kubernetes-policy.ts';

export interface PodNetworkOptions {
  /** Whether the network plugin enforces NetworkPolicy (Calico, Cilium: yes; flannel alone: no). */
  enforces: boolean;
  /** Real ms the plugin takes to program a new policy, or a pod's new labels, into its rules. */
  delayMs: number;
}

interface PodState {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The ReplicaSet that owns it; null once its labels stop matching (released). */
  owner: string | null;
  ip: string;
  /** Real time (performance.now) its labels last changed: the plugin reprograms after its delay. */
  labelledAt: number;
  createdAt: string;
  deleted?: boolean;
  /** A pod the ReplicaSet created during the drill (not in the story: it holds at the baseline). */
  spec?: PodSpecInput;
}

export interface ControlPlaneOptions {
  cluster: FakeCluster;
  /** The story's read side (pods, metrics, events, logs). */
  base: ClusterWorld;
  /** The story's app name: the Service and ReplicaSet are named after it. */
  app: string;
  network: PodNetworkOptions;
  /** Working set of a pod the ReplicaSet starts during the drill. */
  baselineMiB: number;
  /** The story's clock, for creation timestamps. */
  now: () => number;
}

type Status = { status: number; body: unknown };

function statusOf(code: number, reason: string, message: string): Status {
  return {
    status: code,
    body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code },
  };
}

export class DrillControlPlane implements ClusterWorld {
  readonly network: PodNetworkOptions;
  /** Every TCP probe run in a pod: from, to, and whether it connected. */
  readonly probes: { from: string; ip: string; port: number; reached: boolean }[] = [];
  readonly replicaSet: string;
  readonly template: Record<string, string>;
  #opts: ControlPlaneOptions;
  #pods = new Map<string, PodState>();
  #policies = new Map<string, StoredPolicy>();
  #replicas = 0;
  #seq = 0;

  constructor(opts: ControlPlaneOptions) {
    this.#opts = opts;
    this.network = { ...opts.network };
    this.replicaSet = `${opts.app}-cloud-7d9f8b6c5`;
    this.template = { app: opts.app, track: 'cloud', 'pod-template-hash': '7d9f8b6c5' };
    this.#replicas = opts.base.pods().length;
  }

  #state(spec: PodSpecInput): PodState {
    let state = this.#pods.get(spec.name);
    if (!state) {
      const n = this.#pods.size;
      state = {
        labels: { ...(spec.labels ?? this.template) },
        annotations: { ...(spec.annotations ?? {}) },
        owner: this.replicaSet,
        ip: `10.0.${1 + (n % 3)}.${21 + n}`,
        labelledAt: -Infinity,
        createdAt: '2026-11-26T08:00:00Z',
      };
      this.#pods.set(spec.name, state);
    }
    return state;
  }

  /** The pods as the API server shows them now: the story's, relabelled, released or deleted, and replacements. */
  pods(): PodSpecInput[] {
    const out: PodSpecInput[] = [];
    for (const spec of this.#opts.base.pods()) this.#state(spec);
    const story = new Map(this.#opts.base.pods().map((p) => [p.name, p]));
    for (const [name, state] of this.#pods) {
      const spec = story.get(name) ?? state.spec;
      if (!spec || state.deleted) continue;
      out.push({
        ...spec,
        labels: { ...state.labels },
        annotations: { ...state.annotations },
        replicaSet: state.owner,
        ip: state.ip,
        ports: [APP_PORT],
        creationTimestamp: state.createdAt,
      });
    }
    return out;
  }

  usage(): Record<string, string> {
    const usage = this.#opts.base.usage();
    for (const [name, state] of this.#pods)
      if (state.spec && !state.deleted) usage[name] = `${this.#opts.baselineMiB}Mi`;
    return usage;
  }

  events(): ReturnType<ClusterWorld['events']> {
    return this.#opts.base.events();
  }

  log(pod: string): string {
    return this.#opts.base.log(pod);
  }

  /** The ReplicaSet controller's pass: release pods that stopped matching, adopt orphans that match, scale. */
  #reconcile(): void {
    this.pods();
    const live = [...this.#pods.entries()].filter(([, s]) => !s.deleted);
    for (const [, s] of live) {
      const matches = selectorMatches({ matchLabels: this.template }, s.labels);
      if (s.owner === this.replicaSet && !matches) s.owner = null;
      if (s.owner === null && matches) s.owner = this.replicaSet;
    }
    const owned = live.filter(([, s]) => s.owner === this.replicaSet);
    // Scaling down deletes the most recently created pods first.
    owned.sort(([, a], [, b]) => b.createdAt.localeCompare(a.createdAt));
    for (const [, s] of owned.slice(0, Math.max(0, owned.length - this.#replicas))) s.deleted = true;
    for (let n = owned.length; n < this.#replicas; n++) this.#startReplacement();
  }

  #startReplacement(): void {
    const template = this.#opts.base.pods()[0];
    const name = `${this.replicaSet}-r${String(++this.#seq).padStart(4, '0')}`;
    const spec: PodSpecInput = {
      name,
      restarts: 0,
      ...(template?.memoryLimit ? { memoryLimit: template.memoryLimit } : {}),
    };
    const state = this.#state(spec);
    state.spec = spec;
    state.createdAt = new Date(this.#opts.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    state.labels = { ...this.template };
    const exemplar = template ? this.#opts.cluster.pods.get(template.name) : undefined;
    this.#opts.cluster.addPod(name, {
      ...(exemplar?.heap ? { heap: exemplar.heap } : {}),
      ...(exemplar ? { tools: new Set(exemplar.tools) } : {}),
    });
  }

  /** The API's write side and the kinds the read side does not serve (Services, ReplicaSets, NetworkPolicies). */
  request(method: string, path: string, body: unknown): RestAnswer | undefined {
    const ns = `/namespaces/${NAMESPACE}`;
    if (method === 'GET' && path === `/api/v1${ns}/services`) {
      const service = {
        metadata: { name: `${this.#opts.app}-cloud`, namespace: NAMESPACE, uid: 'svc-uid-1' },
        spec: {
          selector: { app: this.#opts.app, track: 'cloud' },
          ports: [{ port: 80, targetPort: APP_PORT }],
        },
      };
      return { status: 200, body: { kind: 'ServiceList', apiVersion: 'v1', metadata: {}, items: [service] } };
    }
    const rs = {
      kind: 'ReplicaSet',
      apiVersion: 'apps/v1',
      metadata: { name: this.replicaSet, namespace: NAMESPACE, uid: 'rs-uid-1' },
      spec: { replicas: this.#replicas, selector: { matchLabels: this.template }, template: {} },
      status: { replicas: this.#replicas },
    };
    if (method === 'GET' && path === `/apis/apps/v1${ns}/replicasets`)
      return {
        status: 200,
        body: { kind: 'ReplicaSetList', apiVersion: 'apps/v1', metadata: {}, items: [rs] },
      };
    const rsOne = new RegExp(`^/apis/apps/v1${ns}/replicasets/([^/]+)$`).exec(path);
    if (method === 'GET' && rsOne?.[1])
      return rsOne[1] === this.replicaSet
        ? { status: 200, body: rs }
        : { status: 404, body: status404('replicasets.apps', decodeURIComponent(rsOne[1])) };
    const policies = `/apis/networking.k8s.io/v1${ns}/networkpolicies`;
    if (path === policies) return this.#policyCollection(method, body);
    const policy = new RegExp(`^${policies}/([^/]+)$`).exec(path);
    if (policy?.[1]) return this.#policyOne(method, decodeURIComponent(policy[1]));
    const pod = new RegExp(`^/api/v1${ns}/pods/([^/]+)$`).exec(path);
    if (pod?.[1] && (method === 'PATCH' || method === 'DELETE'))
      return this.#podWrite(method, decodeURIComponent(pod[1]), body);
    return undefined;
  }

  #policyCollection(method: string, body: unknown): RestAnswer | undefined {
    if (method === 'GET') {
      const items = [...this.#policies.values()].map((p) => p.document);
      return {
        status: 200,
        body: { kind: 'NetworkPolicyList', apiVersion: 'networking.k8s.io/v1', metadata: {}, items },
      };
    }
    if (method !== 'POST') return undefined;
    const stored = networkPolicyOf(body, this.#policies.size + 1, this.#opts.now(), performance.now());
    if (typeof stored === 'string') return statusOf(422, 'Invalid', stored);
    if (this.#policies.has(stored.name))
      return statusOf(
        409,
        'AlreadyExists',
        `networkpolicies.networking.k8s.io "${stored.name}" already exists`,
      );
    this.#policies.set(stored.name, stored);
    return { status: 201, body: stored.document };
  }

  #policyOne(method: string, name: string): RestAnswer | undefined {
    const found = this.#policies.get(name);
    if (method !== 'GET' && method !== 'DELETE') return undefined;
    if (!found) return { status: 404, body: status404('networkpolicies.networking.k8s.io', name) };
    if (method === 'GET') return { status: 200, body: found.document };
    this.#policies.delete(name);
    return { status: 200, body: statusSuccess(name, 'networkpolicies') };
  }

  #podWrite(method: 'PATCH' | 'DELETE', name: string, body: unknown): RestAnswer {
    const current = this.pods().find((p) => p.name === name);
    const state = this.#pods.get(name);
    if (!current || !state) return { status: 404, body: status404('pods', name) };
    if (method === 'DELETE') {
      const uid = (body as { preconditions?: { uid?: string } } | undefined)?.preconditions?.uid;
      if (uid && uid !== (current.uid ?? `uid-${name}`))
        return statusOf(
          409,
          'Conflict',
          `Precondition failed: UID in precondition: ${uid}, UID in object meta: uid-${name}`,
        );
      state.deleted = true;
      this.#reconcile();
      return { status: 200, body: podObject(current) };
    }
    const meta = (
      body as { metadata?: Record<string, Record<string, string | null> | undefined> } | undefined
    )?.metadata;
    const merge = (into: Record<string, string>, patch: Record<string, string | null> | undefined) => {
      for (const [k, v] of Object.entries(patch ?? {})) {
        if (v === null) delete into[k];
        else into[k] = v;
      }
    };
    const before = JSON.stringify(state.labels);
    merge(state.labels, meta?.labels);
    merge(state.annotations, meta?.annotations);
    if (JSON.stringify(state.labels) !== before) state.labelledAt = performance.now();
    this.#reconcile();
    return { status: 200, body: podObject(this.pods().find((p) => p.name === name) ?? current) };
  }

  sleep(seconds: number): Promise<void> {
    return sleep(seconds * 1000);
  }

  /**
   * A TCP connection from pod `from` to ip:port. Dropped by the plugin (or no such address): nothing answers, so the
   * caller waits its whole timeout. Nothing listening on the port: refused at once. Otherwise it connects.
   */
  async connect(from: string, ip: string, port: number, timeoutS: number): Promise<boolean> {
    const pods = this.pods();
    const source = pods.find((p) => p.name === from);
    const target = pods.find((p) => p.ip === ip);
    const dropped = !source || !target || this.#drops(source, target, port);
    if (dropped) await sleep(timeoutS * 1000);
    const reached = !dropped && (target.ports ?? []).includes(port);
    this.probes.push({ from, ip, port, reached });
    return reached;
  }

  #drops(source: PodSpecInput, target: PodSpecInput, port: number): boolean {
    if (!this.network.enforces) return false;
    const at = performance.now();
    const programmed = (policy: StoredPolicy, pod: PodSpecInput) =>
      at >=
      Math.max(policy.programmedFrom, this.#pods.get(pod.name)?.labelledAt ?? -Infinity) +
        this.network.delayMs;
    return policyDropsPair([...this.#policies.values()], source, target, port, programmed);
  }
}
