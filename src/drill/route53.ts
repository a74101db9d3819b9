// A local Route 53 endpoint speaking the real REST-XML on 127.0.0.1, for drills, tests and benchmarks.
// Compare-and-swap like the real one (a DELETE must match exactly), changes PENDING then INSYNC after a delay,
// paginated listings, health check status, and on demand the real service's rough edges: the account-wide 5 req/s
// throttle, PriorRequestNotComplete while a zone's change is being processed, and a write that commits and then
// answers 500 or drops the connection. Run it: `npm run drill:route53` (see docs/contain.md).
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
  PRIOR_REQUEST_NOT_COMPLETE,
  THROTTLING,
  type RecordSet,
} from './route53-xml.ts';

/** How long real Route 53 usually takes to report a change INSYNC: about 60 s. Tests use it on an injected clock. */
export const REAL_SYNC_DELAY_MS = 60_000;
/** Route 53's API quota: five requests per second per account, every operation counted (DNSLimitations). */
export const REAL_RATE_PER_SECOND = 5;

export interface Route53ServerOptions {
  /** Records per hosted zone id (without /hostedzone/). */
  zones: Record<string, RecordSet[]>;
  /** How long a change stays PENDING before GetChange says INSYNC (default 2 s; the real service ~60 s). */
  syncDelayMs?: number;
  /**
   * Requests per second the account may make, every operation counted, as a token bucket of `burst` tokens (default
   * the rate); beyond it Route 53 answers HTTP 400 Throttling "Rate exceeded". Off unless given (real: 5).
   */
  rateLimit?: { perSecond: number; burst?: number };
  /**
   * For this long after a change to a zone is accepted, another change to the same zone is refused with
   * PriorRequestNotComplete (HTTP 400), as Route 53 does while it is still processing the previous one. Default 0.
   */
  priorRequestMs?: number;
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
  /** ChangeBatches accepted, in order, with their ids (those whose answer a fault replaced included). */
  accepted: { id: string; at: number; changes: number; comment?: string }[];
  /** Requests refused by the rate limit or PriorRequestNotComplete, by code. */
  refused: Record<string, number>;
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
  /**
   * The request is carried out first (a ChangeBatch commits, a read reads) and only then the answer goes wrong:
   * `answer` sends this fault's error instead of the real answer, `drop` closes the connection without a word.
   */
  afterCommit?: 'answer' | 'drop';
  /** Called once the fault has been served, e.g. to make Route 53 fail reads from that moment on. */
  then?: () => void;
}

/** A ChangeBatch that commits and then answers HTTP 500 InternalFailure: the answer lies about what happened. */
export const FAIL_AFTER_COMMIT: Route53Fault = {
  code: 'InternalFailure',
  message: 'An internal error occurred.',
  status: 500,
  afterCommit: 'answer',
};
/** A ChangeBatch that commits and then loses its answer (connection reset). */
export const DROP_AFTER_COMMIT: Route53Fault = { ...FAIL_AFTER_COMMIT, afterCommit: 'drop' };

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
  const refused: Record<string, number> = {};
  const rate = opts.rateLimit;
  let tokens = rate ? (rate.burst ?? rate.perSecond) : 0;
  let refilledAt = now();
  /** Last accepted change per zone, for PriorRequestNotComplete. */
  const lastChange = new Map<string, number>();

  /** Takes one token of the account's bucket; false when the request must be throttled. */
  function admit(): boolean {
    if (!rate) return true;
    const t = now();
    const burst = rate.burst ?? rate.perSecond;
    tokens = Math.min(burst, tokens + ((t - refilledAt) * rate.perSecond) / 1000);
    refilledAt = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  function refuse(res: ServerResponse, error: { code: string; message: string; status: number }): void {
    refused[error.code] = (refused[error.code] ?? 0) + 1;
    send(res, error.status, errorXml(error.code, error.message));
  }

  function sendFault(res: ServerResponse, f: Route53Fault): void {
    if (f.afterCommit === 'drop') {
      res.socket?.destroy();
      return;
    }
    const status = f.status ?? 400;
    send(res, status, errorXml(f.code, f.message, status >= 500 ? 'Receiver' : 'Sender'));
  }

  /**
   * Answers the next queued fault of `operation`, if any; true when it did. A fault `afterCommit` runs `handle` on a
   * response that goes nowhere first, so its effect (a commit) happens and only the answer is replaced.
   */
  function fault(res: ServerResponse, operation: Route53Operation, handle: (r: Reply) => void): boolean {
    const next = faults.get(operation)?.shift();
    if (!next) return false;
    if (next.afterCommit) handle(() => undefined);
    sendFault(res, next);
    next.then?.();
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

  type Reply = (status: number, xml: string) => void;

  function list(reply: Reply, zoneId: string, query: URLSearchParams): void {
    const send = reply;
    const records = zones.get(zoneId);
    if (!records) return send(404, errorXml('NoSuchHostedZone', `No hosted zone found with ID: ${zoneId}`));
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

  function change(reply: Reply, zoneId: string, body: string): void {
    const send = reply;
    const records = zones.get(zoneId);
    if (!records) return send(404, errorXml('NoSuchHostedZone', `No hosted zone found with ID: ${zoneId}`));
    if (throttle > 0) {
      throttle -= 1;
      refused.Throttling = (refused.Throttling ?? 0) + 1;
      return send(400, errorXml(THROTTLING.code, THROTTLING.message));
    }
    const previous = lastChange.get(zoneId);
    if (opts.priorRequestMs && previous !== undefined && now() - previous < opts.priorRequestMs) {
      refused.PriorRequestNotComplete = (refused.PriorRequestNotComplete ?? 0) + 1;
      return send(400, errorXml(PRIOR_REQUEST_NOT_COMPLETE.code, PRIOR_REQUEST_NOT_COMPLETE.message));
    }
    let batch;
    try {
      batch = parseChangeBatch(body);
    } catch (err) {
      return send(400, errorXml('InvalidInput', `Invalid XML ; ${(err as Error).message}`));
    }
    if (batch.changes.length === 0) return send(400, errorXml('InvalidInput', 'Invalid request: no changes'));
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
        return send(400, errorXml('InvalidInput', `Invalid request: unknown action ${action}`));
      }
    }
    if (problems.length > 0) return send(400, errorXml('InvalidChangeBatch', `[${problems.join(', ')}]`));
    zones.set(zoneId, work);
    const id = `C${randomBytes(10).toString('hex').toUpperCase().slice(0, 13)}`;
    changes.set(id, { submittedAt: now(), ...(batch.comment ? { comment: batch.comment } : {}) });
    accepted.push({
      id,
      at: now(),
      changes: batch.changes.length,
      ...(batch.comment ? { comment: batch.comment } : {}),
    });
    lastChange.set(zoneId, now());
    const info = changeInfo(id);
    if (!info) throw new Error('change vanished');
    send(200, changeResponseXml({ ...info, status: 'PENDING' }));
  }

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, body });
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
        return send(res, 403, errorXml('MissingAuthenticationToken', 'Missing Authentication Token'));
      }
      if (!admit()) return refuse(res, THROTTLING);
      const reply: Reply = (status, xml) => send(res, status, xml);
      const rrset = /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/.exec(url.pathname);
      if (rrset && req.method === 'GET') {
        const run = (r: Reply) => list(r, rrset[1] ?? '', url.searchParams);
        if (fault(res, 'ListResourceRecordSets', run)) return;
        return run(reply);
      }
      if (rrset && req.method === 'POST') {
        const run = (r: Reply) => change(r, rrset[1] ?? '', body);
        if (fault(res, 'ChangeResourceRecordSets', run)) return;
        return run(reply);
      }
      const changeId = /^\/2013-04-01\/change\/([^/]+)$/.exec(url.pathname);
      if (changeId && req.method === 'GET') {
        if (fault(res, 'GetChange', () => undefined)) return;
        const info = changeInfo(changeId[1] ?? '');
        return info
          ? send(res, 200, getChangeXml(info))
          : send(res, 404, errorXml('NoSuchChange', `Could not find resource with ID: ${changeId[1]}`));
      }
      const hc = /^\/2013-04-01\/healthcheck\/([^/]+)\/status$/.exec(url.pathname);
      if (hc && req.method === 'GET') {
        if (fault(res, 'GetHealthCheckStatus', () => undefined)) return;
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
    refused,
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
