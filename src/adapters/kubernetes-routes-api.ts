// The three Kubernetes calls the route layers make (get, replace with resourceVersion, EndpointSlices), on client-node.
import { CustomObjectsApi, DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Metrics } from '../metrics.ts';
import { kubernetesError } from './kubernetes/errors.ts';
import type { KubeObject, RouteKind } from './kubernetes-route-kinds.ts';

export interface EndpointCount {
  /** EndpointSlices of the Service. */
  slices: number;
  total: number;
  /** Endpoints whose `conditions.ready` is not false (unset counts as ready, as the API documents). */
  ready: number;
}

export interface RouteApi {
  get(kind: RouteKind): Promise<KubeObject>;
  /** PUT of the whole object; it carries metadata.resourceVersion, so the API server refuses it (409) if it moved. */
  replace(kind: RouteKind, body: KubeObject): Promise<KubeObject>;
  endpoints(namespace: string, service: string): Promise<EndpointCount>;
}

/** The API on a kubeconfig loaded on first use (so the bot starts without one and says so when it is needed). */
export function clientRouteApi(load: () => KubeConfig, metrics: Metrics): RouteApi {
  let apis: { custom: CustomObjectsApi; discovery: DiscoveryV1Api } | undefined;
  const api = () => {
    if (!apis) {
      const kc = load();
      apis = { custom: kc.makeApiClient(CustomObjectsApi), discovery: kc.makeApiClient(DiscoveryV1Api) };
    }
    return apis;
  };
  const call = async <T>(
    operation: string,
    op: { verb: string; resource: string; namespace: string },
    fn: () => Promise<T>,
  ): Promise<T> =>
    metrics.timed('kubernetes', operation, async () => {
      try {
        return await fn();
      } catch (err) {
        throw kubernetesError(err, op);
      }
    });
  return {
    get: (kind) =>
      call(
        `get ${kind.plural}`,
        { verb: 'get', resource: `${kind.plural}.${kind.group}`, namespace: kind.namespace },
        async () =>
          (await api().custom.getNamespacedCustomObject({
            group: kind.group,
            version: kind.version,
            namespace: kind.namespace,
            plural: kind.plural,
            name: kind.name,
          })) as KubeObject,
      ),
    replace: (kind, body) =>
      call(
        `update ${kind.plural}`,
        { verb: 'update', resource: `${kind.plural}.${kind.group}`, namespace: kind.namespace },
        async () =>
          (await api().custom.replaceNamespacedCustomObject({
            group: kind.group,
            version: kind.version,
            namespace: kind.namespace,
            plural: kind.plural,
            name: kind.name,
            body,
            fieldManager: 'cloud-safety',
          })) as KubeObject,
      ),
    endpoints: (namespace, service) =>
      call(
        'list endpointslices',
        { verb: 'list', resource: 'endpointslices.discovery.k8s.io', namespace },
        async () => {
          const list = await api().discovery.listNamespacedEndpointSlice({
            namespace,
            labelSelector: `kubernetes.io/service-name=${service}`,
          });
          let total = 0;
          let ready = 0;
          for (const slice of list.items) {
            for (const endpoint of slice.endpoints ?? []) {
              total += 1;
              if (endpoint.conditions?.ready !== false) ready += 1;
            }
          }
          return { slices: list.items.length, total, ready };
        },
      ),
  };
}
