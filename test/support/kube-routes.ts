// A local Kubernetes API on 127.0.0.1 serving an HTTPRoute, a VirtualService and EndpointSlices the way the API
// server does: resourceVersion on every object, a PUT with a stale one refused 409 Conflict, one without it 422,
// and on demand an edit by someone else or a write that commits and then fails.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { gatewayKind, istioKind, type KubeObject } from '../../src/adapters/kubernetes-route-kinds.ts';
import { KubeRouteTrafficAdapter } from '../../src/adapters/kubernetes-routes.ts';
import { clientRouteApi } from '../../src/adapters/kubernetes-routes-api.ts';
import type { Config } from '../../src/config.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { FakeClock } from './aws.ts';
import { memoryLogger } from './bot.ts';

export const NS = 'payments';

export interface KubeRequest {
  method: string;
  path: string;
  body?: KubeObject;
}

/** One-shot fault on the next PUT of a route. */
export type PutFault = 'commit-then-500' | 'commit-then-reset' | 'edited-before' | 'down';

export interface KubeRoutesServer {
  url: string;
  objects: Map<string, KubeObject>;
  /** Ready flags per Service: "payments/payments-legacy" -> [true, true, false]. */
  endpoints: Map<string, boolean[]>;
  requests: KubeRequest[];
  nextPut: PutFault | undefined;
  /** Successful writes of routes. */
  writes: number;
  kubeConfig(): KubeConfig;
  /** "legacy=20 cloud=80" of the HTTPRoute's first rule or the VirtualService's first http route. */
  weights(kind: 'httproutes' | 'virtualservices'): string;
  /** Someone else edits the object (a label): a new resourceVersion. */
  touch(kind: 'httproutes' | 'virtualservices'): void;
  stop(): Promise<void>;
}

export function httpRoute(legacy = 20, cloud = 80): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'payments', namespace: NS, resourceVersion: '1001', generation: 3 },
    spec: {
      parentRefs: [{ name: 'edge', namespace: 'gateways' }],
      hostnames: ['api.payments.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/healthz' } }],
          backendRefs: [{ name: 'payments-legacy', port: 8080 }],
        },
        {
          name: 'split',
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [
            { name: 'payments-legacy', port: 8080, weight: legacy },
            { name: 'payments-cloud', port: 8080, weight: cloud },
          ],
        },
      ],
    },
    status: { parents: [] },
  };
}

export function virtualService(legacy = 20, cloud = 80): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'payments', namespace: NS, resourceVersion: '2001', generation: 7 },
    spec: {
      hosts: ['payments.payments.svc.cluster.local'],
      http: [
        {
          name: 'primary',
          route: [
            { destination: { host: 'payments-legacy', port: { number: 8080 } }, weight: legacy },
            {
              destination: { host: 'payments-cloud.payments.svc.cluster.local', port: { number: 8080 } },
              weight: cloud,
            },
          ],
        },
      ],
    },
  };
}

function status(res: ServerResponse, code: number, reason: string, message: string, details = {}): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      details,
      code,
    }),
  );
}

const ROUTE_PATH = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/(httproutes|virtualservices)\/([^/?]+)$/;
const SLICES_PATH = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/;

export async function startKubeRoutes(
  opts: { route?: KubeObject; vs?: KubeObject; endpoints?: Record<string, boolean[]> } = {},
): Promise<KubeRoutesServer> {
  let version = 5000;
  const objects = new Map<string, KubeObject>([
    [`httproutes/${NS}/payments`, opts.route ?? httpRoute()],
    [`virtualservices/${NS}/payments`, opts.vs ?? virtualService()],
  ]);
  const server: KubeRoutesServer = {
    url: '',
    objects,
    endpoints: new Map(
      Object.entries(
        opts.endpoints ?? {
          'payments/payments-legacy': [true, true, true],
          'payments/payments-cloud': [true, false],
        },
      ),
    ),
    requests: [],
    nextPut: undefined,
    writes: 0,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'test', server: server.url, skipTLSVerify: true }],
        users: [{ name: 'cloud-safety', token: 'test-token-not-real' }],
        contexts: [{ name: 'test', cluster: 'test', user: 'cloud-safety', namespace: NS }],
        currentContext: 'test',
      });
      return kc;
    },
    weights(kind) {
      const obj = objects.get(`${kind}/${NS}/payments`);
      if (kind === 'httproutes') {
        const rule = (obj?.spec?.rules as { backendRefs: { name: string; weight?: number }[] }[])[1];
        return (rule?.backendRefs ?? [])
          .map((r) => `${r.name.replace('payments-', '')}=${r.weight}`)
          .join(' ');
      }
      const http = (obj?.spec?.http as { route: { destination: { host: string }; weight?: number }[] }[])[0];
      return (http?.route ?? [])
        .map((r) => `${(r.destination.host.split('.')[0] ?? '').replace('payments-', '')}=${r.weight}`)
        .join(' ');
    },
    touch(kind) {
      const obj = objects.get(`${kind}/${NS}/payments`);
      if (!obj?.metadata) return;
      version += 1;
      obj.metadata.resourceVersion = String(version);
      (obj.metadata as Record<string, unknown>).labels = { touched: String(version) };
    },
    async stop() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? (JSON.parse(text) as KubeObject) : undefined;
    server.requests.push({
      method: req.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      ...(body ? { body } : {}),
    });
    await new Promise((resolve) => setTimeout(resolve, 2));
    if (req.headers.authorization !== 'Bearer test-token-not-real') {
      status(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    const slices = SLICES_PATH.exec(url.pathname);
    if (slices && req.method === 'GET') {
      const service = /kubernetes\.io\/service-name=([^,]+)/.exec(
        url.searchParams.get('labelSelector') ?? '',
      )?.[1];
      const ready = server.endpoints.get(`${slices[1]}/${service}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'EndpointSliceList',
          apiVersion: 'discovery.k8s.io/v1',
          metadata: { resourceVersion: String(version) },
          items: ready
            ? [
                {
                  metadata: {
                    name: `${service}-abc12`,
                    namespace: slices[1],
                    labels: { 'kubernetes.io/service-name': service },
                  },
                  addressType: 'IPv4',
                  endpoints: ready.map((r, i) => ({
                    addresses: [`10.1.0.${i + 10}`],
                    conditions: { ready: r, serving: r, terminating: false },
                  })),
                  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
                },
              ]
            : [],
        }),
      );
      return;
    }
    const route = ROUTE_PATH.exec(url.pathname);
    if (!route) {
      status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
      return;
    }
    const [, group, apiVersion, ns, plural, name] = route;
    const key = `${plural}/${ns}/${name}`;
    const current = objects.get(key);
    const expectedGroup = plural === 'httproutes' ? 'gateway.networking.k8s.io' : 'networking.istio.io';
    if (group !== expectedGroup || apiVersion !== 'v1' || !current) {
      status(res, 404, 'NotFound', `${plural}.${group} "${name}" not found`, { name, group, kind: plural });
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(current));
      return;
    }
    if (req.method === 'PUT' && body) {
      const fault = server.nextPut;
      server.nextPut = undefined;
      if (fault === 'down') {
        req.socket.destroy();
        return;
      }
      if (fault === 'edited-before') server.touch(plural as 'httproutes');
      const sent = body.metadata?.resourceVersion;
      if (!sent) {
        status(
          res,
          422,
          'Invalid',
          `${plural}.${group} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
        );
        return;
      }
      if (sent !== current.metadata?.resourceVersion) {
        status(
          res,
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${plural}.${group} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          { name, group, kind: plural },
        );
        return;
      }
      if (plural === 'virtualservices') {
        const http = (body.spec?.http ?? []) as { route?: { weight?: number }[] }[];
        const bad = http.find(
          (h) =>
            (h.route?.length ?? 0) > 1 && (h.route ?? []).reduce((s, r) => s + (r.weight ?? 0), 0) !== 100,
        );
        if (bad) {
          status(
            res,
            400,
            'BadRequest',
            'admission webhook "validation.istio.io" denied the request: configuration is invalid: total destination weight != 100',
          );
          return;
        }
      }
      version += 1;
      const stored: KubeObject = {
        ...body,
        metadata: {
          ...body.metadata,
          resourceVersion: String(version),
          generation: (current.metadata?.generation ?? 1) + 1,
        },
        ...(current.status ? { status: current.status } : {}),
      };
      objects.set(key, stored);
      server.writes += 1;
      if (fault === 'commit-then-reset') {
        req.socket.destroy();
        return;
      }
      if (fault === 'commit-then-500') {
        status(res, 500, 'InternalError', 'Internal error occurred: etcdserver: request timed out');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stored));
      return;
    }
    status(res, 405, 'MethodNotAllowed', `${req.method} is not allowed here`);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => status(res, 500, 'InternalError', String(err)));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  server.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return server;
}

/** The gateway and istio adapters of `config`'s payments on this server. */
export function kubeRouteAdapters(server: KubeRoutesServer, config: Config, clock?: FakeClock) {
  const traffic = config.services.payments?.traffic;
  const api = clientRouteApi(() => server.kubeConfig(), createMetrics({ defaults: false }));
  const common = {
    api,
    log: memoryLogger().log,
    ...(clock ? { sleep: (ms: number) => clock.sleep(ms), now: clock.now } : {}),
  };
  return {
    ...(traffic?.gateway
      ? { gateway: new KubeRouteTrafficAdapter({ kind: gatewayKind(traffic.gateway), ...common }) }
      : {}),
    ...(traffic?.istio
      ? { istio: new KubeRouteTrafficAdapter({ kind: istioKind(traffic.istio), ...common }) }
      : {}),
  };
}

export const GATEWAY_SECTION = {
  namespace: NS,
  httpRoute: 'payments',
  legacy: { service: 'payments-legacy' },
  cloud: { service: 'payments-cloud' },
};

export const ISTIO_SECTION = {
  namespace: NS,
  virtualService: 'payments',
  legacy: { host: 'payments-legacy' },
  cloud: { host: 'payments-cloud.payments.svc.cluster.local' },
};
