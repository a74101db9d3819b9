// HTTP plumbing the simulated PagerDuty APIs share: JSON bodies in and out, per-minute token buckets.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';

export function bucket(perMinute: number, now: () => number) {
  let tokens = perMinute;
  let at = now();
  return {
    take(): boolean {
      const t = now();
      tokens = Math.min(perMinute, tokens + ((t - at) * perMinute) / 60_000);
      at = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    remaining: () => Math.floor(tokens),
    resetSeconds: () => Math.max(1, Math.ceil(((1 - tokens) * 60) / perMinute)),
  };
}

export async function json(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'x-request-id': randomBytes(8).toString('hex'),
    ...headers,
  });
  res.end(JSON.stringify(body));
}
