// The local Route 53 server: REST-XML over HTTP with compare-and-swap ChangeBatches, PENDING->INSYNC, throttles, faults.
import { listenOn } from './bind.ts';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Route53Fault, Route53Operation, Route53Server, Route53ServerOptions } from './route53-api.ts';
import { compareRecords, describe, fqdn, sameRecord } from './route53-records.ts';
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
  const listening = await listenOn(server, opts.bind, opts.port !== undefined ? { port: opts.port } : {});
  return {
    url: listening.url,
    port: listening.port,
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
    stop: listening.stop,
  };
}
