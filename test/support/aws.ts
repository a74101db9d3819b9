// AWS clients pointed at nock'd endpoints with fake keys, a controllable clock, and the payments traffic fixtures.
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Route53Client } from '@aws-sdk/client-route-53';
import nock from 'nock';
import { AlbTrafficAdapter } from '../../src/adapters/alb.ts';
import { Route53TrafficAdapter } from '../../src/adapters/route53.ts';
import type { ServiceTraffic } from '../../src/adapters/traffic.ts';
import type { Config } from '../../src/config.ts';
import type { Logger } from '../../src/log.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import { memoryLogger, testConfig } from './bot.ts';
import {
  changeResponseXml,
  errorXml,
  getChangeXml,
  listRecordSetsXml,
  parseChangeBatch,
  XML_HEADERS,
  type ChangeBatch,
  type RecordSet,
} from '../../src/drill/route53-xml.ts';

export const ROUTE53_ENDPOINT = 'https://route53.test';
export const ELB_ENDPOINT = 'https://elb.test';
export const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLETEST', secretAccessKey: 'test-secret-key-not-real' };

export const ZONE = 'Z0PAYMENTS1234567890';
export const RECORD = 'api.payments.example.com.';
export const LEGACY_HC = 'b1f5c6de-7a2b-4c3d-9e8f-0a1b2c3d4e5f';

export function route53Client(endpoint = ROUTE53_ENDPOINT): Route53Client {
  return new Route53Client({ endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 });
}

export function elbClient(endpoint = ELB_ENDPOINT): ElasticLoadBalancingV2Client {
  return new ElasticLoadBalancingV2Client({
    endpoint,
    region: 'us-east-1',
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
}

/** A clock that only moves when told (or when something "sleeps" on it); records every sleep. */
export interface FakeClock {
  now(): Date;
  advance(ms: number): void;
  sleep(ms: number): Promise<void>;
  sleeps: number[];
}

export function fakeClock(start = '2026-11-26T10:00:00.000Z'): FakeClock {
  let t = Date.parse(start);
  const clock: FakeClock = {
    now: () => new Date(t),
    advance(ms) {
      t += ms;
    },
    async sleep(ms) {
      clock.sleeps.push(ms);
      t += ms;
    },
    sleeps: [],
  };
  return clock;
}

export const ALB = {
  listenerArn:
    'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/payments-edge/50dc6c495c0c9188/f2f7dc8efc522ab2',
  ruleArn:
    'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/payments-edge/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee',
  legacyTargetGroupArn:
    'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/payments-legacy/73e2d6bc24d8a067',
  cloudTargetGroupArn:
    'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/payments-cloud/2453ed029918f21f',
};

/** The test config with payments' traffic section (Route 53 by default; `alb: true` adds the ALB layer). */
export function trafficConfig(
  opts: { maxTtl?: number; alb?: boolean; route53?: boolean; access?: Record<string, unknown> } = {},
): Config {
  const traffic: Record<string, unknown> = {};
  if (opts.route53 ?? true) {
    traffic.route53 = {
      hostedZoneId: ZONE,
      recordName: 'api.payments.example.com',
      recordType: 'A',
      legacy: 'legacy',
      cloud: 'cloud',
      ...(opts.maxTtl !== undefined ? { maxTtl: opts.maxTtl } : {}),
    };
  }
  if (opts.alb) traffic.alb = ALB;
  return testConfig({
    services: { payments: { traffic }, checkout: {} },
    ...(opts.access ? { access: opts.access } : {}),
  });
}

export interface AdapterKit {
  traffic: Record<string, ServiceTraffic>;
  clock: FakeClock;
  metrics: Metrics;
  log: Logger;
  logLines: string[];
}

/**
 * The payments adapters on nock'd endpoints (or the local doubles at `endpoints`), sleeping on a fake clock, with
 * jitter fixed at the middle.
 */
export function trafficAdapters(
  config: Config,
  clock = fakeClock(),
  endpoints: { route53?: string; elb?: string } = {},
): AdapterKit {
  const { log, lines } = memoryLogger();
  const metrics = createMetrics({ defaults: false });
  const section = config.services.payments?.traffic;
  const layers: ServiceTraffic = {};
  const common = { metrics, log, sleep: clock.sleep, now: clock.now, random: () => 0.5 };
  if (section?.route53) {
    layers.route53 = new Route53TrafficAdapter({
      client: route53Client(endpoints.route53),
      config: section.route53,
      ...common,
    });
  }
  if (section?.alb) {
    layers.alb = new AlbTrafficAdapter({ client: elbClient(endpoints.elb), config: section.alb, ...common });
  }
  return { traffic: { payments: layers }, clock, metrics, log, logLines: lines };
}

/** The payments pair as Route 53 lists it: legacy 20 / cloud 80, plain A records with TTL 60. */
export function pair(
  opts: { legacy?: number; cloud?: number; ttl?: number; healthCheck?: boolean; alias?: boolean } = {},
): RecordSet[] {
  const ttl = opts.ttl ?? 60;
  if (opts.alias) {
    return [
      {
        name: RECORD,
        type: 'A',
        setIdentifier: 'cloud',
        weight: opts.cloud ?? 80,
        alias: {
          hostedZoneId: 'Z35SXDOTRQ7X7K',
          dnsName: 'dualstack.payments-cloud-1234567890.us-east-1.elb.amazonaws.com.',
          evaluateTargetHealth: true,
        },
      },
      {
        name: RECORD,
        type: 'A',
        setIdentifier: 'legacy',
        weight: opts.legacy ?? 20,
        alias: {
          hostedZoneId: 'Z35SXDOTRQ7X7K',
          dnsName: 'dualstack.payments-legacy-0987654321.us-east-1.elb.amazonaws.com.',
          evaluateTargetHealth: true,
        },
      },
    ];
  }
  return [
    {
      name: RECORD,
      type: 'A',
      setIdentifier: 'cloud',
      weight: opts.cloud ?? 80,
      ttl,
      values: ['198.51.100.20', '198.51.100.21'],
    },
    {
      name: RECORD,
      type: 'A',
      setIdentifier: 'legacy',
      weight: opts.legacy ?? 20,
      ttl,
      values: ['192.0.2.10'],
      ...(opts.healthCheck ? { healthCheckId: LEGACY_HC } : {}),
    },
  ];
}

/** The record after ours in the zone's order, so the adapter knows the group ended. */
export const NEXT_RECORD: RecordSet = {
  name: 'api.payments.example.com.',
  type: 'AAAA',
  ttl: 300,
  values: ['2001:db8::10'],
};

const rrsetPath = `/2013-04-01/hostedzone/${ZONE}/rrset`;

/** One ListResourceRecordSets answer starting at our name and type. */
export function nockList(records: RecordSet[]): nock.Scope {
  return nock(ROUTE53_ENDPOINT)
    .get(rrsetPath)
    .query({ name: RECORD, type: 'A' })
    .reply(200, listRecordSetsXml([...records, NEXT_RECORD]), XML_HEADERS);
}

/** One ChangeResourceRecordSets call; its parsed body lands in `into`. */
export function nockChange(
  into: ChangeBatch[],
  reply: { status?: number; body?: string; id?: string; submittedAt?: string } = {},
): nock.Scope {
  return nock(ROUTE53_ENDPOINT)
    .post(rrsetPath, (body: unknown) => {
      into.push(parseChangeBatch(typeof body === 'string' ? body : JSON.stringify(body)));
      return true;
    })
    .reply(
      reply.status ?? 200,
      reply.body ??
        changeResponseXml({
          id: reply.id ?? 'C2682N5HXP0BZ4',
          status: 'PENDING',
          submittedAt: reply.submittedAt ?? '2026-11-26T10:00:00.000Z',
        }),
      XML_HEADERS,
    );
}

export function nockChangeError(code: string, message: string, status = 400): nock.Scope {
  return nock(ROUTE53_ENDPOINT).post(rrsetPath).reply(status, errorXml(code, message), XML_HEADERS);
}

/** GetChange answers, one scope each: e.g. ['PENDING', 'INSYNC']. */
export function nockGetChange(statuses: ('PENDING' | 'INSYNC')[], id = 'C2682N5HXP0BZ4'): nock.Scope[] {
  return statuses.map((status) =>
    nock(ROUTE53_ENDPOINT)
      .get(`/2013-04-01/change/${id}`)
      .reply(200, getChangeXml({ id, status, submittedAt: '2026-11-26T10:00:00.000Z' }), XML_HEADERS),
  );
}

/** Throws on any request to an AWS endpoint made while it is active: proves "no AWS call happened". */
export function forbidAws(): { calls: string[]; stop(): void } {
  const calls: string[] = [];
  const listener = (req: { url?: string; method?: string }) => {
    if (req.url && /^https:\/\/(route53|elb)\.test\//.test(req.url))
      calls.push(`${req.method ?? '?'} ${req.url}`);
  };
  nock.emitter.on('no match', listener);
  return { calls, stop: () => nock.emitter.removeListener('no match', listener) };
}
