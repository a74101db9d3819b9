// A local Route 53 endpoint speaking the real REST-XML on 127.0.0.1, for drills, tests and benchmarks.
// Compare-and-swap like the real one (a DELETE must match exactly), changes PENDING then INSYNC after a delay,
// paginated listings, health check status. Run it: `npm run drill:route53` (see docs/contain.md).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import {
  changeResponseXml,
  errorXml,
  getChangeXml,
  healthCheckStatusXml,
  listRecordSetsXml,
  observations,
  parseChangeBatch,
  type RecordSet,
} from './route53-xml.ts';

export interface Route53ServerOptions {
  /** Records per hosted zone id (without /hostedzone/). */
  zones: Record<string, RecordSet[]>;
  /** How long a change stays PENDING before GetChange says INSYNC (default 2 s). */
  syncDelayMs?: number;
  /** ListResourceRecordSets page size when the request gives no maxitems (default 300, like Route 53). */
  pageSize?: number;
  /** Health checks: how many of 8 checkers report the endpoint healthy. */
  healthChecks?: Record<string, number>;
  port?: number;
  now?: () => number;
}

export interface Route53Server {
  url: string;
  port: number;
  server: Server;
  /** Every request as received: method, path and body. */
  requests: { method: string; path: string; body: string }[];
  /** ChangeBatches accepted, in order, with their ids. */
  accepted: { id: string; at: number; changes: number }[];
  records(zone: string): RecordSet[];
  setRecords(zone: string, records: RecordSet[]): void;
  setHealth(healthCheckId: string, healthyCheckers: number): void;
  /** The next `n` ChangeResourceRecordSets calls answer Throttling (for drills). */
  throttleNext(n: number): void;
  /**
   * The next `n` calls of one operation answer this error instead (fault tests: throttling storms on reads,
   * PriorRequestNotComplete on writes, 5xx). Queued faults of an operation are used in the order given.
   */
  failNext(operation: Route53Operation, n: number, error: Route53Fault): void;
  stop(): Promise<void>;
}

export type Route53Operation =
  'ListResourceRecordSets' | 'ChangeResourceRecordSets' | 'GetChange' | 'GetHealthCheckStatus';

export interface Route53Fault {
  code: string;
  message: string;
  /** HTTP status (400 for Throttling and PriorRequestNotComplete, as Route 53 answers them). */
  status?: number;
}

function reversedName(name: string): string {
  return name.replace(/\.$/, '').split('.').reverse().join('.');
}

/** Route 53's listing order: name with labels reversed, then type, then set identifier. */
function compareRecords(a: RecordSet, b: RecordSet): number {
  return (
    reversedName(a.name).localeCompare(reversedName(b.name)) ||
    a.type.localeCompare(b.type) ||
    (a.setIdentifier ?? '').localeCompare(b.setIdentifier ?? '')
  );
}

function fqdn(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

function sameRecord(a: RecordSet, b: RecordSet): boolean {
  const values = (r: RecordSet) => (r.values ? [...r.values].sort().join('\n') : undefined);
  return (
    a.weight === b.weight &&
    a.ttl === b.ttl &&
    values(a) === values(b) &&
    a.healthCheckId === b.healthCheckId &&
    aliasKey(a) === aliasKey(b)
  );
}

function aliasKey(r: RecordSet): string {
  return r.alias ? `${r.alias.hostedZoneId} ${fqdn(r.alias.dnsName)} ${r.alias.evaluateTargetHealth}` : '';
}

function describe(r: RecordSet): string {
  return `[name='${r.name}', type='${r.type}'${r.setIdentifier !== undefined ? `, set-identifier='${r.setIdentifier}'` : ''}]`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

export async function startRoute53Server(opts: Route53ServerOptions): Promise<Route53Server> {
  const now = opts.now ?? Date.now;
  const syncDelayMs = opts.syncDelayMs ?? 2000;
  const zones = new Map(
    Object.entries(opts.zones).map(([id, records]) => [
      id,
      records.map((r) => ({ ...r, name: fqdn(r.name) })),
    ]),
  );
  const health = new Map(Object.entries(opts.healthChecks ?? {}));
  const changes = new Map<string, { submittedAt: number; comment?: string }>();
  const requests: Route53Server['requests'] = [];
  const accepted: Route53Server['accepted'] = [];
  let throttle = 0;
  const faults = new Map<Route53Operation, Route53Fault[]>();

  /** Answers the next queued fault of `operation`, if any; true when it did. */
  function fault(res: ServerResponse, operation: Route53Operation): boolean {
    const next = faults.get(operation)?.shift();
    if (!next) return false;
    const status = next.status ?? 400;
    send(res, status, errorXml(next.code, next.message, status >= 500 ? 'Receiver' : 'Sender'));
    return true;
  }

  function send(res: ServerResponse, status: number, xml: string): void {
    res.writeHead(status, {
      'content-type': 'text/xml',
      'x-amzn-requestid': randomBytes(16).toString('hex'),
    });
    res.end(xml);
  }

  function changeInfo(id: string) {
    const change = changes.get(id);
    if (!change) return undefined;
    return {
      id,
      status: now() - change.submittedAt >= syncDelayMs ? ('INSYNC' as const) : ('PENDING' as const),
      submittedAt: new Date(change.submittedAt).toISOString(),
      ...(change.comment ? { comment: change.comment } : {}),
    };
  }

  function list(res: ServerResponse, zoneId: string, query: URLSearchParams): void {
    const records = zones.get(zoneId);
    if (!records)
      return send(res, 404, errorXml('NoSuchHostedZone', `No hosted zone found with ID: ${zoneId}`));
    const sorted = [...records].sort(compareRecords);
    const start: RecordSet = {
      name: fqdn(query.get('name') ?? ''),
      type: query.get('type') ?? '',
      ...(query.get('identifier') ? { setIdentifier: query.get('identifier') ?? '' } : {}),
    };
    const from = query.get('name') ? sorted.findIndex((r) => compareRecords(r, start) >= 0) : 0;
    const rest = from < 0 ? [] : sorted.slice(from);
    const max = Number(query.get('maxitems') ?? opts.pageSize ?? 300);
    const page = rest.slice(0, max);
    const next = rest[max];
    send(
      res,
      200,
      listRecordSetsXml(page, {
        maxItems: max,
        ...(next
          ? {
              next: {
                name: next.name,
                type: next.type,
                ...(next.setIdentifier ? { identifier: next.setIdentifier } : {}),
              },
            }
          : {}),
      }),
    );
  }

  function change(res: ServerResponse, zoneId: string, body: string): void {
    const records = zones.get(zoneId);
    if (!records)
      return send(res, 404, errorXml('NoSuchHostedZone', `No hosted zone found with ID: ${zoneId}`));
    if (throttle > 0) {
      throttle -= 1;
      return send(res, 400, errorXml('Throttling', 'Rate exceeded'));
    }
    let batch;
    try {
      batch = parseChangeBatch(body);
    } catch (err) {
      return send(res, 400, errorXml('InvalidInput', `Invalid XML ; ${(err as Error).message}`));
    }
    if (batch.changes.length === 0)
      return send(res, 400, errorXml('InvalidInput', 'Invalid request: no changes'));
    // Applied one by one to a working copy, saved only when every change succeeds: all or nothing, like Route 53.
    const work = records.map((r) => ({ ...r }));
    const problems: string[] = [];
    for (const { action, record } of batch.changes) {
      const r = { ...record, name: fqdn(record.name) };
      const index = work.findIndex(
        (w) => w.name === r.name && w.type === r.type && (w.setIdentifier ?? '') === (r.setIdentifier ?? ''),
      );
      const existing = index >= 0 ? work[index] : undefined;
      if (action === 'DELETE') {
        if (!existing)
          problems.push(`Tried to delete resource record set ${describe(r)} but it was not found`);
        else if (!sameRecord(existing, r))
          problems.push(
            `Tried to delete resource record set ${describe(r)} but the values provided do not match the current values`,
          );
        else work.splice(index, 1);
      } else if (action === 'CREATE') {
        if (existing)
          problems.push(`Tried to create resource record set ${describe(r)} but it already exists`);
        else work.push(r);
      } else if (action === 'UPSERT') {
        if (existing) work[index] = r;
        else work.push(r);
      } else {
        return send(res, 400, errorXml('InvalidInput', `Invalid request: unknown action ${action}`));
      }
    }
    if (problems.length > 0)
      return send(res, 400, errorXml('InvalidChangeBatch', `[${problems.join(', ')}]`));
    zones.set(zoneId, work);
    const id = `C${randomBytes(10).toString('hex').toUpperCase().slice(0, 13)}`;
    changes.set(id, { submittedAt: now(), ...(batch.comment ? { comment: batch.comment } : {}) });
    accepted.push({ id, at: now(), changes: batch.changes.length });
    const info = changeInfo(id);
    if (!info) throw new Error('change vanished');
    send(res, 200, changeResponseXml({ ...info, status: 'PENDING' }));
  }

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, body });
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
        return send(res, 403, errorXml('MissingAuthenticationToken', 'Missing Authentication Token'));
      }
      const rrset = /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/.exec(url.pathname);
      if (rrset && req.method === 'GET') {
        if (fault(res, 'ListResourceRecordSets')) return;
        return list(res, rrset[1] ?? '', url.searchParams);
      }
      if (rrset && req.method === 'POST') {
        if (fault(res, 'ChangeResourceRecordSets')) return;
        return change(res, rrset[1] ?? '', body);
      }
      const changeId = /^\/2013-04-01\/change\/([^/]+)$/.exec(url.pathname);
      if (changeId && req.method === 'GET') {
        if (fault(res, 'GetChange')) return;
        const info = changeInfo(changeId[1] ?? '');
        return info
          ? send(res, 200, getChangeXml(info))
          : send(res, 404, errorXml('NoSuchChange', `Could not find resource with ID: ${changeId[1]}`));
      }
      const hc = /^\/2013-04-01\/healthcheck\/([^/]+)\/status$/.exec(url.pathname);
      if (hc && req.method === 'GET') {
        if (fault(res, 'GetHealthCheckStatus')) return;
        const healthy = health.get(hc[1] ?? '');
        return healthy === undefined
          ? send(res, 404, errorXml('NoSuchHealthCheck', `A health check with id ${hc[1]} does not exist.`))
          : send(res, 200, healthCheckStatusXml(observations(healthy)));
      }
      send(res, 404, errorXml('InvalidInput', `Unsupported request ${req.method} ${url.pathname}`));
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/xml' });
      res.end(errorXml('InternalFailure', (err as Error).message, 'Receiver'));
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    accepted,
    records: (zone) => [...(zones.get(zone) ?? [])].sort(compareRecords),
    setRecords: (zone, records) =>
      zones.set(
        zone,
        records.map((r) => ({ ...r, name: fqdn(r.name) })),
      ),
    setHealth: (id, healthy) => health.set(id, healthy),
    throttleNext: (n) => {
      throttle = n;
    },
    failNext: (operation, n, error) => {
      const queue = faults.get(operation) ?? [];
      for (let i = 0; i < n; i++) queue.push(error);
      faults.set(operation, queue);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The drill zone: payments' record pair (legacy 20 / cloud 80, TTL 10 s) and a legacy health check. */
export const DRILL_ZONE = 'Z0DRILLPAYMENTS';
export const DRILL_HEALTH_CHECK = 'd6c1b2a3-0000-4000-8000-00000000d111';
export function drillRecords(ttl = 10): RecordSet[] {
  return [
    {
      name: 'api.payments.example.com.',
      type: 'A',
      setIdentifier: 'legacy',
      weight: 20,
      ttl,
      values: ['192.0.2.10'],
      healthCheckId: DRILL_HEALTH_CHECK,
    },
    {
      name: 'api.payments.example.com.',
      type: 'A',
      setIdentifier: 'cloud',
      weight: 80,
      ttl,
      values: ['198.51.100.20', '198.51.100.21'],
    },
    { name: 'api.payments.example.com.', type: 'AAAA', ttl: 300, values: ['2001:db8::10'] },
    { name: 'example.com.', type: 'NS', ttl: 172800, values: ['ns-1.awsdns-01.org.', 'ns-2.awsdns-02.net.'] },
  ];
}

if (import.meta.main) {
  const port = Number(process.env.ROUTE53_PORT ?? 4580);
  const syncDelayMs = Number(process.env.ROUTE53_SYNC_DELAY_MS ?? 3000);
  const ttl = Number(process.env.ROUTE53_DRILL_TTL ?? 10);
  const r53 = await startRoute53Server({
    zones: { [DRILL_ZONE]: drillRecords(ttl) },
    healthChecks: { [DRILL_HEALTH_CHECK]: Number(process.env.ROUTE53_LEGACY_HEALTHY ?? 8) },
    syncDelayMs,
    port,
  });
  process.stdout.write(
    `Local Route 53 on ${r53.url} (zone ${DRILL_ZONE}, changes INSYNC after ${syncDelayMs} ms, TTL ${ttl} s).\n` +
      `In another terminal:\n  AWS_ENDPOINT_URL_ROUTE_53=${r53.url} AWS_ACCESS_KEY_ID=drill AWS_SECRET_ACCESS_KEY=drill \\\n` +
      `  CLOUD_SAFETY_CONFIG=docs/drill/cloud-safety.drill.yml npm start\n`,
  );
  let last = 0;
  setInterval(() => {
    for (const change of r53.accepted.slice(last)) {
      const pair = r53.records(DRILL_ZONE).filter((r) => r.setIdentifier !== undefined);
      process.stdout.write(
        `${new Date(change.at).toISOString()} ChangeBatch ${change.id} (${change.changes} changes): ${pair.map((r) => `${r.setIdentifier}=${r.weight}`).join(' ')}\n`,
      );
    }
    last = r53.accepted.length;
  }, 200).unref();
  const stop = () => void r53.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
