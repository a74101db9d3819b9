// A PagerDuty account on nock, both APIs at once: Events API v2 triggers that become incidents only after an
// ingestion delay on the injected clock (the Events API is asynchronous), and the REST API's incidents, notes,
// resolve and its 400 (code 2002) for a second open incident with the same incident key.
import nock from 'nock';
import { PD_API, PD_EVENTS, EVENTS, pdIncident, pdIncidentList, pdNote } from './pagerduty.ts';

/** PagerDuty's answer to POST /incidents when an open incident on the service already has the incident_key. */
export const DUPLICATE_KEY = {
  error: {
    message: 'Arguments Caused Error',
    code: 2002,
    errors: ['Open incident with matching dedup key already exists on this service'],
  },
};

interface Held {
  incident: ReturnType<typeof pdIncident>;
  /** When it shows in GET /incidents and GET /incidents/{id} (ms on the injected clock). */
  visibleAt: number;
  /** Which API made it: each one pages on-call. */
  via: 'events' | 'rest';
}

export interface PagerDutyDouble {
  /** Incidents as they were opened, in order: each one paged on-call. */
  pages(): { id: string; via: 'events' | 'rest'; incidentKey: string }[];
  /** Every request the double answered: "POST /v2/enqueue", "GET /incidents?incident_key=…"… */
  requests: string[];
  notes: { incident: string; content: string }[];
}

/**
 * Answers events.pagerduty.com and api.pagerduty.com (optional persisted scopes: useNock's cleanAll ends them). A trigger is accepted at once (202) and becomes an
 * incident (incident_key = dedup_key) `ingestionMs` later on `now`; a trigger whose key has an open incident (or one
 * still being ingested) only adds to it. REST-created incidents are visible at once.
 */
export function pagerDutyDouble(opts: { now: () => number; ingestionMs: number }): PagerDutyDouble {
  const held: Held[] = [];
  const requests: string[] = [];
  const notes: PagerDutyDouble['notes'] = [];
  const visible = () => held.filter((h) => h.visibleAt <= opts.now());
  const openWithKey = (key: string, among: Held[]) =>
    among.find((h) => h.incident.incident_key === key && h.incident.status !== 'resolved');
  const open = (via: Held['via'], title: string, incidentKey: string, visibleAt: number) => {
    const n = held.length + 1;
    const incident = pdIncident({
      id: `PDBL${String(n).padStart(3, '0')}`,
      number: 1400 + n,
      title,
      incidentKey,
    });
    held.push({ incident, visibleAt, via });
    return incident;
  };

  nock(PD_EVENTS)
    .post('/v2/enqueue')
    .optionally()
    .reply(async (req: Request) => {
      const body = (await req.json()) as { dedup_key?: string; payload?: { summary?: string } };
      requests.push('POST /v2/enqueue');
      const key = body.dedup_key ?? `generated-${held.length + 1}`;
      // Ingested later, like the real API: the incident is not there when the 202 is.
      if (!openWithKey(key, held))
        open('events', body.payload?.summary ?? '', key, opts.now() + opts.ingestionMs);
      return [202, EVENTS.accepted(key)] as const;
    })
    .persist();

  nock(PD_API)
    .get('/incidents')
    .query(true)
    .optionally()
    .reply((req: Request) => {
      const key = new URL(req.url).searchParams.get('incident_key') ?? '';
      requests.push(`GET /incidents?incident_key=${key}`);
      return [
        200,
        pdIncidentList(
          visible()
            .filter((h) => h.incident.incident_key === key)
            .map((h) => h.incident),
        ),
      ];
    })
    .persist()
    .post('/incidents')
    .optionally()
    .reply(async (req: Request) => {
      const body = (await req.json()) as { incident: { title: string; incident_key: string } };
      requests.push('POST /incidents');
      if (openWithKey(body.incident.incident_key, held)) return [400, DUPLICATE_KEY] as const;
      return [
        201,
        { incident: open('rest', body.incident.title, body.incident.incident_key, opts.now()) },
      ] as const;
    })
    .persist()
    .post(/^\/incidents\/[A-Z0-9]+\/notes$/)
    .optionally()
    .reply(async (req: Request) => {
      const id = new URL(req.url).pathname.split('/')[2] ?? '';
      const content = ((await req.json()) as { note: { content: string } }).note.content;
      requests.push(`POST /incidents/${id}/notes`);
      notes.push({ incident: id, content });
      return [201, pdNote(content)] as const;
    })
    .persist()
    .put(/^\/incidents\/[A-Z0-9]+$/)
    .optionally()
    .reply((req: Request) => {
      const id = new URL(req.url).pathname.split('/')[2] ?? '';
      requests.push(`PUT /incidents/${id}`);
      const h = visible().find((x) => x.incident.id === id);
      if (!h) return [404, { error: { message: 'Not Found', code: 2100 } }] as const;
      h.incident = { ...h.incident, status: 'resolved' };
      return [200, { incident: h.incident }] as const;
    })
    .persist();

  return {
    pages: () => held.map((h) => ({ id: h.incident.id, via: h.via, incidentKey: h.incident.incident_key })),
    requests,
    notes,
  };
}
