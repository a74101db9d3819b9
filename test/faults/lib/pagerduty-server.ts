// A local PagerDuty REST API (incidents, notes, resolve) that can be taken down: 503 HTML pages like a real outage.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pdIncident, pdIncidentList, pdNote } from '../../support/pagerduty.ts';

export interface LocalPagerDuty {
  url: string;
  server: Server;
  /** Every request: method, path, and whether it was answered while down. */
  requests: { method: string; path: string; down: boolean }[];
  creates: { title: string; incidentKey: string }[];
  notes: { incident: string; content: string }[];
  resolved: string[];
  down: boolean;
  close(): Promise<void>;
}

export async function startLocalPagerDuty(): Promise<LocalPagerDuty> {
  const pd: LocalPagerDuty = {
    url: '',
    server: createServer(),
    requests: [],
    creates: [],
    notes: [],
    resolved: [],
    down: false,
    close: () =>
      new Promise<void>((resolve) => {
        pd.server.closeAllConnections();
        pd.server.close(() => resolve());
      }),
  };
  const incidents = new Map<string, ReturnType<typeof pdIncident>>();
  pd.server.on('request', (req, res) => {
    void (async () => {
      let raw = '';
      for await (const chunk of req) raw += String(chunk);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      pd.requests.push({ method: req.method ?? '', path: url.pathname, down: pd.down });
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(body));
      };
      if (pd.down) {
        res.writeHead(503, { 'content-type': 'text/html' });
        return res.end('<html><body><h1>503 Service Unavailable</h1></body></html>');
      }
      const body = raw ? (JSON.parse(raw) as Record<string, Record<string, unknown>>) : {};
      const notes = /^\/incidents\/([A-Z0-9]+)\/notes$/.exec(url.pathname);
      const one = /^\/incidents\/([A-Z0-9]+)$/.exec(url.pathname);
      if (req.method === 'POST' && url.pathname === '/incidents') {
        const title = String(body.incident?.title ?? '');
        const incidentKey = String(body.incident?.incident_key ?? '');
        pd.creates.push({ title, incidentKey });
        const id = `PT${String(4000 + pd.creates.length)}K`;
        const incident = pdIncident({ id, number: 1233 + pd.creates.length, title, incidentKey });
        incidents.set(id, incident);
        return json(201, { incident });
      }
      if (req.method === 'GET' && url.pathname === '/incidents') {
        const key = url.searchParams.get('incident_key');
        return json(200, pdIncidentList([...incidents.values()].filter((i) => i.incident_key === key)));
      }
      if (req.method === 'POST' && notes?.[1]) {
        const content = String(body.note?.content ?? '');
        pd.notes.push({ incident: notes[1], content });
        return json(201, pdNote(content, `PN${pd.notes.length}`));
      }
      if (one?.[1] && incidents.has(one[1])) {
        const current = incidents.get(one[1]);
        if (req.method === 'GET') return json(200, { incident: current });
        if (req.method === 'PUT') {
          pd.resolved.push(one[1]);
          const resolved = pdIncident({ id: one[1], status: 'resolved', title: current?.title ?? '' });
          incidents.set(one[1], resolved);
          return json(200, { incident: resolved });
        }
      }
      json(404, { error: { message: 'Not Found', code: 2100 } });
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => pd.server.listen(0, '127.0.0.1', () => resolve()));
  pd.url = `http://127.0.0.1:${(pd.server.address() as AddressInfo).port}`;
  return pd;
}
