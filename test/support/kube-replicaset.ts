// A ReplicaSet controller over a handful of pods, served as the REST API (plug into ExecFront.rest). Like the real
// controller (https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/): a pod whose labels stop
// matching the selector is released and replaced; an orphan whose labels match again is adopted ("A ReplicaSet …
// acquire[s] pods that match its selector and have no owner"), and when it then owns more than spec.replicas it
// deletes the surplus, the most recently created pods first ("Scaling a ReplicaSet").
import { podObject, type PodSpecInput } from '../../src/drill/kubernetes.ts';

export interface ModelPod {
  name: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  createdAt: string;
  /** The ReplicaSet that owns it (null: an orphan). */
  owner: string | null;
}

export class ReplicaSetModel {
  readonly namespace: string;
  readonly name: string;
  replicas: number;
  readonly selector: Record<string, string>;
  readonly pods = new Map<string, ModelPod>();
  /** Pods the controller (or a client) deleted, in order, with who did it. */
  readonly deleted: { pod: string; by: 'replicaset' | 'client' }[] = [];
  readonly policiesDeleted: string[] = [];
  readonly patched: string[] = [];
  #now: () => string;
  #seq = 0;

  constructor(opts: {
    namespace: string;
    name: string;
    replicas: number;
    selector: Record<string, string>;
    now: () => string;
  }) {
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.replicas = opts.replicas;
    this.selector = opts.selector;
    this.#now = opts.now;
  }

  add(pod: Omit<ModelPod, 'uid'> & { uid?: string }): void {
    this.pods.set(pod.name, { uid: `uid-${pod.name}`, ...pod });
  }

  #matches(labels: Record<string, string>, selector: Record<string, string>): boolean {
    return Object.entries(selector).every(([k, v]) => labels[k] === v);
  }

  /** One pass of the controller: release, adopt, then scale to spec.replicas. */
  reconcile(): void {
    for (const pod of this.pods.values()) {
      const matches = this.#matches(pod.labels, this.selector);
      if (pod.owner === this.name && !matches) pod.owner = null;
      if (pod.owner === null && matches) pod.owner = this.name;
    }
    const owned = [...this.pods.values()].filter((p) => p.owner === this.name);
    if (owned.length > this.replicas) {
      const newestFirst = owned.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      for (const pod of newestFirst.slice(0, owned.length - this.replicas)) {
        this.pods.delete(pod.name);
        this.deleted.push({ pod: pod.name, by: 'replicaset' });
      }
    }
    for (let n = owned.length; n < this.replicas; n++) {
      const name = `${this.name}-new${++this.#seq}`;
      this.pods.set(name, {
        name,
        uid: `uid-${name}`,
        labels: { ...this.selector },
        annotations: {},
        createdAt: this.#now(),
        owner: this.name,
      });
    }
  }

  #object(pod: ModelPod): Record<string, unknown> {
    const input: PodSpecInput = {
      name: pod.name,
      uid: pod.uid,
      labels: pod.labels,
      annotations: pod.annotations,
      replicaSet: pod.owner,
    };
    const obj = podObject(input) as { metadata: Record<string, unknown> };
    obj.metadata.creationTimestamp = pod.createdAt;
    return obj;
  }

  /** The REST side: list/get/patch/delete pods, list ReplicaSets, delete the quarantine policy. */
  handle = (req: {
    method: string;
    path: string;
    query: URLSearchParams;
    body: unknown;
  }): { status: number; body: unknown } | undefined => {
    const ns = `/namespaces/${this.namespace}`;
    if (req.method === 'GET' && req.path === `/api/v1${ns}/pods`) {
      const selector = Object.fromEntries(
        (req.query.get('labelSelector') ?? '')
          .split(',')
          .filter(Boolean)
          .map((kv) => kv.split('=') as [string, string]),
      );
      const items = [...this.pods.values()]
        .filter((p) => this.#matches(p.labels, selector))
        .map((p) => this.#object(p));
      return { status: 200, body: { kind: 'PodList', apiVersion: 'v1', metadata: {}, items } };
    }
    if (req.method === 'GET' && req.path === `/apis/apps/v1${ns}/replicasets`) {
      return {
        status: 200,
        body: {
          kind: 'ReplicaSetList',
          apiVersion: 'apps/v1',
          metadata: {},
          items: [
            {
              metadata: { name: this.name, namespace: this.namespace },
              spec: { replicas: this.replicas, selector: { matchLabels: this.selector }, template: {} },
              status: { replicas: this.replicas },
            },
          ],
        },
      };
    }
    const one = new RegExp(`^/api/v1${ns}/pods/([^/]+)$`).exec(req.path);
    if (one?.[1]) {
      const pod = this.pods.get(decodeURIComponent(one[1]));
      if (!pod)
        return {
          status: 404,
          body: { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' },
        };
      if (req.method === 'PATCH') {
        const patch = req.body as {
          metadata?: {
            labels?: Record<string, string | null>;
            annotations?: Record<string, string | null>;
          };
        };
        for (const [k, v] of Object.entries(patch.metadata?.labels ?? {})) {
          if (v === null) delete pod.labels[k];
          else pod.labels[k] = v;
        }
        for (const [k, v] of Object.entries(patch.metadata?.annotations ?? {})) {
          if (v === null) delete pod.annotations[k];
          else pod.annotations[k] = v;
        }
        this.patched.push(pod.name);
        const answer = this.#object(pod);
        this.reconcile();
        return { status: 200, body: answer };
      }
      if (req.method === 'DELETE') {
        this.pods.delete(pod.name);
        this.deleted.push({ pod: pod.name, by: 'client' });
        const answer = this.#object(pod);
        this.reconcile();
        return { status: 200, body: answer };
      }
      if (req.method === 'GET') return { status: 200, body: this.#object(pod) };
    }
    const policy = new RegExp(`^/apis/networking.k8s.io/v1${ns}/networkpolicies/([^/]+)$`).exec(req.path);
    if (policy?.[1] && req.method === 'DELETE') {
      this.policiesDeleted.push(policy[1]);
      return {
        status: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: policy[1] },
        },
      };
    }
    return undefined;
  };
}
