// A fault-injecting HTTP proxy to put in front of any local double: latency, an answer lost after the upstream
// carried the request out (5xx or a dropped connection), refusals without forwarding, and a requests-per-second
// throttle. Tests point a client at `url` instead of the double's and script faults per request.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';

export interface FaultReply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export interface FaultRule {
  /** Which requests it applies to (default every method / every path). */
  method?: string;
  path?: RegExp;
  /** How many matching requests it applies to (default all). */
  times?: number;
  /** Wait this long before forwarding (the upstream sees the request late). */
  latencyMs?: number;
  /** Wait this long after the upstream answered before passing the answer on. */
  answerLatencyMs?: number;
  /** Answer this without forwarding: the upstream never sees the request. */
  refuse?: FaultReply;
  /**
   * Forward, let the upstream carry the request out, then replace its answer: a 5xx reply, or `drop` to destroy the
   * connection without an answer.
   */
  afterCommit?: FaultReply | 'drop';
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** What the proxy did: `forwarded`, `refused`, `throttled`, `after-commit`, `dropped-after-commit`. */
  fate: string;
  /** The upstream's status, when it was forwarded. */
  upstreamStatus?: number;
}

export interface FaultProxyOptions {
  /** The double behind the proxy, e.g. `http://127.0.0.1:4580`. */
  target: string;
  /** A token bucket over every request; beyond it the proxy answers `reply` without forwarding. */
  rateLimit?: { perSecond: number; burst?: number; reply: FaultReply };
  now?: () => number;
}

export interface FaultProxy {
  url: string;
  port: number;
  requests: ProxiedRequest[];
  /** Adds a rule; the first rule (in the order added) that matches and has uses left applies. */
  add(rule: FaultRule): void;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function bodyOf(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const now = opts.now ?? Date.now;
  const rules: { rule: FaultRule; left: number }[] = [];
  const requests: ProxiedRequest[] = [];
  const rate = opts.rateLimit;
  let tokens = rate ? (rate.burst ?? rate.perSecond) : 0;
  let refilledAt = now();

  function admit(): boolean {
    if (!rate) return true;
    const t = now();
    const burst = rate.burst ?? rate.perSecond;
    tokens = Math.min(burst, tokens + ((t - refilledAt) * rate.perSecond) / 1000);
    refilledAt = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  function ruleFor(method: string, path: string): FaultRule | undefined {
    const entry = rules.find(
      (r) =>
        r.left > 0 &&
        (!r.rule.method || r.rule.method === method) &&
        (!r.rule.path || r.rule.path.test(path)),
    );
    if (!entry) return undefined;
    entry.left -= 1;
    return entry.rule;
  }

  function forward(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (res) => {
          void bodyOf(res).then(
            (b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }),
            reject,
          );
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await bodyOf(req);
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const seen: ProxiedRequest = { method, path, fate: 'forwarded' };
      requests.push(seen);
      if (rate && !admit()) {
        seen.fate = 'throttled';
        res.writeHead(rate.reply.status, rate.reply.headers ?? {});
        res.end(rate.reply.body);
        return;
      }
      const rule = ruleFor(method, path);
      if (rule?.refuse) {
        seen.fate = 'refused';
        res.writeHead(rule.refuse.status, rule.refuse.headers ?? {});
        res.end(rule.refuse.body);
        return;
      }
      if (rule?.latencyMs) await sleep(rule.latencyMs);
      const answer = await forward(req, body);
      seen.upstreamStatus = answer.status;
      if (rule?.answerLatencyMs) await sleep(rule.answerLatencyMs);
      if (rule?.afterCommit === 'drop') {
        seen.fate = 'dropped-after-commit';
        res.socket?.destroy();
        return;
      }
      if (rule?.afterCommit) {
        seen.fate = 'after-commit';
        res.writeHead(rule.afterCommit.status, rule.afterCommit.headers ?? {});
        res.end(rule.afterCommit.body);
        return;
      }
      const headers = { ...answer.headers };
      delete headers['transfer-encoding'];
      headers['content-length'] = String(answer.body.length);
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    })().catch((err: unknown) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: ${(err as Error).message}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    add: (rule) => rules.push({ rule, left: rule.times ?? Number.POSITIVE_INFINITY }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
