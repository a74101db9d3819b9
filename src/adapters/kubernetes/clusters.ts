// Loading the kubeconfig and handing out one KubeCluster per context.
import { KubeConfig } from '@kubernetes/client-node';
import type { Metrics } from '../../metrics.ts';
import { KubeCluster } from './cluster.ts';
import { KubernetesError, type ExecTimers, type Kubernetes, type KubernetesClusters } from './types.ts';

/** Loads the kubeconfig the way kubectl does: KUBECONFIG, in-cluster, then ~/.kube/config; undefined when none. */
export function loadKubeConfig(env: NodeJS.ProcessEnv): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (env.KUBECONFIG) {
    const first = env.KUBECONFIG.split(':').find((p) => p.length > 0);
    if (!first) return undefined;
    kc.loadFromFile(first);
    return kc;
  }
  if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    return kc;
  }
  const home = env.HOME;
  if (!home) return undefined;
  try {
    kc.loadFromFile(`${home}/.kube/config`);
    return kc;
  } catch {
    return undefined;
  }
}

/** The kubeconfig narrowed to `context` (its own object, so services on different clusters never share one). */
export function kubeConfigFor(base: KubeConfig, context?: string): KubeConfig {
  if (!context) return base;
  if (!base.getContextObject(context)) {
    throw new KubernetesError(
      'other',
      `the kubeconfig has no context "${context}" (the context named in cloud-safety.yml)`,
      { verb: 'connect', resource: 'cluster' },
    );
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: base.getClusters(),
    users: base.getUsers(),
    contexts: base.getContexts(),
    currentContext: context,
  });
  return kc;
}

/** One client per context, built on first use from a kubeconfig loaded lazily (so the console starts without one). */
export class KubeClusters implements KubernetesClusters {
  #load: () => KubeConfig | undefined;
  #metrics: Metrics;
  #clusters = new Map<string, KubeCluster>();

  #opts: { timers?: ExecTimers };

  constructor(
    load: KubeConfig | (() => KubeConfig | undefined),
    metrics: Metrics,
    opts: { timers?: ExecTimers } = {},
  ) {
    this.#load = typeof load === 'function' ? load : () => load;
    this.#metrics = metrics;
    this.#opts = opts;
  }

  cluster(context?: string): Kubernetes {
    const key = context ?? '';
    const existing = this.#clusters.get(key);
    if (existing) return existing;
    let base: KubeConfig | undefined;
    try {
      base = this.#load();
    } catch (err) {
      throw new KubernetesError('other', `could not read the kubeconfig: ${(err as Error).message}`, {
        verb: 'connect',
        resource: 'cluster',
        cause: err,
      });
    }
    if (!base) {
      throw new KubernetesError(
        'other',
        'no Kubernetes credentials: set KUBECONFIG, run in-cluster with a service account, or create ~/.kube/config.',
        { verb: 'connect', resource: 'cluster' },
      );
    }
    const cluster = new KubeCluster(kubeConfigFor(base, context), this.#metrics, this.#opts);
    this.#clusters.set(key, cluster);
    return cluster;
  }
}
