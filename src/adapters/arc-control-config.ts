// Route 53 ARC's control-config API (REST-JSON, served from us-west-2): the safety rules of a control panel.
// Its SDK client exists only at 3.332.0, pinned to its own 2023 SDK core (a second client-sts, credential chain and
// smithy client beside ours), so this one read is signed here with the installed SigV4 signer instead.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { ExternalServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { realSleep, type Sleep } from './aws-retry.ts';

export const CONTROL_CONFIG = 'Route 53 ARC control-config API';
/** The API has one Regional home; its calls are signed for that region. */
export const CONTROL_CONFIG_ENDPOINT = 'https://route53-recovery-control-config.us-west-2.amazonaws.com';
const SIGNING = { region: 'us-west-2', service: 'route53-recovery-control-config' };

/** The IAM action of each call made here (deploy/aws/iam-policy.json grants exactly these). */
const LIST_SAFETY_RULES = {
  operation: 'ListSafetyRules',
  iamAction: 'route53-recovery-control-config:ListSafetyRules',
};

/** One safety rule of a control panel, as ListSafetyRules describes it. */
export interface PanelSafetyRule {
  arn: string;
  name: string;
  kind: 'assertion' | 'gating';
  /** RuleConfig: ATLEAST (Threshold of the controls On), AND (all On), OR (at least one On). */
  type: string;
  threshold: number;
  inverted: boolean;
  /** Assertion rules: the controls whose states after a change must satisfy the rule. */
  asserted: string[];
  /** Gating rules: the controls that must satisfy the rule for the target controls to change. */
  gating: string[];
  targets: string[];
  /** PENDING, DEPLOYED or PENDING_DELETION. */
  status: string;
}

/** What /preflight needs from the control-config API. */
export interface ControlConfigPort {
  listSafetyRules(controlPanelArn: string): Promise<PanelSafetyRule[]>;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** SHA-256 and HMAC-SHA-256 in the shape the signer takes (a Checksum constructor). */
class Sha256 {
  #secret: string | Uint8Array | undefined;
  #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#secret =
      secret === undefined || typeof secret === 'string'
        ? secret
        : ArrayBuffer.isView(secret)
          ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
          : new Uint8Array(secret);
    this.#hash = this.#fresh();
  }
  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
  }
  update(data: string | Uint8Array): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    this.#hash = this.#fresh();
  }
}

interface WireRule {
  SafetyRuleArn?: string;
  Name?: string;
  RuleConfig?: { Type?: string; Threshold?: number; Inverted?: boolean };
  AssertedControls?: string[];
  GatingControls?: string[];
  TargetControls?: string[];
  Status?: string;
}

function ruleOf(item: { ASSERTION?: WireRule; GATING?: WireRule }): PanelSafetyRule | undefined {
  const kind = item.ASSERTION ? 'assertion' : item.GATING ? 'gating' : undefined;
  const r = item.ASSERTION ?? item.GATING;
  if (!kind || !r?.SafetyRuleArn) return undefined;
  return {
    arn: r.SafetyRuleArn,
    name: r.Name ?? r.SafetyRuleArn.split('/').pop() ?? r.SafetyRuleArn,
    kind,
    type: r.RuleConfig?.Type ?? '?',
    threshold: r.RuleConfig?.Threshold ?? 0,
    inverted: r.RuleConfig?.Inverted ?? false,
    asserted: r.AssertedControls ?? [],
    gating: r.GatingControls ?? [],
    targets: r.TargetControls ?? [],
    status: r.Status ?? '?',
  };
}

/** Codes that mean the credentials themselves were not accepted (not a missing permission). */
const BAD_CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'MissingAuthenticationTokenException',
  'IncompleteSignature',
]);

export interface ArcControlConfigOptions {
  /** Default: the us-west-2 endpoint. AWS_ENDPOINT_URL_ROUTE53_RECOVERY_CONTROL_CONFIG points it elsewhere. */
  endpoint?: string;
  /** Static keys, or the SDK's default credential chain when left out. */
  credentials?: AwsCredentials;
  metrics: Metrics;
  timeoutMs?: number;
  sleep?: Sleep;
}

export class ArcControlConfig implements ControlConfigPort {
  #endpoint: URL;
  #signer: SignatureV4;
  #metrics: Metrics;
  #timeoutMs: number;
  #sleep: Sleep;

  constructor(opts: ArcControlConfigOptions) {
    this.#endpoint = new URL(opts.endpoint ?? CONTROL_CONFIG_ENDPOINT);
    this.#signer = new SignatureV4({
      ...SIGNING,
      credentials: opts.credentials ?? defaultProvider(),
      sha256: Sha256,
      uriEscapePath: true,
    });
    this.#metrics = opts.metrics;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#sleep = opts.sleep ?? realSleep;
  }

  async listSafetyRules(controlPanelArn: string): Promise<PanelSafetyRule[]> {
    const rules: PanelSafetyRule[] = [];
    let token: string | undefined;
    do {
      const page = (await this.#get(`/controlpanel/${encodeURIComponent(controlPanelArn)}/safetyrules`, {
        MaxResults: '100',
        ...(token ? { NextToken: token } : {}),
      })) as { SafetyRules?: { ASSERTION?: WireRule; GATING?: WireRule }[]; NextToken?: string };
      for (const item of page.SafetyRules ?? []) {
        const rule = ruleOf(item);
        if (rule) rules.push(rule);
      }
      token = page.NextToken;
    } while (token);
    return rules;
  }

  /** One signed GET; throttling is retried three times (jittered, from 200 ms), anything else is explained. */
  async #get(path: string, query: Record<string, string>): Promise<unknown> {
    const { operation, iamAction } = LIST_SAFETY_RULES;
    const base = this.#endpoint.pathname.replace(/\/$/, '');
    for (let attempt = 1; ; attempt++) {
      const signed = await this.#signer.sign({
        method: 'GET',
        protocol: this.#endpoint.protocol,
        hostname: this.#endpoint.hostname,
        ...(this.#endpoint.port ? { port: Number(this.#endpoint.port) } : {}),
        path: `${base}${path}`,
        query,
        headers: { host: this.#endpoint.host, accept: 'application/json' },
      });
      const url = new URL(this.#endpoint.origin);
      // The signer escapes the path once more for its canonical form; the wire carries it escaped once.
      url.pathname = `${base}${path}`;
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
      let res: Response;
      let text: string;
      try {
        const r = await this.#metrics.timed('arc', operation, () =>
          fetch(url, {
            headers: signed.headers as Record<string, string>,
            signal: AbortSignal.timeout(this.#timeoutMs),
          }),
        );
        res = r;
        text = await r.text();
      } catch (err) {
        const why = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new ExternalServiceError(
          CONTROL_CONFIG,
          `${operation} got no answer from ${this.#endpoint.origin} (${why}); the panel's safety rules could not be read`,
          { retryable: true, cause: err },
        );
      }
      if (res.ok) return text ? JSON.parse(text) : {};
      let body: { message?: string; Message?: string; __type?: string } = {};
      try {
        body = text ? (JSON.parse(text) as typeof body) : {};
      } catch {
        body = { message: text.slice(0, 200) };
      }
      const code =
        (res.headers.get('x-amzn-errortype') ?? body.__type ?? '').split(':')[0]?.split('#').pop() ||
        `HTTP ${res.status}`;
      const message = body.message ?? body.Message ?? res.statusText;
      const said = `HTTP ${res.status} (${code}: ${message})`;
      if ((res.status === 429 || code === 'ThrottlingException') && attempt < 4) {
        await this.#sleep(200 * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
        continue;
      }
      if (BAD_CREDENTIALS.has(code)) {
        throw new ExternalServiceError(
          CONTROL_CONFIG,
          `${operation} was refused, ${said}: the bot's AWS credentials were not accepted; check the role or keys it runs with`,
          { status: res.status },
        );
      }
      if (res.status === 403 || code === 'AccessDeniedException') {
        throw new ExternalServiceError(
          CONTROL_CONFIG,
          `${operation} was denied, ${said}: grant ${iamAction} to the bot's role (deploy/aws/iam-policy.json, statement ArcReadSafetyRules)`,
          { status: res.status },
        );
      }
      if (code === 'ResourceNotFoundException') {
        throw new ExternalServiceError(
          CONTROL_CONFIG,
          `${operation} does not find the control panel, ${said}: check traffic.arc.controlPanelArn (aws route53-recovery-control-config list-control-panels --region us-west-2)`,
          { status: res.status },
        );
      }
      throw new ExternalServiceError(CONTROL_CONFIG, `${operation} answered ${said}`, {
        status: res.status,
        retryable: res.status >= 500 || res.status === 429,
      });
    }
  }
}
