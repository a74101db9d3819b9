// A local ARC cluster: Regional endpoints on 127.0.0.1 speaking the real awsJson1_0 protocol (ToggleCustomerAPI.*),
// sharing one set of routing controls, with assertion and gating safety rules and endpoints that go down.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Route53RecoveryClusterClient } from '@aws-sdk/client-route53-recovery-cluster';
import { ArcTrafficAdapter, type ArcEndpoint } from '../../src/adapters/arc-adapter.ts';
import type { ControlConfigPort } from '../../src/adapters/arc-control-config.ts';
import type { ArcTraffic } from '../../src/config.ts';
import { createMetrics } from '../../src/metrics.ts';
import { memoryLogger } from './bot.ts';
import { CREDENTIALS, type FakeClock } from './aws.ts';

export const ACCOUNT = '111122223333';
export const PANEL = `arn:aws:route53-recovery-control::${ACCOUNT}:controlpanel/0123456789abcdef0123456789abcdef`;
export const LEGACY_RC = `${PANEL}/routingcontrol/a1b2c3d4e5f60718`;
export const CLOUD_RC = `${PANEL}/routingcontrol/b2c3d4e5f6071829`;
export const GATE_RC = `${PANEL}/routingcontrol/c3d4e5f60718293a`;
export const MIN_ONE_RULE = `${PANEL}/safetyrule/d4e5f60718293a4b`;
export const GATE_RULE = `${PANEL}/safetyrule/e5f60718293a4b5c`;
export const KEEP_CLOUD_RULE = `${PANEL}/safetyrule/f60718293a4b5c6d`;
export const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-2', 'ap-northeast-1'];

export interface Control {
  name: string;
  state: 'On' | 'Off';
}

/** A rule's RuleConfig: ATLEAST Threshold of its controls On, AND (all On), OR (one On), Inverted negating it. */
export interface RuleConfig {
  type: 'ATLEAST' | 'AND' | 'OR';
  threshold: number;
  inverted: boolean;
}

interface RuleCommon {
  arn: string;
  name: string;
  /** Default ATLEAST `atLeast` for assertion rules, AND for gating rules. */
  config?: RuleConfig;
  /** Default DEPLOYED; a rule PENDING_DELETION no longer applies. */
  status?: 'PENDING' | 'DEPLOYED' | 'PENDING_DELETION';
}

export type SafetyRule =
  | (RuleCommon & { kind: 'assertion'; asserted: string[]; atLeast: number })
  /** Changes to `targets` pass only while the gating controls satisfy the config (by default: all On). */
  | (RuleCommon & { kind: 'gating'; gating: string[]; targets: string[] });

export function ruleConfigOf(rule: SafetyRule): RuleConfig {
  if (rule.config) return rule.config;
  return rule.kind === 'assertion'
    ? { type: 'ATLEAST', threshold: rule.atLeast, inverted: false }
    : { type: 'AND', threshold: rule.gating.length, inverted: false };
}

/** Rules the tests share: "at least one of legacy and cloud On", "cloud stays On", "a change-window gate". */
export const AT_LEAST_ONE: SafetyRule = {
  arn: MIN_ONE_RULE,
  name: 'at-least-one-on',
  kind: 'assertion',
  asserted: [LEGACY_RC, CLOUD_RC],
  atLeast: 1,
};
export const KEEP_CLOUD: SafetyRule = {
  arn: KEEP_CLOUD_RULE,
  name: 'keep-cloud-on',
  kind: 'assertion',
  asserted: [CLOUD_RC],
  atLeast: 1,
};
export const CHANGE_WINDOW: SafetyRule = {
  arn: GATE_RULE,
  name: 'change-window',
  kind: 'gating',
  gating: [GATE_RC],
  targets: [LEGACY_RC, CLOUD_RC],
};

function satisfied(config: RuleConfig, states: (string | undefined)[]): boolean {
  const on = states.filter((s) => s === 'On').length;
  const ok =
    config.type === 'ATLEAST'
      ? on >= config.threshold
      : config.type === 'AND'
        ? on === states.length
        : on >= 1;
  return config.inverted ? !ok : ok;
}

/** Persistent: `unavailable` answers 503 EndpointTemporarilyUnavailableException; `reset` drops every connection. */
export type EndpointMode = 'up' | 'unavailable' | 'reset';
/** One-shot, on the next update: applied, then a 500 or a dropped connection instead of the answer (`die`: and the endpoint stays down). */
export type WriteFault = 'commit-then-500' | 'commit-then-reset' | 'commit-then-die';

export interface ArcRequest {
  endpoint: number;
  operation: string;
  body: Record<string, unknown>;
}

export interface ArcCluster {
  endpoints: ArcEndpoint[];
  controls: Map<string, Control>;
  rules: SafetyRule[];
  mode: EndpointMode[];
  nextWriteFault: (WriteFault | undefined)[];
  requests: ArcRequest[];
  /** Updates the cluster accepted (applied). */
  accepted: { endpoint: number; entries: { arn: string; state: string }[]; overridden: string[] }[];
  /** "legacy=On cloud=Off" */
  states(): string;
  stop(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'x-amzn-requestid': `req-${Math.random().toString(16).slice(2, 10)}`,
  });
  res.end(JSON.stringify(body));
}

function error(res: ServerResponse, status: number, type: string, message: string, extra = {}): void {
  json(res, status, { __type: `com.amazonaws.route53recoverycluster#${type}`, message, ...extra });
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/**
 * The rules a transaction breaks, given the states after it and the rules overridden. An assertion rule is checked
 * when the transaction moves one of its asserted controls, on the states after it; a gating rule when it moves one
 * of its targets, on the gating controls as they were (ARC does not document either finer point: assumed).
 */
function violations(
  rules: SafetyRule[],
  before: Map<string, Control>,
  after: Map<string, Control>,
  overridden: string[],
): SafetyRule[] {
  const moved = (arn: string) => before.get(arn)?.state !== after.get(arn)?.state;
  return rules.filter((rule) => {
    if (overridden.includes(rule.arn) || rule.status === 'PENDING_DELETION') return false;
    if (rule.kind === 'assertion') {
      if (!rule.asserted.some(moved)) return false;
      return !satisfied(
        ruleConfigOf(rule),
        rule.asserted.map((arn) => after.get(arn)?.state),
      );
    }
    if (!rule.targets.some(moved)) return false;
    return !satisfied(
      ruleConfigOf(rule),
      rule.gating.map((arn) => before.get(arn)?.state),
    );
  });
}

export async function startArcCluster(opts: {
  controls?: Record<string, Control>;
  rules?: SafetyRule[];
  endpoints?: number;
}): Promise<ArcCluster> {
  const initial: Record<string, Control> = opts.controls ?? {
    [LEGACY_RC]: { name: 'payments-legacy', state: 'On' },
    [CLOUD_RC]: { name: 'payments-cloud', state: 'On' },
  };
  const controls = new Map<string, Control>(Object.entries(initial));
  const n = opts.endpoints ?? 5;
  const servers: Server[] = [];
  const cluster: ArcCluster = {
    endpoints: [],
    controls,
    rules: opts.rules ?? [],
    mode: Array.from({ length: n }, () => 'up'),
    nextWriteFault: Array.from({ length: n }, () => undefined),
    requests: [],
    accepted: [],
    states() {
      const of = (arn: string) => controls.get(arn)?.state ?? '?';
      return `legacy=${of(LEGACY_RC)} cloud=${of(CLOUD_RC)}`;
    },
    async stop() {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };

  const handle = async (index: number, req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.replace(/^ToggleCustomerAPI\./, '');
    cluster.requests.push({ endpoint: index, operation, body });
    // A Regional endpoint answers after a network round trip, never synchronously.
    await new Promise((resolve) => setTimeout(resolve, 2));
    const mode = cluster.mode[index];
    if (mode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (mode === 'unavailable') {
      error(
        res,
        503,
        'EndpointTemporarilyUnavailableException',
        'The cluster endpoint is temporarily unavailable.',
      );
      return;
    }
    if (
      !target.startsWith('ToggleCustomerAPI.') ||
      req.headers['content-type'] !== 'application/x-amz-json-1.0'
    ) {
      error(res, 400, 'ValidationException', `unknown operation ${target}`, { reason: 'unknownOperation' });
      return;
    }
    if (operation === 'GetRoutingControlState') {
      const arn = String(body.RoutingControlArn ?? '');
      const control = controls.get(arn);
      if (!control) {
        error(res, 404, 'ResourceNotFoundException', `Routing control ${arn} not found`, {
          resourceId: arn,
          resourceType: 'RoutingControl',
        });
        return;
      }
      json(res, 200, {
        RoutingControlArn: arn,
        RoutingControlName: control.name,
        RoutingControlState: control.state,
      });
      return;
    }
    if (operation === 'ListRoutingControls') {
      const panel = body.ControlPanelArn as string | undefined;
      const all = [...controls.entries()].filter(([arn]) => !panel || arn.startsWith(`${panel}/`));
      const start = Number(body.NextToken ?? 0);
      const size = Number(body.MaxResults ?? 2);
      const page = all.slice(start, start + size);
      json(res, 200, {
        RoutingControls: page.map(([arn, c]) => ({
          ControlPanelArn: arn.split('/routingcontrol/')[0],
          ControlPanelName: 'payments-panel',
          RoutingControlArn: arn,
          RoutingControlName: c.name,
          RoutingControlState: c.state,
          Owner: ACCOUNT,
        })),
        ...(start + size < all.length ? { NextToken: String(start + size) } : {}),
      });
      return;
    }
    if (operation === 'UpdateRoutingControlStates') {
      const entries = (body.UpdateRoutingControlStateEntries ?? []) as {
        RoutingControlArn: string;
        RoutingControlState: 'On' | 'Off';
      }[];
      const overridden = (body.SafetyRulesToOverride ?? []) as string[];
      for (const e of entries) {
        if (!controls.has(e.RoutingControlArn)) {
          error(res, 404, 'ResourceNotFoundException', `Routing control ${e.RoutingControlArn} not found`, {
            resourceId: e.RoutingControlArn,
            resourceType: 'RoutingControl',
          });
          return;
        }
      }
      const after = new Map([...controls.entries()].map(([k, v]) => [k, { ...v }]));
      for (const e of entries) {
        const c = after.get(e.RoutingControlArn);
        if (c) c.state = e.RoutingControlState;
      }
      const broken = violations(cluster.rules, controls, after, overridden);
      if (broken.length > 0) {
        const first = broken[0] as SafetyRule;
        // Documented: a refusal is a ConflictException whose message carries the blocking rule's ARN (only one,
        // even when several block). Assumed: the wording, and resourceId/resourceType naming the rule.
        error(
          res,
          409,
          'ConflictException',
          `Routing control state update blocked by safety rule ${first.arn}`,
          { resourceId: first.arn, resourceType: 'SafetyRule' },
        );
        return;
      }
      for (const [arn, c] of after) controls.set(arn, c);
      cluster.accepted.push({
        endpoint: index,
        entries: entries.map((e) => ({ arn: e.RoutingControlArn, state: e.RoutingControlState })),
        overridden,
      });
      const fault = cluster.nextWriteFault[index];
      cluster.nextWriteFault[index] = undefined;
      if (fault === 'commit-then-die') cluster.mode[index] = 'reset';
      if (fault === 'commit-then-reset' || fault === 'commit-then-die') {
        req.socket.destroy();
        return;
      }
      if (fault === 'commit-then-500') {
        error(res, 500, 'InternalServerException', 'An internal error occurred.');
        return;
      }
      json(res, 200, {});
      return;
    }
    error(res, 400, 'ValidationException', `unknown operation ${operation}`, { reason: 'unknownOperation' });
  };

  for (let i = 0; i < n; i++) {
    const server = createServer((req, res) => {
      handle(i, req, res).catch((err: unknown) => {
        error(res, 500, 'InternalServerException', String(err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    servers.push(server);
    const port = (server.address() as AddressInfo).port;
    cluster.endpoints.push({ endpoint: `http://127.0.0.1:${port}/v1`, region: REGIONS[i] ?? `us-east-${i}` });
  }
  return cluster;
}

/** traffic.arc for payments on this cluster. */
export function arcSection(cluster: ArcCluster, extra: Partial<Record<keyof ArcTraffic, unknown>> = {}) {
  return {
    controlPanelArn: PANEL,
    legacyRoutingControlArn: LEGACY_RC,
    cloudRoutingControlArn: CLOUD_RC,
    clusterEndpoints: cluster.endpoints,
    ...extra,
  };
}

/** The adapter on this cluster: SDK clients per endpoint (retries off), starting at endpoint `first`. */
export function arcAdapter(
  cluster: ArcCluster,
  config: ArcTraffic,
  opts: { clock?: FakeClock; first?: number; controlConfig?: ControlConfigPort } = {},
) {
  const clients = new Map<string, Route53RecoveryClusterClient>();
  const n = cluster.endpoints.length;
  return new ArcTrafficAdapter({
    config,
    metrics: createMetrics({ defaults: false }),
    log: memoryLogger().log,
    clientFor: (ep) => {
      let client = clients.get(ep.endpoint);
      if (!client) {
        client = new Route53RecoveryClusterClient({
          region: ep.region,
          endpoint: ep.endpoint,
          maxAttempts: 1,
          credentials: CREDENTIALS,
        });
        clients.set(ep.endpoint, client);
      }
      return client;
    },
    random: () => (opts.first ?? 0) / n,
    ...(opts.controlConfig ? { controlConfig: opts.controlConfig } : {}),
    ...(opts.clock
      ? { sleep: (ms: number) => opts.clock?.sleep(ms) ?? Promise.resolve(), now: opts.clock.now }
      : {}),
  });
}
