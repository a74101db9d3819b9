// The simulated Events API v2: POST /v2/enqueue answers 202 at once; a trigger becomes an incident only after the
// ingestion delay (the real API is asynchronous), a trigger for an open dedup key only adds an alert to it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { PdIncidentRecord, PdService } from './pagerduty-account.ts';
import { bucket, json, send } from './pagerduty-http.ts';

export interface EventsContext {
  services: PdService[];
  perMinute: number;
  now: () => number;
  requests: { api: 'rest' | 'events'; method: string; path: string; body: unknown }[];
  refuse: (res: ServerResponse, status: number, body: unknown, code: string) => void;
  openWithKey: (key: string) => PdIncidentRecord | undefined;
  open: (
    service: PdService,
    title: string,
    key: string,
    via: 'events',
    urgency: 'high' | 'low',
  ) => PdIncidentRecord;
}

export function eventsHandler(
  ctx: EventsContext,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { now, requests, refuse, openWithKey, open } = ctx;
  const opts = { services: ctx.services, eventsPerMinute: ctx.perMinute };
  const events = new Map<string, ReturnType<typeof bucket>>();
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await json(req);
    requests.push({ api: 'events', method: req.method ?? '', path: req.url ?? '/', body });
    const invalid = (...errors: string[]) =>
      refuse(
        res,
        400,
        { status: 'invalid event', message: 'Event object is invalid', errors },
        'invalid-event',
      );
    if (req.method !== 'POST' || req.url !== '/v2/enqueue')
      return send(res, 404, { status: 'not found', message: 'Not found' });
    if (!body)
      return refuse(
        res,
        400,
        {
          status: 'invalid request',
          message: 'Event object is invalid',
          errors: ['Request body is not valid JSON'],
        },
        'invalid-event',
      );
    const key = typeof body.routing_key === 'string' ? body.routing_key : '';
    if (key.length !== 32) return invalid("Length of 'routing_key' is incorrect (should be 32 characters)");
    const service = opts.services.find((s) => s.routingKey === key);
    if (!service) return invalid('Invalid routing key');
    let limit = events.get(key);
    if (!limit) events.set(key, (limit = bucket(opts.eventsPerMinute, now)));
    if (!limit.take())
      return refuse(
        res,
        429,
        {
          status: 'throttle event',
          message: 'Requests for this service are arriving too quickly. Please retry later.',
        },
        'events-throttled',
      );
    const action = body.event_action;
    const dedup = typeof body.dedup_key === 'string' ? body.dedup_key : randomBytes(16).toString('hex');
    if (action === 'trigger') {
      const payload = (body.payload ?? {}) as { summary?: unknown; source?: unknown; severity?: unknown };
      const errors = [
        ...(typeof payload.summary === 'string' && payload.summary
          ? []
          : ["'payload.summary' is missing or blank"]),
        ...(typeof payload.source === 'string' && payload.source
          ? []
          : ["'payload.source' is missing or blank"]),
        ...(['critical', 'error', 'warning', 'info'].includes(String(payload.severity))
          ? []
          : [
              "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')",
            ]),
      ];
      if (errors.length > 0) return invalid(...errors);
      // Ingested later: the 202 comes back before the incident exists; a trigger for an open key only adds an alert.
      if (!openWithKey(dedup))
        open(
          service,
          String(payload.summary),
          dedup,
          'events',
          payload.severity === 'critical' || payload.severity === 'error' ? 'high' : 'low',
        );
    } else if (action === 'resolve' || action === 'acknowledge') {
      const incident = openWithKey(dedup);
      if (incident) incident.status = action === 'resolve' ? 'resolved' : 'acknowledged';
    } else {
      return invalid(
        "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')",
      );
    }
    send(res, 202, { status: 'success', message: 'Event processed', dedup_key: dedup });
  };
}
