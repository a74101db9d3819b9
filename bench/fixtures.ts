// What several benchmarks share (never nock: importing it patches every HTTP client in the process): the payments pair at a local Route 53, an adapter that polls it quickly,
// the wall clock both sides stamp with, and a wait-until helper.
import { performance } from 'node:perf_hooks';
import { Route53Client } from '@aws-sdk/client-route-53';
import { Route53TrafficAdapter } from '../src/adapters/route53.ts';
import type { ServiceTraffic } from '../src/adapters/traffic.ts';
import type { Config } from '../src/config.ts';
import type { Logger } from '../src/log.ts';
import type { Metrics } from '../src/metrics.ts';
import {
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  drillRecords,
  startRoute53Server,
  type Route53Server,
} from '../src/drill/route53.ts';

export { DRILL_ZONE, drillRecords };

/** Milliseconds with sub-ms precision, comparable between the bot and the local Route 53 (same process). */
export const clock = (): number => performance.timeOrigin + performance.now();

/** The drill zone (legacy 20 / cloud 80, healthy legacy), INSYNC 20 ms after a change, stamped with `clock`. */
export function startBenchRoute53(): Promise<Route53Server> {
  return startRoute53Server({
    zones: { [DRILL_ZONE]: drillRecords(10) },
    healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
    syncDelayMs: 20,
    now: clock,
  });
}

/** The traffic section every bench config uses for payments: the drill zone's pair. */
export const PAYMENTS_TRAFFIC = {
  route53: {
    hostedZoneId: DRILL_ZONE,
    recordName: 'api.payments.example.com',
    legacy: 'legacy',
    cloud: 'cloud',
  },
};

/** The access section every bench config uses: alice asks, bob approves. */
export const BENCH_ACCESS = {
  responders: ['@oncall'],
  approvers: ['@leads'],
  groups: { oncall: ['U0ALICE'], leads: ['U0BOB'] },
};

/** payments' Route 53 adapter at the local endpoint, polling GetChange every 20 ms so iterations end quickly. */
export function benchTraffic(
  r53: Route53Server,
  config: Config,
  metrics: Metrics,
  log: Logger,
): Record<string, ServiceTraffic> {
  const section = config.services.payments?.traffic?.route53;
  if (!section) throw new Error('bench config has no payments.traffic.route53');
  const adapter = new Route53TrafficAdapter({
    client: new Route53Client({
      endpoint: r53.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
      maxAttempts: 1,
    }),
    config: section,
    metrics,
    log,
    pollIntervalMs: () => 20,
  });
  return { payments: { route53: adapter } };
}

/** Polls `check` every 2 ms until it returns a value. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
