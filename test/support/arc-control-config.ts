// A local Route 53 ARC control-config API: REST-JSON GET /controlpanel/{ControlPanelArn}/safetyrules answering the
// cluster double's safety rules, paginated, checking each request's SigV4 signature as AWS does (its own verifier,
// not the bot's signer), and able to deny (IAM), throttle, or drop connections.
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ArcControlConfig } from '../../src/adapters/arc-control-config.ts';
import { createMetrics } from '../../src/metrics.ts';
import { ACCOUNT, PANEL, ruleConfigOf, type ArcCluster, type SafetyRule } from './arc-cluster.ts';
import { CREDENTIALS } from './aws.ts';

export type ControlConfigMode = 'up' | 'denied' | 'reset';

export interface ControlConfigApi {
  endpoint: string;
  mode: ControlConfigMode;
  /** The next N requests answer 429 ThrottlingException. */
  throttleNext: number;
  /** Rules per page at most, whatever MaxResults asks (AWS may return fewer than asked). */
  pageSize: number;
  requests: { path: string; query: Record<string, string>; status: number }[];
  stop(): Promise<void>;
}

const hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
/** RFC 3986 escaping, as SigV4 wants it. */
const escape = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Why the request's signature is not what AWS would compute, or undefined when it matches. */
function signatureProblem(req: IncomingMessage, rawPath: string, query: URLSearchParams): string | undefined {
  const auth = String(req.headers.authorization ?? '');
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return 'MissingAuthenticationTokenException';
  const [, key, date, region, service, signedHeaders, signature] = m as unknown as string[];
  if (key !== CREDENTIALS.accessKeyId) return 'UnrecognizedClientException';
  if (region !== 'us-west-2' || service !== 'route53-recovery-control-config')
    return 'InvalidSignatureException';
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date ?? '-')) return 'InvalidSignatureException';
  // Non-S3 services: each path segment (as sent, escaped once) is escaped again in the canonical request.
  const canonicalPath = rawPath
    .split('/')
    .map((seg) => escape(seg))
    .join('/');
  const canonicalQuery = [...query.entries()]
    .map(([k, v]) => [escape(k), escape(v)])
    .sort(([a, x], [b, y]) => (a === b ? (x ?? '').localeCompare(y ?? '') : (a ?? '').localeCompare(b ?? '')))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = (signedHeaders ?? '').split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return 'InvalidSignatureException';
  const headers = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim()}\n`).join('');
  const canonical = ['GET', canonicalPath, canonicalQuery, headers, signedHeaders, hex('')].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, hex(canonical)].join('\n');
  let k = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, date ?? '');
  for (const part of [region ?? '', service ?? '', 'aws4_request']) k = hmac(k, part);
  return hmac(k, toSign).toString('hex') === signature ? undefined : 'InvalidSignatureException';
}

function wireRule(rule: SafetyRule) {
  const config = ruleConfigOf(rule);
  const common = {
    ControlPanelArn: PANEL,
    Name: rule.name,
    Owner: ACCOUNT,
    RuleConfig: { Type: config.type, Threshold: config.threshold, Inverted: config.inverted },
    SafetyRuleArn: rule.arn,
    Status: rule.status ?? 'DEPLOYED',
    WaitPeriodMs: 5000,
  };
  return rule.kind === 'assertion'
    ? { ASSERTION: { ...common, AssertedControls: rule.asserted } }
    : { GATING: { ...common, GatingControls: rule.gating, TargetControls: rule.targets } };
}

function answer(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-requestid': `req-${Math.random().toString(16).slice(2, 10)}`,
    ...(errorType
      ? {
          'x-amzn-errortype': `${errorType}:http://internal.amazon.com/coral/com.amazonaws.route53recoverycontrolconfig/`,
        }
      : {}),
  });
  res.end(JSON.stringify(body));
}

export async function startControlConfig(cluster: ArcCluster): Promise<ControlConfigApi> {
  const api: ControlConfigApi = {
    endpoint: '',
    mode: 'up',
    throttleNext: 0,
    pageSize: 2,
    requests: [],
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    const query = Object.fromEntries(url.searchParams);
    const reply = (status: number, body: unknown, errorType?: string) => {
      api.requests.push({ path: rawPath, query, status });
      answer(res, status, body, errorType);
    };
    // The API is in us-west-2: a round trip away, never synchronous.
    setTimeout(() => {
      if (api.mode === 'reset') {
        req.socket.destroy();
        return;
      }
      const problem = signatureProblem(req, rawPath, url.searchParams);
      if (problem) {
        const message =
          problem === 'UnrecognizedClientException'
            ? 'The security token included in the request is invalid.'
            : problem === 'MissingAuthenticationTokenException'
              ? 'Missing Authentication Token'
              : 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
        reply(403, { message }, problem);
        return;
      }
      if (api.throttleNext > 0) {
        api.throttleNext -= 1;
        reply(429, { message: 'Rate exceeded' }, 'ThrottlingException');
        return;
      }
      const m = /^\/controlpanel\/([^/]+)\/safetyrules$/.exec(rawPath);
      if (req.method !== 'GET' || !m) {
        reply(404, { message: `No route for ${req.method} ${rawPath}` }, 'ResourceNotFoundException');
        return;
      }
      const panel = decodeURIComponent(m[1] ?? '');
      if (api.mode === 'denied') {
        reply(
          403,
          {
            message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/cloud-safety/bot is not authorized to perform: route53-recovery-control-config:ListSafetyRules on resource: ${panel}`,
          },
          'AccessDeniedException',
        );
        return;
      }
      if (panel !== PANEL) {
        reply(404, { message: `Control panel ${panel} not found` }, 'ResourceNotFoundException');
        return;
      }
      const max = Number(url.searchParams.get('MaxResults') ?? 100);
      if (!Number.isInteger(max) || max < 1 || max > 1000) {
        reply(400, { message: 'MaxResults must be between 1 and 1000' }, 'ValidationException');
        return;
      }
      const start = Number(url.searchParams.get('NextToken') ?? 0);
      const size = Math.min(max, api.pageSize);
      const page = cluster.rules.slice(start, start + size);
      reply(200, {
        SafetyRules: page.map(wireRule),
        ...(start + size < cluster.rules.length ? { NextToken: String(start + size) } : {}),
      });
    }, 5);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  api.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}

/** The bot's client on this API, with the test credentials and no real waiting between throttled tries. */
export function controlConfigClient(api: { endpoint: string }, credentials = CREDENTIALS) {
  return new ArcControlConfig({
    endpoint: api.endpoint,
    credentials,
    metrics: createMetrics({ defaults: false }),
    timeoutMs: 2000,
    sleep: () => Promise.resolve(),
  });
}
