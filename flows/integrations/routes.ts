// The integrations' HTTP routes: alert receivers (POST /hooks/*) and the read-only API (GET /api/v1/*).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildPostmortem } from '../postmortem/index.ts';
import type { Deps } from '../../src/deps.ts';
import { UsageError } from '../../src/errors.ts';
import type { Route } from '../../src/http.ts';
import type { Incident } from '../../src/incident.ts';
import { parseAlerts, receiveAlerts, type AlertSource } from './alerts.ts';
import {
  checkToken,
  checkWebhookAuth,
  credentials,
  HttpError,
  parseJsonBody,
  readBody,
  sendError,
  sendJson,
  type Credentials,
} from './http.ts';
import { OPENAPI } from './openapi.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

function guarded(deps: Deps, name: string, handler: Handler): Route['handler'] {
  return (req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return sendError(res, err);
      if (err instanceof UsageError) return sendError(res, new HttpError(400, err.message));
      deps.log.error({ err, route: name }, 'integration route failed');
      sendError(res, new HttpError(500, 'The bot failed handling this request; it is logged. Retry later.'));
    });
  };
}

function receiver(deps: Deps, creds: Credentials, source: AlertSource): Handler {
  return async (req, res) => {
    const body = await readBody(req);
    checkWebhookAuth(req, body, creds);
    const { alerts, truncated } = parseAlerts(source, parseJsonBody(req, body));
    const result = await receiveAlerts(deps, alerts, truncated);
    sendJson(res, 200, { received: alerts.length, ...result });
  };
}

/** The last path segments after `prefix`, decoded; undefined when the path is not under it. */
function segments(req: IncomingMessage, prefix: string): string[] | undefined {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path !== prefix && !path.startsWith(`${prefix}/`)) return undefined;
  return path
    .slice(prefix.length)
    .split('/')
    .filter(Boolean)
    .map((s) => decodeURIComponent(s));
}

/** The incident as other tools see it: the record without the chat's internals. */
export function incidentView(incident: Incident): Record<string, unknown> {
  return {
    id: incident.id,
    service: incident.service,
    title: incident.title,
    severity: incident.severity,
    status: incident.status,
    channel: incident.channel,
    commander: incident.commander,
    declaredAt: incident.declaredAt,
    ...(incident.resolvedAt ? { resolvedAt: incident.resolvedAt } : {}),
    ...(incident.resolution ? { resolution: incident.resolution } : {}),
    checklist: incident.checklist,
    ...(incident.lastEvent ? { lastEvent: incident.lastEvent } : {}),
    ...(incident.pagerduty ? { pagerduty: incident.pagerduty } : {}),
  };
}

const INCIDENT_ID = /^INC-[0-9]{1,12}$/;

function api(deps: Deps, creds: Credentials): Handler {
  return async (req, res) => {
    checkToken(req, creds);
    const parts = segments(req, '/api/v1/incidents');
    if (!parts) throw new HttpError(404, 'Unknown path; see GET /api/v1/openapi.json.');
    if (parts.length === 0) {
      const status = new URL(req.url ?? '/', 'http://localhost').searchParams.get('status');
      if (status !== null && status !== 'active' && status !== 'resolved') {
        throw new HttpError(
          400,
          `status=${status} is not active or resolved; leave it out for every incident.`,
        );
      }
      const ids = await deps.incidents.listAll();
      const all = (await Promise.all(ids.map((id) => deps.incidents.get(id)))).filter(
        (i): i is Incident => i !== null && (status === null || i.status === status),
      );
      const seq = (i: Incident) => Number(i.id.slice('INC-'.length));
      all.sort((a, b) => b.declaredAt.localeCompare(a.declaredAt) || seq(b) - seq(a));
      return sendJson(res, 200, { incidents: all.map(incidentView) });
    }
    const [id, sub, ...rest] = parts;
    if (!id || !INCIDENT_ID.test(id)) {
      throw new HttpError(400, `"${id ?? ''}" is not an incident id; they look like INC-42.`);
    }
    if (rest.length > 0 || (sub !== undefined && sub !== 'timeline' && sub !== 'postmortem')) {
      throw new HttpError(404, `Unknown path; an incident has /timeline and /postmortem.`);
    }
    const incident = await deps.incidents.get(id);
    if (!incident) throw new HttpError(404, `No incident ${id}; GET /api/v1/incidents lists them.`);
    if (sub === undefined) return sendJson(res, 200, incidentView(incident));
    const { events, verification } = await deps.timeline.verify(id);
    if (sub === 'timeline') {
      return sendJson(res, 200, { incident: id, verification, events: deps.redactor.value(events) });
    }
    const doc = buildPostmortem({
      incident,
      events,
      verification,
      generatedAt: deps.now(),
      generatedBy: 'api',
    });
    sendJson(res, 200, deps.redactor.value(doc));
  };
}

/** The receivers and the API, when `integrations` names a token or an HMAC secret. */
export function integrationRoutes(deps: Deps, env: NodeJS.ProcessEnv = process.env): Route[] {
  const section = deps.config.integrations;
  // No token and no HMAC secret, no door: the receivers and the API are not served at all.
  if (!section || (!section.token && !section.hmacSecret)) return [];
  const creds = credentials(section, env);
  const incidentsApi = guarded(deps, 'api', api(deps, creds));
  return [
    {
      path: '/hooks/alertmanager',
      method: ['POST'],
      handler: guarded(deps, 'alertmanager', receiver(deps, creds, 'alertmanager')),
    },
    {
      path: '/hooks/grafana',
      method: ['POST'],
      handler: guarded(deps, 'grafana', receiver(deps, creds, 'grafana')),
    },
    {
      path: '/api/v1/openapi.json',
      method: ['GET'],
      handler: (_req, res) => sendJson(res, 200, OPENAPI),
    },
    { path: '/api/v1/incidents', method: ['GET'], handler: incidentsApi },
    { path: '/api/v1/incidents/:id', method: ['GET'], handler: incidentsApi },
    { path: '/api/v1/incidents/:id/:part', method: ['GET'], handler: incidentsApi },
  ];
}
