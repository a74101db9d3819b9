// KubeCluster: the Kubernetes port for one cluster on @kubernetes/client-node.
import type { Writable } from 'node:stream';
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Metrics } from '../../metrics.ts';
import { NotWrittenError, observeAfterFailure } from '../../outcome.ts';
import type { LabelSelector, MemoryMetrics, PodEvent, PodInfo } from '../../workload.ts';
import { selectorMatches } from '../../workload.ts';
import { kubernetesError, mayHaveApplied } from './errors.ts';
import { execInPod } from './exec.ts';
import { iso, toPodInfo } from './pod-info.ts';
import { probeTcp } from './probe.ts';
import { readPodMemory } from './metrics-api.ts';
import { pullFile } from './pull.ts';
import { createQuarantinePolicy } from './quarantine.ts';
import { kubeEndpoint, rawFailure, rawGet } from './raw.ts';
import {
  ExecError,
  KubernetesError,
  REAL_TIMERS,
  type ExecParams,
  type ExecTimers,
  type ExecResult,
  type Kubernetes,
  type PulledFile,
  type PullOptions,
  type QuarantinePolicySpec,
  type ReplicaSetInfo,
  type TcpProbe,
} from './types.ts';

/** Whether `have` carries a merge patch's keys: a value set, a null removed. */
function carries(
  have: Record<string, string> | undefined,
  patch: Record<string, string | null> | undefined,
): boolean {
  return Object.entries(patch ?? {}).every(([k, v]) =>
    v === null ? have?.[k] === undefined : have?.[k] === v,
  );
}

/** One cluster (one kubeconfig context). */
export class KubeCluster implements Kubernetes {
  #kc: KubeConfig;
  #core: CoreV1Api;
  #apps: AppsV1Api;
  #net: NetworkingV1Api;
  #metrics: Metrics;
  #timers: ExecTimers;

  constructor(kc: KubeConfig, metrics: Metrics, opts: { timers?: ExecTimers } = {}) {
    this.#timers = opts.timers ?? REAL_TIMERS;
    this.#kc = kc;
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#net = kc.makeApiClient(NetworkingV1Api);
    this.#metrics = metrics;
  }
  async #call<T>(
    operation: string,
    op: { verb: string; resource: string; namespace: string },
    fn: () => Promise<T>,
  ): Promise<T> {
    return this.#metrics.timed('kubernetes', operation, async () => {
      try {
        return await fn();
      } catch (err) {
        throw kubernetesError(err, op);
      }
    });
  }

  listPods(namespace: string, selector: string, container: string): Promise<PodInfo[]> {
    return this.#call('listPods', { verb: 'list', resource: 'pods', namespace }, async () => {
      const list = await this.#core.listNamespacedPod({ namespace, labelSelector: selector });
      return list.items.map((pod) => toPodInfo(pod, container));
    });
  }

  async getPod(namespace: string, name: string, container: string): Promise<PodInfo | null> {
    try {
      return await this.#call('getPod', { verb: 'get', resource: 'pods', namespace }, async () =>
        toPodInfo(await this.#core.readNamespacedPod({ namespace, name }), container),
      );
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'not-found') return null;
      throw err;
    }
  }

  async podDocument(namespace: string, name: string): Promise<Record<string, unknown> | null> {
    try {
      return await this.#call('getPod', { verb: 'get', resource: 'pods', namespace }, async () => {
        const pod = await this.#core.readNamespacedPod({ namespace, name });
        return JSON.parse(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...pod })) as Record<
          string,
          unknown
        >;
      });
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'not-found') return null;
      throw err;
    }
  }

  podMemory(namespace: string, selector: string, container: string): Promise<MemoryMetrics> {
    return this.#metrics.timed('kubernetes', 'podMetrics', () =>
      readPodMemory(this.#kc, namespace, selector, container),
    );
  }

  warningEvents(namespace: string, since: Date): Promise<PodEvent[]> {
    return this.#call('listEvents', { verb: 'list', resource: 'events', namespace }, async () => {
      const list = await this.#core.listNamespacedEvent({
        namespace,
        fieldSelector: 'type=Warning,involvedObject.kind=Pod',
      });
      return list.items.flatMap((event): PodEvent[] => {
        const lastSeen =
          iso(event.lastTimestamp) ??
          iso(event.series?.lastObservedTime) ??
          iso(event.eventTime) ??
          iso(event.metadata.creationTimestamp);
        if (!lastSeen || Date.parse(lastSeen) < since.getTime()) return [];
        return [
          {
            pod: event.involvedObject.name ?? '',
            type: event.type ?? 'Warning',
            reason: event.reason ?? '',
            message: (event.message ?? '').trim(),
            count: event.series?.count ?? event.count ?? 1,
            lastSeen,
          },
        ];
      });
    });
  }

  async streamLogs(
    namespace: string,
    pod: string,
    container: string,
    opts: { previous: boolean; limitBytes: number },
    sink: Writable,
  ): Promise<number> {
    const op = { verb: 'get', resource: 'pods/log', namespace };
    return this.#metrics.timed('kubernetes', 'streamLogs', async () => {
      const res = await rawGet(
        this.#kc,
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`,
        {
          container,
          previous: String(opts.previous),
          limitBytes: String(opts.limitBytes),
        },
      ).catch((err: unknown) => {
        throw kubernetesError(err, op);
      });
      if (res.statusCode !== 200) throw kubernetesError(await rawFailure(res), op);
      let bytes = 0;
      for await (const chunk of res) {
        const buf = chunk as Buffer;
        bytes += buf.length;
        if (!sink.write(buf)) await new Promise((resolve) => sink.once('drain', resolve));
      }
      return bytes;
    });
  }

  async exec(params: ExecParams): Promise<ExecResult> {
    const endpoint = await kubeEndpoint(this.#kc);
    return this.#metrics.timed('kubernetes', 'exec', async () => {
      try {
        return await execInPod(endpoint, params, this.#timers);
      } catch (err) {
        if (err instanceof ExecError && err.failure === 'forbidden') {
          const mapped = kubernetesError(
            { code: 403, body: err.status },
            { verb: 'create', resource: 'pods/exec', namespace: params.namespace },
          );
          err.message = mapped.message;
        }
        throw err;
      }
    });
  }

  probeTcp(
    from: { namespace: string; pod: string; container: string },
    ip: string,
    port: number,
    opts: { waitFirstS?: number } = {},
  ): Promise<TcpProbe> {
    return probeTcp((params) => this.exec(params), from, ip, port, opts);
  }

  pullFile(
    target: { namespace: string; pod: string; container: string },
    path: string,
    sink: Writable,
    opts: PullOptions = {},
  ): Promise<PulledFile> {
    return pullFile((params) => this.exec(params), target, path, sink, opts);
  }

  servicesSelecting(
    namespace: string,
    labels: Record<string, string>,
  ): Promise<{ name: string; selector: Record<string, string> }[]> {
    return this.#call('listServices', { verb: 'list', resource: 'services', namespace }, async () => {
      const list = await this.#core.listNamespacedService({ namespace });
      return list.items.flatMap((svc) => {
        const selector = svc.spec?.selector;
        if (!selector || Object.keys(selector).length === 0) return [];
        return selectorMatches({ matchLabels: selector }, labels)
          ? [{ name: svc.metadata?.name ?? '', selector }]
          : [];
      });
    });
  }

  async replicaSetSelector(namespace: string, name: string): Promise<LabelSelector | null> {
    try {
      return await this.#call(
        'getReplicaSet',
        { verb: 'get', resource: 'replicasets.apps', namespace },
        async () => {
          const rs = await this.#apps.readNamespacedReplicaSet({ namespace, name });
          return JSON.parse(JSON.stringify(rs.spec?.selector ?? {})) as LabelSelector;
        },
      );
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'not-found') return null;
      throw err;
    }
  }

  replicaSets(namespace: string): Promise<ReplicaSetInfo[]> {
    return this.#call(
      'listReplicaSets',
      { verb: 'list', resource: 'replicasets.apps', namespace },
      async () => {
        const list = await this.#apps.listNamespacedReplicaSet({ namespace });
        return list.items.map((rs) => ({
          name: rs.metadata?.name ?? '',
          replicas: rs.spec?.replicas ?? 1,
          selector: JSON.parse(JSON.stringify(rs.spec?.selector ?? {})) as LabelSelector,
        }));
      },
    );
  }

  networkPolicies(namespace: string): Promise<{ name: string; podSelector: LabelSelector }[]> {
    return this.#call(
      'listNetworkPolicies',
      { verb: 'list', resource: 'networkpolicies.networking.k8s.io', namespace },
      async () => {
        const list = await this.#net.listNamespacedNetworkPolicy({ namespace });
        return list.items.map((p) => ({
          name: p.metadata?.name ?? '',
          podSelector: JSON.parse(JSON.stringify(p.spec?.podSelector ?? {})) as LabelSelector,
        }));
      },
    );
  }

  async patchPodMetadata(
    namespace: string,
    name: string,
    patch: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> },
  ): Promise<PodInfo> {
    try {
      return await this.#call('patchPod', { verb: 'patch', resource: 'pods', namespace }, async () => {
        const pod = await this.#core.patchNamespacedPod(
          { namespace, name, body: { metadata: patch } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return toPodInfo(pod, undefined);
      });
    } catch (err) {
      if (!mayHaveApplied(err)) throw err;
      // The API server may have applied the patch before failing to answer: the pod itself says.
      const failure = `patching pod ${name} failed (${(err as Error).message})`;
      const seen = await observeAfterFailure({
        service: 'Kubernetes',
        failure,
        read: () =>
          this.#call('getPod', { verb: 'get', resource: 'pods', namespace }, () =>
            this.#core.readNamespacedPod({ namespace, name }),
          ),
        verdict: (pod) =>
          carries(pod.metadata?.labels, patch.labels) && carries(pod.metadata?.annotations, patch.annotations)
            ? 'applied'
            : 'untouched',
        reads: 1,
        sleep: async () => {},
      });
      if (seen.verdict === 'applied') return toPodInfo(seen.current, undefined);
      throw new NotWrittenError(
        'kubernetes',
        `${failure}; the pod read back does not carry the new labels, so it was not relabelled`,
        err,
      );
    }
  }

  async deletePod(namespace: string, name: string, uid: string): Promise<'deleted' | 'gone'> {
    try {
      await this.#call('deletePod', { verb: 'delete', resource: 'pods', namespace }, () =>
        this.#core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid } } }),
      );
      return 'deleted';
    } catch (err) {
      if (err instanceof KubernetesError && (err.reason === 'not-found' || err.reason === 'conflict'))
        return 'gone';
      throw err;
    }
  }

  createQuarantinePolicy(namespace: string, spec: QuarantinePolicySpec): Promise<'created' | 'exists'> {
    return createQuarantinePolicy(
      (operation, op, fn) => this.#call(operation, op, fn),
      this.#net,
      namespace,
      spec,
    );
  }

  async deleteNetworkPolicy(namespace: string, name: string): Promise<boolean> {
    try {
      await this.#call(
        'deleteNetworkPolicy',
        { verb: 'delete', resource: 'networkpolicies.networking.k8s.io', namespace },
        () => this.#net.deleteNamespacedNetworkPolicy({ namespace, name }),
      );
      return true;
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'not-found') return false;
      throw err;
    }
  }

  async addDebugContainer(
    namespace: string,
    pod: string,
    spec: { name: string; image: string; target: string },
  ): Promise<void> {
    await this.#call(
      'addDebugContainer',
      { verb: 'patch', resource: 'pods/ephemeralcontainers', namespace },
      () =>
        this.#core.patchNamespacedPodEphemeralcontainers(
          {
            namespace,
            name: pod,
            body: {
              spec: {
                ephemeralContainers: [
                  {
                    name: spec.name,
                    image: spec.image,
                    targetContainerName: spec.target,
                    command: ['sleep', '86400'],
                    stdin: false,
                    tty: false,
                  },
                ],
              },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        ),
    );
  }
}
