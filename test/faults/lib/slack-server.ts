// A local Slack for fault tests: the Web API methods the bot calls and response_url, with rate-limit storms on demand.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ResponseUrlLedger, TierLimits, type TierOptions } from './slack-limits.ts';

export interface SlackCall {
  method: string;
  /** Form or JSON body, with `blocks` parsed back to JSON. */
  body: Record<string, unknown>;
  /** 200, or 429 when the storm answered it. */
  status: number;
  at: number;
}

export interface SlackReply {
  /** The path id after /respond/ (one per command or click). */
  id: string;
  /** 200, or 404 when Slack no longer took the url (`error`), or 429 in a storm. */
  status: number;
  error?: string;
  body: { text?: string; response_type?: string; replace_original?: boolean; blocks?: unknown };
}

export interface Posted {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  thread_ts?: string;
}

export interface LocalSlack {
  url: string;
  /** SLACK_API_URL for the bot. */
  apiUrl: string;
  server: Server;
  calls: SlackCall[];
  replies: SlackReply[];
  /** Messages as Slack holds them now (posts with every later chat.update applied), by ts. */
  messages: Map<string, Posted>;
  /** A fresh response_url; its replies land in `replies` under `id`. */
  responseUrl(id: string): string;
  repliesTo(id: string): SlackReply[];
  /**
   * Every Web API call (auth.test included), or only those of `methods`, answers HTTP 429 with Retry-After until
   * `stop()` or `ms` elapsed; response_url is a separate Slack endpoint and keeps answering unless `responses` is set.
   */
  rateLimit(opts: { retryAfterSec: number; ms?: number; responses?: boolean; methods?: string[] }): {
    stop(): void;
  };
  /** Calls that are not auth.test (the fuzz suite asserts there are none). */
  writes(): SlackCall[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let raw = '';
  for await (const chunk of req) raw += String(chunk);
  if (raw === '') return {};
  const type = String(req.headers['content-type'] ?? '');
  const body: Record<string, unknown> = type.includes('json')
    ? (JSON.parse(raw) as Record<string, unknown>)
    : Object.fromEntries(new URLSearchParams(raw));
  for (const key of ['blocks', 'attachments']) {
    if (typeof body[key] === 'string') body[key] = JSON.parse(body[key] as string);
  }
  return body;
}

export interface LocalSlackOptions {
  channel?: string;
  /** Enforce Slack's per-method tiers (off by default: replicas share one Slack and older tests burst freely). */
  tiers?: TierOptions;
  /** The clock response_url's thirty minutes run on (the bot's injected clock in flow tests). */
  now?: () => number;
}

export async function startLocalSlack(opts: LocalSlackOptions = {}): Promise<LocalSlack> {
  const calls: SlackCall[] = [];
  const replies: SlackReply[] = [];
  const messages = new Map<string, Posted>();
  const tiers = opts.tiers ? new TierLimits(opts.tiers) : undefined;
  const urls = new ResponseUrlLedger(opts.now ?? Date.now);
  let seq = 100;
  let storm: { until: number; retryAfterSec: number; responses: boolean; methods?: string[] } | undefined;

  function stormy(isResponse: boolean, method?: string): number | undefined {
    if (!storm || Date.now() >= storm.until) return undefined;
    if (isResponse && !storm.responses) return undefined;
    if (!isResponse && storm.methods && !storm.methods.includes(method ?? '')) return undefined;
    return storm.retryAfterSec;
  }

  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const body = await readBody(req);
      const json = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
      };
      if (path.startsWith('/respond/')) {
        const id = path.slice('/respond/'.length);
        const retryAfter = stormy(true);
        if (retryAfter !== undefined)
          return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) });
        const refused = urls.use(id);
        if (refused) {
          replies.push({ id, status: 404, error: refused, body: body as SlackReply['body'] });
          res.writeHead(404, { 'content-type': 'text/plain' });
          return res.end(refused);
        }
        replies.push({ id, status: 200, body: body as SlackReply['body'] });
        return json(200, { ok: true });
      }
      const method = path.replace(/^\/api\//, '');
      const retryAfter =
        stormy(false, method) ?? tiers?.admit(method, String(body.channel ?? opts.channel ?? 'C0FAULTS'));
      if (retryAfter !== undefined) {
        calls.push({ method, body, status: 429, at: Date.now() });
        // Slack's answer to a rate-limited Web API call: HTTP 429, Retry-After in seconds.
        return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) });
      }
      calls.push({ method, body, status: 200, at: Date.now() });
      const channel = String(body.channel ?? opts.channel ?? 'C0FAULTS');
      switch (method) {
        case 'auth.test':
          return json(200, {
            ok: true,
            url: 'https://acme.slack.com/',
            team: 'Acme',
            user: 'cloud-safety',
            team_id: 'T0TEAM',
            user_id: 'U0BOT',
            bot_id: 'B0BOT',
            is_enterprise_install: false,
          });
        case 'chat.postMessage': {
          seq += 1;
          const ts = `1764150000.000${seq}`;
          messages.set(ts, {
            channel,
            ts,
            text: String(body.text ?? ''),
            blocks: (body.blocks as unknown[] | undefined) ?? [],
            ...(body.thread_ts ? { thread_ts: String(body.thread_ts) } : {}),
          });
          return json(200, { ok: true, channel, ts, message: { ts, text: body.text } });
        }
        case 'chat.update': {
          const ts = String(body.ts ?? '');
          const existing = messages.get(ts);
          if (!existing) return json(200, { ok: false, error: 'message_not_found' });
          messages.set(ts, {
            ...existing,
            text: String(body.text ?? ''),
            blocks: (body.blocks as unknown[] | undefined) ?? [],
          });
          return json(200, { ok: true, channel, ts, text: body.text });
        }
        case 'pins.add':
        case 'chat.postEphemeral':
        case 'conversations.join':
          return json(200, { ok: true, channel });
        case 'chat.getPermalink':
          return json(200, {
            ok: true,
            channel,
            permalink: `https://acme.slack.com/archives/${channel}/p${String(body.message_ts ?? '').replace('.', '')}`,
          });
        case 'usergroups.list':
          return json(200, { ok: true, usergroups: [] });
        default:
          return json(200, { ok: false, error: 'unknown_method' });
      }
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    apiUrl: `${url}/api/`,
    server,
    calls,
    replies,
    messages,
    responseUrl: (id) => {
      urls.issue(id);
      return `${url}/respond/${id}`;
    },
    repliesTo: (id) => replies.filter((r) => r.id === id && r.status === 200),
    rateLimit({ retryAfterSec, ms, responses = false, methods }) {
      storm = {
        until: ms === undefined ? Infinity : Date.now() + ms,
        retryAfterSec,
        responses,
        ...(methods ? { methods } : {}),
      };
      return {
        stop: () => {
          storm = undefined;
        },
      };
    },
    writes: () => calls.filter((c) => c.method !== 'auth.test'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The value the Approve button on message `ts` carries now: the request id and its keyed change hash. */
export function approveValueOn(slack: LocalSlack, ts: string): string {
  const blocks = JSON.stringify(slack.messages.get(ts)?.blocks ?? []);
  const value = /"action_id":"approval\.approve","value":"(act-[0-9a-f]{8}\.[0-9a-f]{32})"/.exec(blocks)?.[1];
  if (!value) throw new Error(`message ${ts} shows no Approve button`);
  return value;
}
