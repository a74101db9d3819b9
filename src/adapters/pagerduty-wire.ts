// PagerDuty's wire format as pdjs returns it: answers read into our incidents, and failures into PagerDutyErrors.
import type { PagerDutyIncident } from './pagerduty-types.ts';
import { PagerDutyError } from './pagerduty-types.ts';

export interface PdReference {
  id?: unknown;
  summary?: unknown;
}

export interface PdIncidentBody {
  id?: unknown;
  incident_number?: unknown;
  html_url?: unknown;
  title?: unknown;
  status?: unknown;
  urgency?: unknown;
  service?: PdReference;
}

export interface PdErrorBody {
  error?: { message?: unknown; code?: unknown; errors?: unknown };
}

/** What a pdjs call came back with: a Response-like with status, headers and parsed data. */
export interface PdResponse {
  status: number;
  ok: boolean;
  headers?: { get(name: string): string | null };
  data?: unknown;
}

export function isResponse(value: unknown): value is PdResponse {
  return typeof value === 'object' && value !== null && typeof (value as PdResponse).status === 'number';
}

export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function toIncident(body: unknown): PagerDutyIncident {
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
export function detailOf(data: unknown): { message: string; code: number | undefined; errors: string[] } {
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
  // POST /incidents with the incident_key of an open incident: 400, code 2002 "Arguments Caused Error", errors
  // ["Open incident with matching dedup key already exists on this service"]. Not a configuration problem: the
  // incident the caller wanted exists, so it is looked up, never reported as "check the serviceId".
  if (status === 400 && /matching dedup key already exists|open incident with .*incident.?key/i.test(said)) {
    return new PagerDutyError(
      `PagerDuty already has an open incident with this incident key (HTTP 400${code !== undefined ? `, code ${code}` : ''}: ${said}); the bot links that incident instead of creating another.`,
      { status, ...pd, retryable: true, duplicateKey: true },
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

export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
