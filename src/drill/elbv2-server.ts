// A local ELBv2 endpoint speaking the real AWS Query protocol: Describe/Modify listeners and rules, target groups and
// their health; eventually consistent reads after a Modify, Throttling from token buckets, failure after commit.
import { listenOn } from './bind.ts';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_CONSISTENCY_MS,
  ELB_THROTTLING,
  REAL_DESCRIBE_RATE,
  REAL_MODIFY_RATE,
  type ElbListener,
  type ElbRule,
  type ElbTarget,
  type Elbv2Fault,
  type Elbv2Operation,
  type Elbv2Server,
  type Elbv2ServerOptions,
} from './elbv2-api.ts';
import { elbErrorXml, listOf, resultXml, unflatten, type QueryValue } from './elbv2-xml.ts';

const ACTION_TYPES = ['forward', 'redirect', 'fixed-response', 'authenticate-oidc', 'authenticate-cognito'];
const VPC = 'vpc-0d5f3a2c1b9e8a7f6';

interface Versioned {
  actions: QueryValue[];
  /** What Describe* shows until `visibleAt`. */
  previous?: QueryValue[];
  visibleAt: number;
}

class Refusal extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function bucket(limit: { burst: number; perSecond: number }, now: () => number) {
  let tokens = limit.burst;
  let at = now();
  return () => {
    const t = now();
    tokens = Math.min(limit.burst, tokens + ((t - at) * limit.perSecond) / 1000);
    at = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function objectAt(value: QueryValue | undefined): Record<string, QueryValue> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

export async function startElbv2Server(opts: Elbv2ServerOptions): Promise<Elbv2Server> {
  const now = opts.now ?? Date.now;
  const consistencyMs = opts.consistencyMs ?? DEFAULT_CONSISTENCY_MS;
  const listeners = new Map(opts.listeners.map((l) => [l.arn, l]));
  const rules = new Map((opts.rules ?? []).map((r) => [r.arn, r]));
  const groups = new Map(opts.targetGroups.map((g) => [g.arn, clone(g)]));
  const state = new Map<string, Versioned>(
    [...opts.listeners, ...(opts.rules ?? [])].map((x) => [
      x.arn,
      { actions: clone(x.actions), visibleAt: 0 },
    ]),
  );
  const limits =
    opts.rateLimit === false
      ? undefined
      : (opts.rateLimit ?? { describe: REAL_DESCRIBE_RATE, modify: REAL_MODIFY_RATE });
  const admitDescribe = limits ? bucket(limits.describe, now) : () => true;
  const admitModify = limits ? bucket(limits.modify, now) : () => true;
  const requests: Elbv2Server['requests'] = [];
  const refused: Record<string, number> = {};
  const faults = new Map<Elbv2Operation, Elbv2Fault[]>();
  let throttle = 0;

  /** What a Describe* sees now: the previous actions while the change is still spreading. */
  function visible(arn: string): QueryValue[] {
    const v = state.get(arn);
    if (!v) return [];
    return clone(v.previous && now() < v.visibleAt ? v.previous : v.actions);
  }

  function listenerXml(l: ElbListener) {
    return {
      ListenerArn: l.arn,
      LoadBalancerArn: opts.loadBalancerArn,
      Port: String(l.port),
      Protocol: l.protocol,
      ...(l.protocol === 'HTTPS'
        ? {
            SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
            Certificates: [
              { CertificateArn: `arn:aws:acm:us-east-1:123456789012:certificate/${l.arn.slice(-8)}-drill` },
            ],
          }
        : {}),
      DefaultActions: visible(l.arn),
    };
  }

  function ruleXml(r: ElbRule) {
    return {
      RuleArn: r.arn,
      Priority: r.priority,
      Conditions: [
        { Field: 'path-pattern', Values: [r.pathPattern], PathPatternConfig: { Values: [r.pathPattern] } },
      ],
      Actions: visible(r.arn),
      IsDefault: 'false',
    };
  }

  /** Checks actions as ModifyListener/ModifyRule would: known types, existing target groups, weights 0..999. */
  function validate(actions: QueryValue[] | undefined, field: string): QueryValue[] {
    if (!actions || actions.length === 0)
      throw new Refusal(
        'ValidationError',
        `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
      );
    actions.forEach((raw, i) => {
      const action = objectAt(raw);
      const type = action?.Type;
      if (typeof type !== 'string' || !ACTION_TYPES.includes(type))
        throw new Refusal(
          'ValidationError',
          `1 validation error detected: Value '${String(type)}' at '${field}.${i + 1}.member.type' failed to satisfy constraint: Member must satisfy enum value set: [${ACTION_TYPES.join(', ')}]`,
        );
      if (type !== 'forward') return;
      const forward = objectAt(action?.ForwardConfig);
      const tgs = forward?.TargetGroups;
      const list = Array.isArray(tgs) ? tgs.map(objectAt) : [];
      const single = typeof action?.TargetGroupArn === 'string' ? [action.TargetGroupArn] : [];
      if (list.length === 0 && single.length === 0)
        throw new Refusal('ValidationError', 'A target group ARN must be specified for a forward action');
      for (const [j, tg] of list.entries()) {
        const weight = tg?.Weight === undefined ? 1 : Number(tg.Weight);
        if (!Number.isInteger(weight) || weight < 0 || weight > 999)
          throw new Refusal(
            'ValidationError',
            `1 validation error detected: Value '${String(tg?.Weight)}' at '${field}.${i + 1}.member.forwardConfig.targetGroups.${j + 1}.member.weight' failed to satisfy constraint: Member must have value less than or equal to 999`,
          );
      }
      const arns = [...single, ...list.map((tg) => String(tg?.TargetGroupArn))];
      if (arns.some((arn) => !groups.has(arn)))
        throw new Refusal('TargetGroupNotFound', 'One or more target groups not found');
      if (list.length > 0 && list.every((tg) => Number(tg?.Weight ?? 1) === 0))
        throw new Refusal(
          'ValidationError',
          'At least one target group in a forward action must have a weight greater than 0',
        );
    });
    return clone(actions);
  }

  function commit(arn: string, actions: QueryValue[]): void {
    const v = state.get(arn);
    if (!v) return;
    state.set(arn, { actions, previous: visible(arn), visibleAt: now() + consistencyMs });
  }

  function handle(action: string, params: Record<string, QueryValue>): string {
    switch (action) {
      case 'DescribeListeners': {
        const arns = listOf(params, 'ListenerArns');
        const found = arns.length > 0 ? arns.map((a) => listeners.get(a)) : [...listeners.values()];
        if (found.some((l) => !l)) throw new Refusal('ListenerNotFound', 'One or more listeners not found');
        return resultXml(action, { Listeners: found.map((l) => listenerXml(l as ElbListener)) });
      }
      case 'DescribeRules': {
        const arns = listOf(params, 'RuleArns');
        const listener = typeof params.ListenerArn === 'string' ? params.ListenerArn : undefined;
        if (listener && !listeners.has(listener))
          throw new Refusal('ListenerNotFound', 'One or more listeners not found');
        const found =
          arns.length > 0
            ? arns.map((a) => rules.get(a))
            : [...rules.values()].filter((r) => r.listenerArn === listener);
        if (found.some((r) => !r)) throw new Refusal('RuleNotFound', 'One or more rules not found');
        return resultXml(action, { Rules: found.map((r) => ruleXml(r as ElbRule)) });
      }
      case 'ModifyListener': {
        const listener = listeners.get(String(params.ListenerArn));
        if (!listener) throw new Refusal('ListenerNotFound', 'One or more listeners not found');
        const raw = params.DefaultActions;
        commit(listener.arn, validate(Array.isArray(raw) ? raw : undefined, 'defaultActions'));
        return resultXml(action, {
          Listeners: [{ ...listenerXml(listener), DefaultActions: state.get(listener.arn)?.actions }],
        });
      }
      case 'ModifyRule': {
        const rule = rules.get(String(params.RuleArn));
        if (!rule) throw new Refusal('RuleNotFound', 'One or more rules not found');
        const raw = params.Actions;
        commit(rule.arn, validate(Array.isArray(raw) ? raw : undefined, 'actions'));
        return resultXml(action, { Rules: [{ ...ruleXml(rule), Actions: state.get(rule.arn)?.actions }] });
      }
      case 'DescribeTargetGroups': {
        const arns = listOf(params, 'TargetGroupArns');
        const found = arns.length > 0 ? arns.map((a) => groups.get(a)) : [...groups.values()];
        if (found.some((g) => !g))
          throw new Refusal('TargetGroupNotFound', 'One or more target groups not found');
        return resultXml(action, {
          TargetGroups: found.map((g) => ({
            TargetGroupArn: g?.arn,
            TargetGroupName: /:targetgroup\/([^/]+)\//.exec(g?.arn ?? '')?.[1],
            Protocol: 'HTTP',
            Port: String(g?.port),
            VpcId: VPC,
            HealthCheckProtocol: 'HTTP',
            HealthCheckPort: 'traffic-port',
            HealthCheckEnabled: 'true',
            HealthCheckIntervalSeconds: '30',
            HealthCheckTimeoutSeconds: '5',
            HealthyThresholdCount: '5',
            UnhealthyThresholdCount: '2',
            HealthCheckPath: '/healthz',
            Matcher: { HttpCode: '200' },
            LoadBalancerArns: [opts.loadBalancerArn],
            TargetType: 'ip',
            ProtocolVersion: 'HTTP1',
            IpAddressType: 'ipv4',
          })),
        });
      }
      case 'DescribeTargetHealth': {
        const group = groups.get(String(params.TargetGroupArn));
        if (!group) throw new Refusal('TargetGroupNotFound', 'One or more target groups not found');
        return resultXml(action, {
          TargetHealthDescriptions: group.targets.map((t) => ({
            Target: { Id: t.id, Port: String(t.port) },
            HealthCheckPort: String(t.port),
            TargetHealth: {
              State: t.state,
              ...(t.reason ? { Reason: t.reason } : {}),
              ...(t.description ? { Description: t.description } : {}),
            },
          })),
        });
      }
      default:
        throw new Refusal('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
  }

  function send(res: ServerResponse, status: number, xml: string): void {
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
    res.end(xml);
  }

  function refuse(res: ServerResponse, f: Elbv2Fault): void {
    refused[f.code] = (refused[f.code] ?? 0) + 1;
    const status = f.status ?? 400;
    send(res, status, elbErrorXml(f.code, f.message, status >= 500 ? 'Receiver' : 'Sender'));
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const action = form.get('Action') ?? '';
    let params: Record<string, QueryValue>;
    try {
      params = unflatten(form);
    } catch (err) {
      return refuse(res, { code: 'MalformedQueryString', message: (err as Error).message });
    }
    requests.push({ action, params });
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 '))
      return refuse(res, {
        code: 'MissingAuthenticationToken',
        message: 'Request is missing Authentication Token',
        status: 403,
      });
    if (req.method !== 'POST' || form.get('Version') !== '2015-12-01')
      return refuse(res, {
        code: 'InvalidAction',
        message: `Could not find operation ${action} for version ${form.get('Version') ?? 'NO_VERSION_SPECIFIED'}`,
      });
    const modify = action.startsWith('Modify');
    if (modify && throttle > 0) {
      throttle -= 1;
      return refuse(res, ELB_THROTTLING);
    }
    if (!(modify ? admitModify() : admitDescribe())) return refuse(res, ELB_THROTTLING);
    const fault = faults.get(action as Elbv2Operation)?.shift();
    if (fault && !fault.afterCommit) return refuse(res, fault);
    let xml: string;
    try {
      xml = handle(action, params);
    } catch (err) {
      if (err instanceof Refusal)
        return refuse(res, { code: err.code, message: err.message, status: err.status });
      throw err;
    }
    if (fault?.afterCommit === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (fault) return refuse(res, fault);
    send(res, 200, xml);
  }

  const server = createServer((req, res) => {
    serve(req, res).catch((err: unknown) =>
      send(res, 500, elbErrorXml('InternalFailure', (err as Error).message, 'Receiver')),
    );
  });
  const listening = await listenOn(server, opts.bind, opts.port !== undefined ? { port: opts.port } : {});
  return {
    url: listening.url,
    port: listening.port,
    server,
    requests,
    refused,
    actions: (arn) => clone(state.get(arn)?.actions ?? []),
    weights: (arn) => {
      const out: Record<string, number> = {};
      for (const raw of state.get(arn)?.actions ?? []) {
        const action = objectAt(raw);
        if (action?.Type !== 'forward') continue;
        const tgs = objectAt(action.ForwardConfig)?.TargetGroups;
        for (const tg of Array.isArray(tgs) ? tgs.map(objectAt) : [])
          if (typeof tg?.TargetGroupArn === 'string') out[tg.TargetGroupArn] = Number(tg.Weight ?? 1);
        if (typeof action.TargetGroupArn === 'string' && !tgs) out[action.TargetGroupArn] = 1;
      }
      return out;
    },
    setTargetHealth: (arn, s, reason, description) => {
      const group = groups.get(arn);
      if (!group) throw new Error(`no target group ${arn}`);
      group.targets = group.targets.map((t): ElbTarget => ({
        id: t.id,
        port: t.port,
        state: s,
        ...(reason ? { reason } : {}),
        ...(description ? { description } : {}),
      }));
    },
    throttleNext: (n) => {
      throttle = n;
    },
    failNext: (operation, n, fault) => {
      const queue = faults.get(operation) ?? [];
      for (let i = 0; i < n; i++) queue.push(fault);
      faults.set(operation, queue);
    },
    stop: listening.stop,
  };
}
