// JSON over HTTPS for the SaaS integrations (GitHub, Jira, Linear, Confluence, Notion): one error mapping for all.
import { ExternalServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';

export interface SaasRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  /** What the bot was doing, for the message: "create a GitHub issue in acme/payments". */
  doing: string;
  /** What a 401/403 means for this service and which scope to grant. */
  authHint: string;
  /** What a 404 means here (a wrong project key, repo, page id...). */
  notFoundHint?: string;
}

export interface SaasClientOptions {
  service: string;
  metrics?: Metrics | undefined;
  timeoutMs?: number;
}

function said(body: unknown): string {
  if (!body || typeof body !== 'object') return typeof body === 'string' ? body.slice(0, 300) : '';
  const b = body as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof b.message === 'string') parts.push(b.message);
  if (Array.isArray(b.errorMessages)) parts.push(...b.errorMessages.filter((m) => typeof m === 'string'));
  if (b.errors && typeof b.errors === 'object' && !Array.isArray(b.errors)) {
    for (const [k, v] of Object.entries(b.errors)) if (typeof v === 'string') parts.push(`${k}: ${v}`);
  }
  if (Array.isArray(b.errors)) {
    for (const e of b.errors) {
      const m = (e as { message?: unknown }).message;
      if (typeof m === 'string') parts.push(m);
    }
  }
  return parts.join('; ').slice(0, 500);
}

/** Calls one endpoint; answers the parsed JSON, or throws an ExternalServiceError that says whose fault it is. */
export async function saasJson<T>(opts: SaasClientOptions, req: SaasRequest): Promise<T> {
  const run = async (): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(req.url, {
        method: req.method,
        headers: {
          accept: 'application/json',
          ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...req.headers,
        },
        ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 20_000),
      });
    } catch (err) {
      const e = err as Error;
      const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
      throw new ExternalServiceError(
        opts.service,
        `Could not reach ${opts.service} to ${req.doing} (${e.name === 'TimeoutError' ? 'no answer in time' : `${e.message}${cause}`}); the bot retries.`,
        { retryable: true, cause: err },
      );
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // keep the text for the message
    }
    if (res.ok) return body as T;
    const detail = said(body);
    const suffix = detail ? `: ${detail}` : '';
    if (res.status === 401 || res.status === 403) {
      throw new ExternalServiceError(
        opts.service,
        `${opts.service} refused to ${req.doing} (HTTP ${res.status}${suffix}); ${req.authHint}.`,
        { status: res.status },
      );
    }
    if (res.status === 404) {
      throw new ExternalServiceError(
        opts.service,
        `${opts.service} found nothing to ${req.doing} (HTTP 404${suffix})${req.notFoundHint ? `; ${req.notFoundHint}` : ''}.`,
        { status: 404 },
      );
    }
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
    throw new ExternalServiceError(
      opts.service,
      `${opts.service} could not ${req.doing} (HTTP ${res.status}${suffix})${retryable ? '; the bot retries' : ''}.`,
      { status: res.status, retryable },
    );
  };
  return opts.metrics
    ? opts.metrics.timed(opts.service.toLowerCase(), req.doing.split(' ')[0] ?? 'call', run)
    : run();
}

/** Base URL without a trailing slash. */
export function base(url: string): string {
  return url.replace(/\/+$/, '');
}
