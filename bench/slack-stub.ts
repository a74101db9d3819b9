// A local stand-in for Slack's Web API and response_url endpoints, so benchmarks run offline with real HTTP.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackStub {
  url: string;
  apiUrl: string;
  calls: Map<string, number>;
  close(): Promise<void>;
}

export async function startSlackStub(): Promise<SlackStub> {
  const calls = new Map<string, number>();
  let seq = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const method = path.startsWith('/api/')
        ? path.slice(5)
        : path.startsWith('/respond/')
          ? 'response_url'
          : path;
      calls.set(method, (calls.get(method) ?? 0) + 1);
      seq += 1;
      const body: Record<string, unknown> =
        method === 'auth.test'
          ? {
              ok: true,
              team_id: 'T0TEAM',
              user_id: 'U0BOT',
              bot_id: 'B0BOT',
              team: 'Acme',
              user: 'cloud-safety',
            }
          : { ok: true, channel: 'C0BENCH', ts: `1764150000.${String(seq).padStart(6, '0')}` };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    apiUrl: `${url}/api/`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
