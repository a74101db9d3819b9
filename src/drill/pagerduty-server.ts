// A local PagerDuty: the REST API v2 (incidents, notes, resolve, on-call; token and From checks; 960 requests a minute,
// then 429 with RateLimit headers) over HTTP, and the Events API v2 over HTTPS (202 at once, the incident ingested later).
import { type DrillBind, listenOn } from './bind.ts';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
  type Server,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { incidentJson, pdError, pdId, type PdIncidentRecord, type PdService } from './pagerduty-account.ts';
import { eventsHandler } from './pagerduty-events-api.ts';
import { bucket, json, send } from './pagerduty-http.ts';
import type { DrillTls } from './pagerduty-tls.ts';

/** PagerDuty's REST limit: 960 requests per minute per API key. */
export const REAL_REST_PER_MINUTE = 960;
/** The Events API's rough limit: 120 events per minute per routing key. */
export const REAL_EVENTS_PER_MINUTE = 120;

export interface PagerDutyServerOptions {
  /** Where it listens and the name in its URLs (other replicas reach a drill's simulators by it). */
  bind?: DrillBind;
  token: string;
  /** Emails of the account's users: the only valid From headers. */
  users: string[];
  services: PdService[];
  /** How long an Events API trigger takes to become an incident (the API is asynchronous). */
  ingestionMs: number;
  /** Serve the Events API (HTTPS) with this certificate; without it, only REST runs. */
  tls?: DrillTls;
  now?: () => number;
  restPerMinute?: number;
  eventsPerMinute?: number;
}

export interface PagerDutyServer {
  /** REST base (PAGERDUTY_API_URL). */
  url: string;
  /** Events base, https://127.0.0.1:<port> (PAGERDUTY_EVENTS_URL), when TLS was given. */
  eventsUrl?: string;
  servers: Server[];
  requests: { api: 'rest' | 'events'; method: string; path: string; from?: string; body: unknown }[];
  refused: Record<string, number>;
  /** Every incident opened (each one paged on-call), visible or still being ingested. */
  incidents: PdIncidentRecord[];
  /** Answers the next n REST requests with 429. */
  throttleNext(n: number): void;
  stop(): Promise<void>;
}

export async function startPagerDutyServer(opts: PagerDutyServerOptions): Promise<PagerDutyServer> {
  const now = opts.now ?? Date.now;
  const incidents: PdIncidentRecord[] = [];
  const requests: PagerDutyServer['requests'] = [];
  const refused: Record<string, number> = {};
  const rest = bucket(opts.restPerMinute ?? REAL_REST_PER_MINUTE, now);
  let throttle = 0;
  let number = 1400;
  const visible = () => incidents.filter((i) => i.visibleAt <= now());
  const openWithKey = (key: string) =>
    incidents.find((i) => i.incidentKey === key && i.status !== 'resolved');

  function open(
    service: PdService,
    title: string,
    key: string,
    via: PdIncidentRecord['via'],
    urgency: 'high' | 'low',
  ) {
    const record: PdIncidentRecord = {
      id: pdId(),
      number: ++number,
      title: title.slice(0, 1024),
      status: 'triggered',
      urgency,
      incidentKey: key,
      service,
      createdAt: now(),
      visibleAt: via === 'events' ? now() + opts.ingestionMs : now(),
      via,
      notes: [],
    };
    incidents.push(record);
    return record;
  }

  function refuse(
    res: ServerResponse,
    status: number,
    body: unknown,
    code: string,
    headers: Record<string, string> = {},
  ) {
    refused[code] = (refused[code] ?? 0) + 1;
    send(res, status, body, headers);
  }

  async function serveRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const from = typeof req.headers.from === 'string' ? req.headers.from : undefined;
    const body = await json(req);
    requests.push({
      api: 'rest',
      method,
      path: `${url.pathname}${url.search}`,
      ...(from ? { from } : {}),
      body,
    });
    if (req.headers.authorization !== `Token token=${opts.token}`)
      return refuse(res, 401, pdError('Authentication failed', 2006), 'unauthorized');
    if (throttle > 0 || !rest.take()) {
      if (throttle > 0) throttle -= 1;
      return refuse(res, 429, pdError('Rate Limit Exceeded', 2020), 'rate-limited', {
        'ratelimit-limit': String(opts.restPerMinute ?? REAL_REST_PER_MINUTE),
        'ratelimit-remaining': '0',
        'ratelimit-reset': String(rest.resetSeconds()),
      });
    }
    if (!body)
      return refuse(
        res,
        400,
        pdError('Invalid Input Provided', 2001, ['The request body is not JSON.']),
        'invalid',
      );
    if (method !== 'GET') {
      if (!from)
        return refuse(
          res,
          400,
          pdError('Invalid Input Provided', 2001, [
            'A From header with the email of a user on the account is required.',
          ]),
          'from',
        );
      if (!opts.users.includes(from))
        return refuse(
          res,
          400,
          pdError('Invalid Input Provided', 2001, ['Requester User Not Found']),
          'from',
        );
    }
    const path = url.pathname.replace(/\/+$/, '');
    const one = /^\/incidents\/([A-Z0-9]+)$/.exec(path);
    const notes = /^\/incidents\/([A-Z0-9]+)\/notes$/.exec(path);
    const found = (id: string | undefined) => visible().find((i) => i.id === id);
    const notFound = () => refuse(res, 404, pdError('Not Found', 2100), 'not-found');
    if (path === '/incidents' && method === 'GET') {
      const key = url.searchParams.get('incident_key');
      const list = visible().filter((i) => key === null || i.incidentKey === key);
      return send(res, 200, {
        incidents: list.slice(0, 25).map(incidentJson),
        limit: 25,
        offset: 0,
        total: null,
        more: list.length > 25,
      });
    }
    if (path === '/incidents' && method === 'POST') {
      const input = (body.incident ?? {}) as {
        title?: unknown;
        service?: { id?: unknown };
        urgency?: unknown;
        incident_key?: unknown;
      };
      const service = opts.services.find((s) => s.id === input.service?.id);
      if (typeof input.title !== 'string' || !input.title)
        return refuse(
          res,
          400,
          pdError('Invalid Input Provided', 2001, ['Title cannot be empty.']),
          'invalid',
        );
      if (!service)
        return refuse(res, 400, pdError('Invalid Input Provided', 2001, ['Service not found.']), 'invalid');
      const key =
        typeof input.incident_key === 'string' ? input.incident_key : randomBytes(16).toString('hex');
      if (openWithKey(key))
        return refuse(
          res,
          400,
          pdError('Arguments Caused Error', 2002, [
            'Open incident with matching dedup key already exists on this service',
          ]),
          'duplicate',
        );
      return send(res, 201, {
        incident: incidentJson(
          open(service, input.title, key, 'rest', input.urgency === 'low' ? 'low' : 'high'),
        ),
      });
    }
    if (one && method === 'GET') {
      const incident = found(one[1]);
      return incident ? send(res, 200, { incident: incidentJson(incident) }) : notFound();
    }
    if (one && method === 'PUT') {
      const incident = found(one[1]);
      if (!incident) return notFound();
      const input = (body.incident ?? {}) as Record<string, unknown>;
      if (input.status === 'resolved') {
        if (incident.status === 'resolved')
          return refuse(res, 400, pdError('Incident Already Resolved', 1001), 'already-resolved');
        incident.status = 'resolved';
        if (typeof input.resolution === 'string') incident.resolution = input.resolution;
      }
      if (input.urgency === 'high' || input.urgency === 'low') incident.urgency = input.urgency;
      const priority = (input.priority as { id?: unknown } | undefined)?.id;
      if (typeof priority === 'string') incident.priority = priority;
      const assignee = (input.assignments as { assignee?: { id?: unknown } }[] | undefined)?.[0]?.assignee
        ?.id;
      if (typeof assignee === 'string') incident.assignee = assignee;
      return send(res, 200, { incident: incidentJson(incident) });
    }
    if (notes && method === 'POST') {
      const incident = found(notes[1]);
      if (!incident) return notFound();
      const content = (body.note as { content?: unknown } | undefined)?.content;
      if (typeof content !== 'string' || !content)
        return refuse(
          res,
          400,
          pdError('Invalid Input Provided', 2001, ['Note content cannot be empty.']),
          'invalid',
        );
      const note = { id: pdId(), content, at: now() };
      incident.notes.push(note);
      return send(res, 201, {
        note: {
          id: note.id,
          user: { id: 'PDRILBT', type: 'user_reference', summary: from },
          channel: { summary: 'The PagerDuty website or APIs' },
          content,
          created_at: new Date(note.at).toISOString(),
        },
      });
    }
    if (path === '/oncalls' && method === 'GET') {
      const user = (email: string, i: number) => ({
        id: `PDRILU${i}`,
        type: 'user',
        summary: email.split('@')[0],
        name: email.split('@')[0],
        email,
      });
      return send(res, 200, {
        oncalls: opts.users
          .slice(0, 1)
          .map((email, i) => ({ user: user(email, i), escalation_level: 1, start: null, end: null })),
        limit: 100,
        offset: 0,
        more: false,
      });
    }
    return notFound();
  }

  const serveEvents = eventsHandler({
    services: opts.services,
    perMinute: opts.eventsPerMinute ?? REAL_EVENTS_PER_MINUTE,
    now,
    requests,
    refuse,
    openWithKey,
    open,
  });

  const handler =
    (serve: (req: IncomingMessage, res: ServerResponse) => Promise<void>) =>
    (req: IncomingMessage, res: ServerResponse) => {
      serve(req, res).catch((err: unknown) =>
        send(res, 500, pdError(`Internal error: ${(err as Error).message}`, 2000)),
      );
    };
  const restServer = createHttpServer(handler(serveRest));
  const servers: Server[] = [restServer];
  const restListening = await listenOn(restServer, opts.bind);
  const listening = [restListening];
  let eventsUrl: string | undefined;
  if (opts.tls) {
    const eventsServer = createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, handler(serveEvents));
    servers.push(eventsServer);
    const events = await listenOn(eventsServer, opts.bind, { scheme: 'https' });
    listening.push(events);
    eventsUrl = events.url;
  }
  return {
    url: restListening.url,
    ...(eventsUrl ? { eventsUrl } : {}),
    servers,
    requests,
    refused,
    incidents,
    throttleNext: (n) => {
      throttle = n;
    },
    stop: async () => {
      await Promise.all(listening.map((l) => l.stop()));
    },
  };
}
