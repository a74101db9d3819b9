// Step D test kit: payments on a local Route 53 endpoint, Prometheus answers by nock, a controllable clock.
import nock from 'nock';
import {
  breakerEvaluatorOf,
  type BreakerEvaluator,
  type BreakerOptions,
} from '../../flows/breaker/evaluator.ts';
import { Route53TrafficAdapter } from '../../src/adapters/route53.ts';
import type { ServiceTraffic } from '../../src/adapters/traffic.ts';
import type { Chat, FileUpload, Message, MessageRef, UploadedFile } from '../../src/chat/chat.ts';
import type { Config } from '../../src/config.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { Store } from '../../src/store/store.ts';
import { fakeClock, route53Client, type FakeClock } from './aws.ts';
import { makeTestBot, memoryLogger, testConfig, type TestBot } from './bot.ts';
import { RecordingChat } from './recording-chat.ts';
import { startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
import type { RecordSet } from '../../src/drill/route53-xml.ts';

export const PROMETHEUS = 'https://prometheus.test';
export const ZONE = 'Z0BREAKERPAYMENTS';
export const HEALTH_CHECK = 'c0ffee00-0000-4000-8000-00000000b001';
export const HOME_CHANNEL = 'C0PAYMENTSOPS';

/** The standard queries docs/breaker.md ships (cloud pods of payments; 5xx over all requests, traffic-guarded). */
export const MEMORY_QUERY =
  'max by (namespace, pod, container) (container_memory_working_set_bytes{namespace="payments", container="app", pod=~"payments-cloud-.*"}) / on (namespace, pod, container) max by (namespace, pod, container) (kube_pod_container_resource_limits{namespace="payments", container="app", pod=~"payments-cloud-.*", resource="memory"})';
export const ERRORS_QUERY =
  'sum(rate(http_requests_total{namespace="payments", service="payments-cloud", code=~"5.."}[2m])) / sum(rate(http_requests_total{namespace="payments", service="payments-cloud"}[2m]))';
export const GUARD_QUERY =
  'sum(rate(http_requests_total{namespace="payments", service="payments-cloud"}[2m])) >= bool 5';

/** The payments pair as the local endpoint holds it: legacy/cloud A records, TTL 60, health check on legacy. */
export function paymentsRecords(
  opts: { legacy?: number; cloud?: number; ttl?: number; healthCheck?: boolean } = {},
): RecordSet[] {
  const ttl = opts.ttl ?? 60;
  return [
    {
      name: 'api.payments.example.com.',
      type: 'A',
      setIdentifier: 'legacy',
      weight: opts.legacy ?? 20,
      ttl,
      values: ['192.0.2.10'],
      ...((opts.healthCheck ?? true) ? { healthCheckId: HEALTH_CHECK } : {}),
    },
    {
      name: 'api.payments.example.com.',
      type: 'A',
      setIdentifier: 'cloud',
      weight: opts.cloud ?? 80,
      ttl,
      values: ['198.51.100.20', '198.51.100.21'],
    },
    { name: 'api.payments.example.com.', type: 'AAAA', ttl: 300, values: ['2001:db8::10'] },
  ];
}

export function breakerSection(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    source: { prometheus: PROMETHEUS },
    memory: MEMORY_QUERY,
    errors: ERRORS_QUERY,
    minRps: GUARD_QUERY,
    thresholds: { memory: 0.8, errors: 0.01 },
    interval: '30s',
    failureLimit: 3,
    errorLimit: 4,
    ...extra,
  };
}

/** payments with traffic on the local zone, a breaker, its home channel and a PagerDuty routing key. */
export function breakerConfig(
  opts: {
    breaker?: Record<string, unknown> | null;
    access?: Record<string, unknown>;
    payments?: Record<string, unknown>;
  } = {},
): Config {
  return testConfig({
    services: {
      payments: {
        channel: HOME_CHANNEL,
        pagerduty: { routingKey: 'e93facc04764012d7bfb002500d5d1a6' },
        traffic: {
          route53: {
            hostedZoneId: ZONE,
            recordName: 'api.payments.example.com',
            legacy: 'legacy',
            cloud: 'cloud',
          },
        },
        ...(opts.breaker === null ? {} : { breaker: breakerSection(opts.breaker) }),
        ...opts.payments,
      },
      checkout: {},
    },
    ...(opts.access ? { access: opts.access } : {}),
  });
}

export interface Route53Kit {
  server: Route53Server;
  /** The endpoint's clock: every adapter sleep moves it, so PENDING turns INSYNC without waiting. */
  advance(ms: number): void;
  traffic(config: Config, clock: FakeClock): Record<string, ServiceTraffic>;
  /** The pair's weights now: "legacy=20 cloud=80". */
  weights(): string;
}

export async function startRoute53(
  records: RecordSet[] = paymentsRecords(),
  healthy = 8,
): Promise<Route53Kit> {
  let serverNow = Date.parse('2026-11-26T10:00:00Z');
  const server = await startRoute53Server({
    zones: { [ZONE]: records },
    healthChecks: { [HEALTH_CHECK]: healthy },
    syncDelayMs: 3000,
    now: () => serverNow,
  });
  return {
    server,
    advance(ms) {
      serverNow += ms;
    },
    traffic(config, clock) {
      const section = config.services.payments?.traffic?.route53;
      if (!section) throw new Error('payments has no route53 section');
      return {
        payments: {
          route53: new Route53TrafficAdapter({
            client: route53Client(server.url),
            config: section,
            metrics: createMetrics({ defaults: false }),
            log: memoryLogger().log,
            sleep: async (ms) => {
              await clock.sleep(ms);
              serverNow += ms;
            },
            now: clock.now,
            random: () => 0.5,
          }),
        },
      };
    },
    weights() {
      return server
        .records(ZONE)
        .filter((r) => r.type === 'A')
        .map((r) => `${r.setIdentifier}=${r.weight}`)
        .sort()
        .join(' ');
    },
  };
}

/**
 * A Prometheus instant-vector answer as the HTTP API sends it (value as a string). With `warnings`, the answer real
 * Prometheus gives when part of the data could not be read: still "success", the data it has, and the warnings.
 */
export function vector(
  values: (string | number)[],
  at = 1795687200.123,
  opts: { warnings?: string[] } = {},
): Record<string, unknown> {
  return {
    status: 'success',
    ...(opts.warnings ? { warnings: opts.warnings } : {}),
    data: {
      resultType: 'vector',
      result: values.map((v, i) => ({
        metric: {
          namespace: 'payments',
          pod: `payments-cloud-7d9f8-${'abcde'[i] ?? 'z'}${i}`,
          container: 'app',
        },
        value: [at, String(v)],
      })),
    },
  };
}

export const PROM_ERRORS = {
  /** 422: the expression could not be executed. */
  execution: {
    status: 'error',
    errorType: 'execution',
    error:
      'found duplicate series for the match group {namespace="payments", pod="payments-cloud-7d9f8-a0"} on the right hand-side of the operation: [{__name__="kube_pod_container_resource_limits"}, {__name__="kube_pod_container_resource_limits"}];many-to-many matching not allowed: matching labels must be unique on one side',
  },
  /** 503: the query timed out. */
  timeout: { status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' },
  /** 400: a parse error. */
  badData: {
    status: 'error',
    errorType: 'bad_data',
    error: 'invalid parameter "query": 1:14: parse error: unexpected right parenthesis \')\'',
  },
};

function formQuery(body: unknown): string | null {
  if (typeof body === 'string') return new URLSearchParams(body).get('query');
  if (body && typeof body === 'object') return String((body as Record<string, unknown>).query ?? '');
  return null;
}

/** One POST /api/v1/query for `query`, answered with `reply` (and `status`). */
export function nockQuery(query: string, reply: unknown, status = 200): nock.Scope {
  return nock(PROMETHEUS)
    .post('/api/v1/query', (body) => formQuery(body) === query)
    .reply(status, reply as nock.Body, { 'content-type': 'application/json' });
}

/** One evaluation's three queries: memory, 5xx ratio and the traffic guard. */
export function nockEvaluation(
  memory: (string | number)[] | { status: number; body: unknown },
  errors: (string | number)[] | { status: number; body: unknown } = ['0.001'],
  guard: (string | number)[] | { status: number; body: unknown } = ['1'],
): nock.Scope[] {
  const one = (q: string, r: (string | number)[] | { status: number; body: unknown }) =>
    Array.isArray(r) ? nockQuery(q, vector(r)) : nockQuery(q, r.body, r.status);
  return [one(MEMORY_QUERY, memory), one(ERRORS_QUERY, errors), one(GUARD_QUERY, guard)];
}

/** What /preflight asks (each condition once, for cloud: the standard queries have no {stack}). */
export function nockConditions(): nock.Scope[] {
  return [nockQuery(MEMORY_QUERY, vector(['0.5'])), nockQuery(ERRORS_QUERY, vector(['0.001']))];
}

/** A Chat that can be taken down: every call fails like an unreachable Slack until it is brought back. */
export class FlakyChat extends RecordingChat {
  down = false;
  failures = 0;

  #check(): void {
    if (this.down) {
      this.failures += 1;
      throw new Error('An API error occurred: fetch failed (slack.com unreachable)');
    }
  }

  override async post(
    channel: string,
    message: Message,
    opts: { threadTs?: string } = {},
  ): Promise<MessageRef> {
    this.#check();
    return super.post(channel, message, opts);
  }

  override async update(ref: MessageRef, message: Message): Promise<void> {
    this.#check();
    return super.update(ref, message);
  }

  override async pin(ref: MessageRef): Promise<void> {
    this.#check();
    return super.pin(ref);
  }

  override async upload(
    channel: string,
    file: FileUpload,
    opts: { threadTs?: string } = {},
  ): Promise<UploadedFile> {
    this.#check();
    return super.upload(channel, file, opts);
  }
}

export interface BreakerBot extends TestBot {
  clock: FakeClock;
  evaluator: BreakerEvaluator;
  /** Moves the bot's clock, runs one scheduler pass (timers, evaluator) and waits for the work it started. */
  step(ms: number): Promise<void>;
}

export function breakerBot(opts: {
  store: Store;
  config: Config;
  r53: Pick<Route53Kit, 'traffic'>;
  clock?: FakeClock;
  instanceId?: string;
  breaker?: Partial<BreakerOptions>;
  chat?: RecordingChat & Chat;
  env?: NodeJS.ProcessEnv;
}): BreakerBot {
  const clock = opts.clock ?? fakeClock();
  const t = makeTestBot({
    store: opts.store,
    config: opts.config,
    adapters: { traffic: opts.r53.traffic(opts.config, clock) },
    now: clock.now,
    env: opts.env ?? {},
    ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
    breaker: { pageWaitMs: 50, ...opts.breaker },
    ...(opts.chat ? { chat: opts.chat } : {}),
  });
  const evaluator = breakerEvaluatorOf(t.bot.deps);
  if (!evaluator) throw new Error('no breaker evaluator registered');
  return {
    ...t,
    clock,
    evaluator,
    async step(ms) {
      clock.advance(ms);
      await t.bot.deps.scheduler.tick();
      await t.bot.idle();
    },
  };
}
