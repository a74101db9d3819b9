// Where the weights live in a Gateway API HTTPRoute and an Istio VirtualService: find the rule, read and set them.
import type { GatewayTraffic, IstioTraffic } from '../config.ts';
import { ExternalServiceError } from '../errors.ts';

/** A Kubernetes object as the API serves it; only what is read here is typed. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; generation?: number };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface Destination {
  /** "payments/payments-legacy" (Gateway: namespace/Service) or "payments-legacy:v1" (Istio: host:subset). */
  id: string;
  weight: number;
}

/** A Service whose EndpointSlices say whether a destination can take traffic. */
export interface ServiceRef {
  namespace: string;
  name: string;
  /** Why the Service's endpoints are not exactly the destination's (an Istio subset), for the report. */
  note?: string;
}

export interface RouteKind {
  layer: 'gateway' | 'istio';
  /** "HTTPRoute", "VirtualService" */
  kind: string;
  group: string;
  version: string;
  plural: string;
  namespace: string;
  name: string;
  /** The largest weight the API accepts. */
  maxWeight: number;
  legacyId: string;
  cloudId: string;
  /** Which rule, for people and the snapshot: its name or "#<index>". */
  routeLabel(obj: KubeObject): string;
  destinations(obj: KubeObject): Destination[];
  /** A copy of `obj` with the weights of the destinations in `weights` replaced. */
  withWeights(obj: KubeObject, weights: Record<string, number>): KubeObject;
  /** The Service behind a destination id, or undefined when it is not a Service of this cluster. */
  serviceOf(id: string): ServiceRef | undefined;
}

type Rule = Record<string, unknown>;

function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * The rule that `wanted` names (a name or an index), else the one rule that holds both destinations. Throws a
 * message that says which rules there are when none (or several) fit.
 */
function pickRule(
  what: string,
  rules: Rule[],
  wanted: string | number | undefined,
  idsOf: (rule: Rule) => string[],
  both: [string, string],
  configPath: string,
): number {
  if (typeof wanted === 'number') {
    if (wanted >= rules.length)
      throw new ExternalServiceError(
        'Kubernetes',
        `${what} has ${rules.length} rules, so there is no rule #${wanted}; fix ${configPath}.`,
      );
    return wanted;
  }
  if (typeof wanted === 'string') {
    const i = rules.findIndex((r) => r.name === wanted);
    if (i < 0)
      throw new ExternalServiceError(
        'Kubernetes',
        `${what} has no rule named ${wanted} (names: ${rules.map((r) => String(r.name ?? '-')).join(', ')}); fix ${configPath}.`,
      );
    return i;
  }
  const matching = rules
    .map((r, i) => ({ i, ids: idsOf(r) }))
    .filter((r) => both.every((id) => r.ids.includes(id)));
  if (matching.length === 1) return matching[0]?.i ?? 0;
  throw new ExternalServiceError(
    'Kubernetes',
    matching.length === 0
      ? `${what} has no rule sending to both ${both[0]} and ${both[1]}; fix ${configPath} or the route.`
      : `${what} has ${matching.length} rules sending to both ${both[0]} and ${both[1]}; name one in ${configPath}.rule.`,
  );
}

export function gatewayKind(config: GatewayTraffic): RouteKind {
  const ns = config.namespace;
  const idOf = (ref: Record<string, unknown>) =>
    `${typeof ref.namespace === 'string' ? ref.namespace : ns}/${String(ref.name)}`;
  const isService = (ref: Record<string, unknown>) =>
    (ref.kind === undefined || ref.kind === 'Service') && (ref.group === undefined || ref.group === '');
  const legacyId = `${config.legacy.namespace ?? ns}/${config.legacy.service}`;
  const cloudId = `${config.cloud.namespace ?? ns}/${config.cloud.service}`;
  const what = `HTTPRoute ${ns}/${config.httpRoute}`;
  const rulesOf = (obj: KubeObject) => (obj.spec?.rules ?? []) as Rule[];
  const refsOf = (rule: Rule) => (rule.backendRefs ?? []) as Record<string, unknown>[];
  const index = (obj: KubeObject) =>
    pickRule(
      what,
      rulesOf(obj),
      config.rule,
      (r) => refsOf(r).map(idOf),
      [legacyId, cloudId],
      'traffic.gateway',
    );
  return {
    layer: 'gateway',
    kind: 'HTTPRoute',
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'httproutes',
    namespace: ns,
    name: config.httpRoute,
    // Gateway API: weight is 0 to 1,000,000, default 1.
    maxWeight: 1_000_000,
    legacyId,
    cloudId,
    routeLabel(obj) {
      const i = index(obj);
      const name = rulesOf(obj)[i]?.name;
      return typeof name === 'string' ? name : `#${i}`;
    },
    destinations(obj) {
      const rule = rulesOf(obj)[index(obj)] ?? {};
      return refsOf(rule).map((ref) => ({
        id: isService(ref) ? idOf(ref) : `${String(ref.kind)}:${idOf(ref)}`,
        weight: typeof ref.weight === 'number' ? ref.weight : 1,
      }));
    },
    withWeights(obj, weights) {
      const copy = clone(obj);
      const rule = rulesOf(copy)[index(copy)] ?? {};
      for (const ref of refsOf(rule)) {
        const w = isService(ref) ? weights[idOf(ref)] : undefined;
        if (w !== undefined) ref.weight = w;
      }
      return copy;
    },
    serviceOf(id) {
      const [namespace, name] = id.split('/');
      return namespace && name && !id.includes(':') ? { namespace, name } : undefined;
    },
  };
}

export function istioKind(config: IstioTraffic): RouteKind {
  const ns = config.namespace;
  const idOf = (d: { host?: unknown; subset?: unknown }) =>
    `${String(d.host)}${typeof d.subset === 'string' ? `:${d.subset}` : ''}`;
  const legacyId = idOf(config.legacy);
  const cloudId = idOf(config.cloud);
  const what = `VirtualService ${ns}/${config.virtualService}`;
  const httpOf = (obj: KubeObject) => (obj.spec?.http ?? []) as Rule[];
  const routesOf = (rule: Rule) =>
    (rule.route ?? []) as { destination?: Record<string, unknown>; weight?: unknown }[];
  const index = (obj: KubeObject) =>
    pickRule(
      what,
      httpOf(obj),
      config.route,
      (r) => routesOf(r).map((d) => idOf(d.destination ?? {})),
      [legacyId, cloudId],
      'traffic.istio',
    );
  return {
    layer: 'istio',
    kind: 'VirtualService',
    group: 'networking.istio.io',
    version: 'v1',
    plural: 'virtualservices',
    namespace: ns,
    name: config.virtualService,
    // Istio: percentages, and the weights of a route must add up to 100.
    maxWeight: 100,
    legacyId,
    cloudId,
    routeLabel(obj) {
      const i = index(obj);
      const name = httpOf(obj)[i]?.name;
      return typeof name === 'string' ? name : `#${i}`;
    },
    destinations(obj) {
      const routes = routesOf(httpOf(obj)[index(obj)] ?? {});
      return routes.map((d) => ({
        id: idOf(d.destination ?? {}),
        // A lone destination without a weight takes everything.
        weight: typeof d.weight === 'number' ? d.weight : routes.length === 1 ? 100 : 0,
      }));
    },
    withWeights(obj, weights) {
      const copy = clone(obj);
      for (const d of routesOf(httpOf(copy)[index(copy)] ?? {})) {
        const w = weights[idOf(d.destination ?? {})];
        if (w !== undefined) d.weight = w;
      }
      return copy;
    },
    serviceOf(id) {
      const [host = '', subset] = id.split(':');
      const parts = host.split('.');
      // "svc", "svc.ns", "svc.ns.svc", "svc.ns.svc.cluster.local": a Service of this cluster; anything else is not.
      const local =
        parts.length <= 2 ||
        (parts[2] === 'svc' && (parts.length === 3 || parts.slice(3).join('.') === 'cluster.local'));
      if (!local || !parts[0]) return undefined;
      return {
        namespace: parts[1] ?? ns,
        name: parts[0],
        ...(subset ? { note: `all endpoints of the Service; subset ${subset} is not narrowed down` } : {}),
      };
    },
  };
}
