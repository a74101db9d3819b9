// PagerDuty over @pagerduty/pdjs: REST incidents and notes (token + From) and Events API v2 triggers, in our own types.
import { api, event } from '@pagerduty/pdjs';
import { ConfigError, ExternalServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';

/** A PagerDuty incident as the bot needs it. */
export interface PagerDutyIncident {
  id: string;
  number?: number;
  url?: string;
  title: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  serviceId?: string;
  serviceName?: string;
  urgency?: string;
}

export interface CreateIncidentInput {
  serviceId: string;
  title: string;
  urgency: 'high' | 'low';
  /** De-duplication key: PagerDuty refuses a second open incident with the same key on the service. */
  incidentKey: string;
  details?: string;
}

/** The REST API (needs PAGERDUTY_TOKEN and PAGERDUTY_FROM). */
export interface PagerDuty {
  createIncident(input: CreateIncidentInput): Promise<PagerDutyIncident>;
  getIncident(id: string): Promise<PagerDutyIncident>;
  /** Open or resolved incidents created with this incident key (any age); empty when there is none. */
  findByIncidentKey(incidentKey: string): Promise<PagerDutyIncident[]>;
  addNote(incidentId: string, content: string): Promise<{ id: string }>;
  /** Resolves; an incident that is already resolved counts as done. */
  resolveIncident(incidentId: string, resolution?: string): Promise<PagerDutyIncident | null>;
  /** Who is on call now, at any level, for an escalation policy (GET /oncalls). */
  oncallUsers?(escalationPolicyId: string): Promise<OncallUser[]>;
}

/** A PagerDuty user on call now. */
export interface OncallUser {
  id: string;
  name: string;
  email?: string;
}

export interface TriggerInput {
  routingKey: string;
  summary: string;
  source: string;
  severity: 'critical' | 'error' | 'warning' | 'info';
  dedupKey?: string;
  component?: string;
  group?: string;
  class?: string;
  customDetails?: Record<string, unknown>;
  links?: { href: string; text?: string }[];
}

/** Events API v2 (needs only a service integration's routing key). */
export interface PagerDutyEvents {
  trigger(input: TriggerInput): Promise<{ dedupKey: string }>;
}

/** A PagerDuty failure with what the caller needs to decide: retry (and when) or tell a human. */
export class PagerDutyError extends ExternalServiceError {
  /** PagerDuty's own error code (2006 authentication failed, 2100 not found, 2020 rate limit...). */
  pagerdutyCode: number | undefined;
  /** From ratelimit-reset on a 429. */
  retryAfterMs: number | undefined;
  constructor(
    message: string,
    opts: { status?: number; retryable?: boolean; pagerdutyCode?: number; retryAfterMs?: number } = {},
  ) {
    super('PagerDuty', message, opts);
    this.name = 'PagerDutyError';
    this.pagerdutyCode = opts.pagerdutyCode;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** PagerDuty object ids: PT4KHLK, Q2ZJT9XQ7OQ3WB... */
export const PAGERDUTY_ID = /^[A-Z0-9]{5,20}$/;

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

interface PdReference {
  id?: unknown;
  summary?: unknown;
}

interface PdIncidentBody {
  id?: unknown;
  incident_number?: unknown;
  html_url?: unknown;
  title?: unknown;
  status?: unknown;
  urgency?: unknown;
  service?: PdReference;
}

interface PdErrorBody {
  error?: { message?: unknown; code?: unknown; errors?: unknown };
}

/** What a pdjs call came back with: a Response-like with status, headers and parsed data. */
interface PdResponse {
  status: number;
  ok: boolean;
  headers?: { get(name: string): string | null };
  data?: unknown;
}

function isResponse(value: unknown): value is PdResponse {
  return typeof value === 'object' && value !== null && typeof (value as PdResponse).status === 'number';
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function toIncident(body: unknown): PagerDutyIncident {
  const raw = (body as { incident?: PdIncidentBody } | undefined)?.incident ?? (body as PdIncidentBody);
  const id = text(raw?.id);
  if (!id) throw new PagerDutyError('PagerDuty answered without an incident id; nothing was linked.');
  const status = raw.status === 'acknowledged' || raw.status === 'resolved' ? raw.status : 'triggered';
  const number = typeof raw.incident_number === 'number' ? raw.incident_number : undefined;
  const url = text(raw.html_url);
  const serviceId = text(raw.service?.id);
  const serviceName = text(raw.service?.summary);
  const urgency = text(raw.urgency);
  return {
    id,
    title: text(raw.title) ?? '',
    status,
    ...(number !== undefined ? { number } : {}),
    ...(url ? { url } : {}),
    ...(serviceId ? { serviceId } : {}),
    ...(serviceName ? { serviceName } : {}),
    ...(urgency ? { urgency } : {}),
  };
}

/** PagerDuty's own words from an error body: "Invalid Input Provided: Service not found". */
function detailOf(data: unknown): { message: string; code: number | undefined; errors: string[] } {
  const error = (data as PdErrorBody | undefined)?.error;
  const errors = Array.isArray(error?.errors) ? error.errors.filter((e) => typeof e === 'string') : [];
  return {
    message: text(error?.message) ?? '',
    code: typeof error?.code === 'number' ? error.code : undefined,
    errors,
  };
}

export interface ErrorContext {
  /** "create an incident", "add a note to PT4KHLK"... */
  operation: string;
  /** What a 404 means for this call. */
  notFound: string;
}

/** Turns a non-2xx answer into a message that says what to fix; the token never appears in it. */
export function restError(res: PdResponse, ctx: ErrorContext): PagerDutyError {
  const { status } = res;
  const { message, code, errors } = detailOf(res.data);
  const said = [message, ...errors].filter(Boolean).join(': ');
  const pd = code !== undefined ? { pagerdutyCode: code } : {};
  if (status === 401) {
    return new PagerDutyError(
      `PagerDuty rejected PAGERDUTY_TOKEN (401${said ? ` ${said}` : ''}): the key is wrong, revoked, or for another region (EU accounts need PAGERDUTY_API_URL=https://api.eu.pagerduty.com). Create a REST API key under Integrations > API Access Keys and restart with it.`,
      { status, ...pd },
    );
  }
  if (status === 403) {
    return new PagerDutyError(
      `PAGERDUTY_TOKEN may not ${ctx.operation} (403${said ? ` ${said}` : ''}): use a full-access API key, not a read-only one, or give the bot's user access to the service.`,
      { status, ...pd },
    );
  }
  if (status === 404) {
    return new PagerDutyError(`${ctx.notFound} (PagerDuty answered 404${said ? ` ${said}` : ''}).`, {
      status,
      ...pd,
    });
  }
  if (status === 429) {
    const reset = Number(res.headers?.get('ratelimit-reset'));
    const retryAfterMs = Number.isFinite(reset) && reset > 0 ? reset * 1000 : undefined;
    return new PagerDutyError(
      `PagerDuty is rate limiting the bot (429${said ? ` ${said}` : ''}); it retries${retryAfterMs ? ` in ${reset}s` : ' with backoff'}. Another tool sharing this API key may be using up its 960 requests a minute.`,
      { status, retryable: true, ...pd, ...(retryAfterMs ? { retryAfterMs } : {}) },
    );
  }
  if (status >= 500 || status === 408) {
    return new PagerDutyError(
      `PagerDuty is failing (HTTP ${status}${said ? ` ${said}` : ''}); the bot retries with backoff. Check https://status.pagerduty.com.`,
      { status, retryable: true, ...pd },
    );
  }
  const hints: string[] = [];
  if (/\bfrom\b|requester|user not found/i.test(said)) {
    hints.push('PAGERDUTY_FROM must be the email of a PagerDuty user on this account');
  }
  if (/service/i.test(said)) hints.push("check the service's pagerduty.serviceId in cloud-safety.yml");
  return new PagerDutyError(
    `PagerDuty refused to ${ctx.operation} (HTTP ${status}${said ? `: ${said}` : ''})${hints.length > 0 ? `; ${hints.join('; ')}` : ''}.`,
    { status, ...pd },
  );
}

/** A failure before any HTTP answer: network, timeout, or a body that is not JSON. */
export function transportError(err: unknown, where: string): PagerDutyError {
  if (isResponse(err)) {
    // pdjs rejects with the Response itself when the body is not JSON (an HTML error page, say).
    return restError(
      { status: err.status, ok: false, headers: err.headers ?? { get: () => null } },
      { operation: 'answer', notFound: `PagerDuty answered 404 at ${where}` },
    );
  }
  const e = err as { name?: string; type?: string; code?: string; message?: string };
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || e.type === 'aborted') {
    return new PagerDutyError(`PagerDuty did not answer in time (${where}); the bot retries.`, {
      retryable: true,
    });
  }
  if (e.type === 'invalid-json') {
    return new PagerDutyError(
      `PagerDuty answered without a JSON body (${where}), which it does when rate limiting (429) or failing; the bot retries.`,
      { retryable: true },
    );
  }
  return new PagerDutyError(
    `Could not reach PagerDuty at ${where} (${e.code ?? e.name ?? 'error'}${e.message ? `: ${e.message.split('\n')[0]}` : ''}); the bot retries.`,
    { retryable: true },
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
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

  async oncallUsers(escalationPolicyId: string): Promise<OncallUser[]> {
    const res = await this.#call(
      'list_oncalls',
      {
        method: 'GET',
        path: '/oncalls',
        query: { 'escalation_policy_ids[]': escalationPolicyId, 'include[]': 'users', limit: '100' },
      },
      {
        operation: `list who is on call for escalation policy ${escalationPolicyId}`,
        notFound: `PagerDuty has no escalation policy ${escalationPolicyId}; copy the id from its URL (…/escalation_policies/<id>)`,
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
}

export interface PdjsEventsOptions {
  /** Default https://events.pagerduty.com (https://events.eu.pagerduty.com for EU accounts). */
  eventsUrl?: string;
  metrics?: Metrics;
  timeoutMs?: number;
  retryTimeoutMs?: number;
}

/** Events API v2 through pdjs: a trigger with a routing key, no REST token involved. */
export class PdjsPagerDutyEvents implements PagerDutyEvents {
  #server: string;
  #metrics: Metrics | undefined;
  #timeoutMs: number;
  #retryTimeoutMs: number;

  constructor(opts: PdjsEventsOptions = {}) {
    const url = opts.eventsUrl ?? 'https://events.pagerduty.com';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(
        `PAGERDUTY_EVENTS_URL="${url}" is not a URL, e.g. https://events.eu.pagerduty.com`,
      );
    }
    // pdjs always posts to https://<server>/v2/enqueue, so only the host can change.
    if (parsed.protocol !== 'https:' || (parsed.pathname !== '/' && parsed.pathname !== '')) {
      throw new ConfigError(
        `PAGERDUTY_EVENTS_URL="${url}" must be https://<host> with no path, e.g. https://events.eu.pagerduty.com`,
      );
    }
    this.#server = parsed.host;
    this.#metrics = opts.metrics;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#retryTimeoutMs = opts.retryTimeoutMs ?? 2000;
  }

  async trigger(input: TriggerInput): Promise<{ dedupKey: string }> {
    const where = `${this.#server}/v2/enqueue`;
    const run = async () => {
      let res: PdResponse;
      try {
        res = (await event({
          server: this.#server,
          data: {
            routing_key: input.routingKey,
            event_action: 'trigger',
            ...(input.dedupKey ? { dedup_key: input.dedupKey } : {}),
            payload: {
              summary: input.summary.slice(0, 1024),
              source: input.source,
              severity: input.severity,
              timestamp: new Date().toISOString(),
              ...(input.component ? { component: input.component } : {}),
              ...(input.group ? { group: input.group } : {}),
              ...(input.class ? { class: input.class } : {}),
              ...(input.customDetails ? { custom_details: input.customDetails } : {}),
            },
            ...(input.links ? { links: input.links } : {}),
          },
          requestTimeout: 0,
          retryTimeout: this.#retryTimeoutMs,
          signal: AbortSignal.timeout(this.#timeoutMs),
        } as Parameters<typeof event>[0])) as unknown as PdResponse;
      } catch (err) {
        throw transportError(err, where);
      }
      const body = res.data as { status?: unknown; message?: unknown; errors?: unknown; dedup_key?: unknown };
      if (res.status === 202 || res.ok) {
        const dedupKey = text(body?.dedup_key) ?? input.dedupKey ?? '';
        return { dedupKey };
      }
      const errors = Array.isArray(body?.errors) ? body.errors.filter((e) => typeof e === 'string') : [];
      const said = [text(body?.message), ...errors].filter(Boolean).join(': ');
      if (res.status === 429) {
        throw new PagerDutyError(
          `PagerDuty Events API is rate limiting this routing key (429${said ? ` ${said}` : ''}); it takes about 120 events a minute per key. The bot retries.`,
          { status: 429, retryable: true },
        );
      }
      if (res.status >= 500) {
        throw new PagerDutyError(
          `PagerDuty Events API is failing (HTTP ${res.status}${said ? ` ${said}` : ''}); the bot retries.`,
          { status: res.status, retryable: true },
        );
      }
      const keyHint = /routing.?key|integration/i.test(said)
        ? "; check the service's pagerduty.routingKey (the Integration Key of an Events API v2 integration)"
        : '';
      throw new PagerDutyError(
        `PagerDuty Events API refused the trigger (HTTP ${res.status}${said ? `: ${said}` : ''})${keyHint}.`,
        { status: res.status },
      );
    };
    return this.#metrics ? this.#metrics.timed('pagerduty', 'events_trigger', run) : run();
  }
}
