// The HTTP edge of the integrations: read a bounded body, check the token or HMAC, answer JSON with a clear message.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveSecret, type Integrations } from '../../src/config.ts';

/** Alertmanager groups can be large, but a megabyte of alerts is a misconfiguration, not an incident. */
export const MAX_BODY_BYTES = 1024 * 1024;

export class HttpError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, err: HttpError): void {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (err.status === 401) headers['www-authenticate'] = 'Bearer realm="cloud-safety"';
  res.writeHead(err.status, headers);
  res.end(JSON.stringify({ error: err.message }));
}

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `The body is ${declared} bytes; at most ${limit} are accepted.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new HttpError(413, `The body is over ${limit} bytes.`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** The secrets the integrations section names, read once at start so a missing variable fails the start. */
export interface Credentials {
  token?: string;
  hmacSecret?: string;
  grafanaSignatureHeader: string;
  grafanaTimestampHeader: string;
}

export function credentials(section: Integrations, env: NodeJS.ProcessEnv): Credentials {
  return {
    ...(section.token ? { token: resolveSecret(section.token, 'integrations.token', env) } : {}),
    ...(section.hmacSecret
      ? { hmacSecret: resolveSecret(section.hmacSecret, 'integrations.hmacSecret', env) }
      : {}),
    grafanaSignatureHeader: section.grafanaSignatureHeader.toLowerCase(),
    grafanaTimestampHeader: section.grafanaTimestampHeader.toLowerCase(),
  };
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function bearerOk(req: IncomingMessage, creds: Credentials): boolean | undefined {
  const auth = header(req, 'authorization');
  if (!auth) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  return Boolean(match?.[1] && creds.token && same(match[1], creds.token));
}

/** The token in `Authorization: Bearer`, for the read-only API (it has no body to sign). */
export function checkToken(req: IncomingMessage, creds: Credentials): void {
  const ok = bearerOk(req, creds);
  if (ok === undefined) {
    throw new HttpError(
      401,
      'Missing Authorization header; send Authorization: Bearer <integrations.token>.',
    );
  }
  if (!ok) throw new HttpError(401, 'The bearer token is not the configured integrations.token.');
}

/**
 * A receiver takes the bearer token, or an HMAC-SHA256 of the body: `X-Cloud-Safety-Signature: sha256=<hex>`, or
 * Grafana's own signature header (hex; over `<timestamp>:<body>` when its timestamp header is sent).
 */
export function checkWebhookAuth(req: IncomingMessage, body: Buffer, creds: Credentials): void {
  const bearer = bearerOk(req, creds);
  if (bearer === true) return;
  const ours = header(req, 'x-cloud-safety-signature');
  const grafana = header(req, creds.grafanaSignatureHeader);
  if (creds.hmacSecret && (ours || grafana)) {
    const secret = creds.hmacSecret;
    if (ours) {
      const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      if (same(ours.trim().toLowerCase(), expected)) return;
    }
    if (grafana) {
      const ts = header(req, creds.grafanaTimestampHeader);
      const mac = createHmac('sha256', secret);
      if (ts) mac.update(`${ts}:`);
      const expected = mac.update(body).digest('hex');
      if (same(grafana.trim().toLowerCase(), expected)) return;
    }
    throw new HttpError(
      401,
      'The HMAC signature does not match the body signed with integrations.hmacSecret.',
    );
  }
  if (bearer === false)
    throw new HttpError(401, 'The bearer token is not the configured integrations.token.');
  throw new HttpError(
    401,
    'Missing credentials; send Authorization: Bearer <integrations.token> (or sign the body with integrations.hmacSecret).',
  );
}

/** The JSON of a request body, or a 400 that says where it broke. */
export function parseJsonBody(req: IncomingMessage, body: Buffer): unknown {
  const type = header(req, 'content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, `Content-Type is "${type}"; send application/json.`);
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `The body is not valid JSON: ${(err as Error).message}`);
  }
}
