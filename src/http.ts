// GET /healthz, /readyz and /metrics: served by Bolt's receiver in HTTP mode, by a small server otherwise.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';
import type { Store } from './store/store.ts';

export interface HealthDeps {
  store: Store;
  metrics: Metrics;
  mode: string;
}

export interface Route {
  path: string;
  method: string[];
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

function send(res: ServerResponse, status: number, body: string, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

export function healthRoutes(deps: HealthDeps): Route[] {
  return [
    {
      path: '/healthz',
      method: ['GET'],
      handler: (_req, res) => send(res, 200, JSON.stringify({ status: 'ok', mode: deps.mode })),
    },
    {
      path: '/readyz',
      method: ['GET'],
      handler: (_req, res) => {
        deps.store.ping().then(
          () => send(res, 200, JSON.stringify({ status: 'ready', store: deps.store.kind })),
          (err: Error) =>
            send(
              res,
              503,
              JSON.stringify({ status: 'unavailable', store: deps.store.kind, reason: err.message }),
            ),
        );
      },
    },
    {
      path: '/metrics',
      method: ['GET'],
      handler: (_req, res) => {
        deps.metrics.registry.metrics().then(
          (text) => send(res, 200, text, deps.metrics.registry.contentType),
          (err: Error) => send(res, 500, err.message, 'text/plain'),
        );
      },
    },
  ];
}

/** Exact, or `:name` standing for one segment, as Bolt's custom routes match them in HTTP mode. */
export function pathMatches(pattern: string, path = '/'): boolean {
  const want = pattern.split('/');
  const got = path.split('/');
  return (
    want.length === got.length && want.every((w, i) => (w.startsWith(':') ? got[i] !== '' : w === got[i]))
  );
}

/** A standalone server for the health routes (console and Socket Mode). */
export async function startHealthServer(
  routes: Route[],
  port: number,
  host = '0.0.0.0',
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = routes.find((r) => pathMatches(r.path, path) && r.method.includes(req.method ?? 'GET'));
    if (route) route.handler(req, res);
    else send(res, 404, JSON.stringify({ error: 'not found', routes: routes.map((r) => r.path) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
