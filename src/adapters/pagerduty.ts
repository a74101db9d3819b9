// PagerDuty's REST API over @pagerduty/pdjs (token + From): incidents, notes and on-call; re-exports the PagerDuty adapter's public names.
import { api } from '@pagerduty/pdjs';
import { ConfigError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { PdResponse, ErrorContext } from './pagerduty-wire.ts';
import { text, toIncident, restError, transportError, hostOf } from './pagerduty-wire.ts';
import type {
  PagerDutyIncident,
  CreateIncidentInput,
  IncidentFields,
  PagerDuty,
  OncallUser,
} from './pagerduty-types.ts';
import { PagerDutyError } from './pagerduty-types.ts';

export { PagerDutyError, PAGERDUTY_ID } from './pagerduty-types.ts';
export type {
  CreateIncidentInput,
  IncidentFields,
  OncallUser,
  PagerDuty,
  PagerDutyEvents,
  PagerDutyIncident,
  TriggerInput,
} from './pagerduty-types.ts';
export { restError, transportError, type ErrorContext } from './pagerduty-wire.ts';
export { PdjsPagerDutyEvents, type PdjsEventsOptions } from './pagerduty-events.ts';

export interface PdjsOptions {
  token: string;
  /** Email of the PagerDuty user the bot acts as (the From header). */
  from: string;
  /** REST base, default https://api.pagerduty.com (https://api.eu.pagerduty.com for EU accounts). */
  apiUrl?: string;
  metrics?: Metrics;
  /** Per call, including pdjs's own retries of a 429. */
  timeoutMs?: number;
  /** pdjs waits this long between its (three) retries of a 429; default 2 s. */
  retryTimeoutMs?: number;
}

/** The REST API through pdjs: every answer's status is checked, because pdjs resolves on HTTP errors. */
export class PdjsPagerDuty implements PagerDuty {
  #token: string;
  #from: string;
  #base: string;
  #metrics: Metrics | undefined;
  #timeoutMs: number;
  #retryTimeoutMs: number;

  constructor(opts: PdjsOptions) {
    if (!opts.token) throw new ConfigError('PAGERDUTY_TOKEN is empty.');
    if (!/^[^@\s]+@[^@\s]+$/.test(opts.from)) {
      throw new ConfigError(
        `PAGERDUTY_FROM="${opts.from}" is not an email address; set it to the email of the PagerDuty user the bot acts as (PagerDuty requires it to create incidents and notes).`,
      );
    }
    const base = (opts.apiUrl ?? 'https://api.pagerduty.com').replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+(\/.*)?$/.test(base)) {
      throw new ConfigError(
        `PAGERDUTY_API_URL="${base}" is not a URL; leave it unset for api.pagerduty.com.`,
      );
    }
    this.#token = opts.token;
    this.#from = opts.from;
    this.#base = base;
    this.#metrics = opts.metrics;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#retryTimeoutMs = opts.retryTimeoutMs ?? 2000;
  }

  async #call(
    operation: string,
    request: { method: 'GET' | 'POST' | 'PUT'; path: string; data?: object; query?: Record<string, string> },
    ctx: ErrorContext,
  ): Promise<PdResponse> {
    const run = async (): Promise<PdResponse> => {
      let res: PdResponse;
      try {
        res = (await api({
          token: this.#token,
          url: `${this.#base}${request.path}`,
          method: request.method,
          headers: { From: this.#from },
          ...(request.data ? { data: request.data } : {}),
          ...(request.query ? { queryParameters: request.query } : {}),
          // pdjs's own timer never aborts anything; our signal does, and covers its 429 retries too.
          requestTimeout: 0,
          retryTimeout: this.#retryTimeoutMs,
          signal: AbortSignal.timeout(this.#timeoutMs),
        })) as unknown as PdResponse;
      } catch (err) {
        throw transportError(err, `${hostOf(this.#base)}${request.path}`);
      }
      if (!res.ok) throw restError(res, ctx);
      return res;
    };
    return this.#metrics ? this.#metrics.timed('pagerduty', operation, run) : run();
  }

  async createIncident(input: CreateIncidentInput): Promise<PagerDutyIncident> {
    const res = await this.#call(
      'create_incident',
      {
        method: 'POST',
        path: '/incidents',
        data: {
          incident: {
            type: 'incident',
            title: input.title.slice(0, 1024),
            service: { id: input.serviceId, type: 'service_reference' },
            urgency: input.urgency,
            incident_key: input.incidentKey,
            ...(input.details ? { body: { type: 'incident_body', details: input.details } } : {}),
          },
        },
      },
      {
        operation: `create an incident on service ${input.serviceId}`,
        notFound: `PagerDuty has no service ${input.serviceId}; check the service's pagerduty.serviceId in cloud-safety.yml`,
      },
    );
    return toIncident(res.data);
  }

  async getIncident(id: string): Promise<PagerDutyIncident> {
    const res = await this.#call(
      'get_incident',
      { method: 'GET', path: `/incidents/${encodeURIComponent(id)}` },
      {
        operation: `read incident ${id}`,
        notFound: `PagerDuty has no incident ${id}; copy the id from the incident's URL (…/incidents/<id>)`,
      },
    );
    return toIncident(res.data);
  }

  async oncallUsers(
    id: string,
    by: 'escalation_policy' | 'schedule' = 'escalation_policy',
  ): Promise<OncallUser[]> {
    const what = by === 'schedule' ? 'schedule' : 'escalation policy';
    const res = await this.#call(
      'list_oncalls',
      {
        method: 'GET',
        path: '/oncalls',
        query: { [`${by}_ids[]`]: id, 'include[]': 'users', limit: '100' },
      },
      {
        operation: `list who is on call for ${what} ${id}`,
        notFound: `PagerDuty has no ${what} ${id}; copy the id from its URL (…/${by === 'schedule' ? 'schedules' : 'escalation_policies'}/<id>)`,
      },
    );
    const list = (res.data as { oncalls?: unknown } | undefined)?.oncalls;
    const users = new Map<string, OncallUser>();
    for (const item of Array.isArray(list) ? list : []) {
      const user = (item as { user?: { id?: unknown; summary?: unknown; name?: unknown; email?: unknown } })
        .user;
      if (typeof user?.id !== 'string') continue;
      const name =
        typeof user.name === 'string' ? user.name : typeof user.summary === 'string' ? user.summary : user.id;
      users.set(user.id, {
        id: user.id,
        name,
        ...(typeof user.email === 'string' ? { email: user.email } : {}),
      });
    }
    return [...users.values()];
  }

  async findUserByEmail(email: string): Promise<OncallUser | null> {
    const res = await this.#call(
      'list_users',
      { method: 'GET', path: '/users', query: { query: email, limit: '25' } },
      {
        operation: `look up the PagerDuty user with email ${email}`,
        notFound: 'PAGERDUTY_API_URL does not serve /users; leave it unset for api.pagerduty.com',
      },
    );
    const list = (res.data as { users?: unknown } | undefined)?.users;
    // `query` matches names and emails by prefix: only an exact email (case aside) is this person.
    const user = (Array.isArray(list) ? list : []).find(
      (u: { email?: unknown }) =>
        typeof u?.email === 'string' && u.email.toLowerCase() === email.toLowerCase(),
    ) as { id?: unknown; name?: unknown; email: string } | undefined;
    if (!user || typeof user.id !== 'string') return null;
    return { id: user.id, name: typeof user.name === 'string' ? user.name : user.id, email: user.email };
  }

  async findByIncidentKey(incidentKey: string): Promise<PagerDutyIncident[]> {
    const res = await this.#call(
      'list_incidents',
      { method: 'GET', path: '/incidents', query: { incident_key: incidentKey, date_range: 'all' } },
      { operation: 'list incidents', notFound: 'PagerDuty has no incidents endpoint here' },
    );
    const list = (res.data as { incidents?: unknown } | undefined)?.incidents;
    return Array.isArray(list) ? list.map((item) => toIncident({ incident: item })) : [];
  }

  async addNote(incidentId: string, content: string): Promise<{ id: string }> {
    const res = await this.#call(
      'add_note',
      {
        method: 'POST',
        path: `/incidents/${encodeURIComponent(incidentId)}/notes`,
        data: { note: { content } },
      },
      {
        operation: `add a note to incident ${incidentId}`,
        notFound: `PagerDuty has no incident ${incidentId} any more (merged or deleted?); link another with /incident link <id>`,
      },
    );
    const note = (res.data as { note?: { id?: unknown } } | undefined)?.note;
    return { id: text(note?.id) ?? '' };
  }

  async resolveIncident(incidentId: string, resolution?: string): Promise<PagerDutyIncident | null> {
    try {
      const res = await this.#call(
        'resolve_incident',
        {
          method: 'PUT',
          path: `/incidents/${encodeURIComponent(incidentId)}`,
          data: {
            incident: {
              type: 'incident_reference',
              status: 'resolved',
              ...(resolution ? { resolution: resolution.slice(0, 1000) } : {}),
            },
          },
        },
        {
          operation: `resolve incident ${incidentId}`,
          notFound: `PagerDuty has no incident ${incidentId} any more (merged or deleted?)`,
        },
      );
      return toIncident(res.data);
    } catch (err) {
      // Someone resolved it in PagerDuty first: the two already agree.
      if (err instanceof PagerDutyError && err.status === 400 && /already resolved/i.test(err.message)) {
        return null;
      }
      throw err;
    }
  }

  async updateIncident(incidentId: string, fields: IncidentFields): Promise<PagerDutyIncident> {
    const res = await this.#call(
      'update_incident',
      {
        method: 'PUT',
        path: `/incidents/${encodeURIComponent(incidentId)}`,
        data: {
          incident: {
            type: 'incident_reference',
            ...(fields.urgency ? { urgency: fields.urgency } : {}),
            ...(fields.priority ? { priority: { id: fields.priority, type: 'priority_reference' } } : {}),
            ...(fields.assignee
              ? { assignments: [{ assignee: { id: fields.assignee, type: 'user_reference' } }] }
              : {}),
          },
        },
      },
      {
        operation: `update incident ${incidentId}`,
        notFound: `PagerDuty has no incident ${incidentId} any more (merged or deleted?); link another with /incident link <id>`,
      },
    );
    return toIncident(res.data);
  }
}
