// Shared fixtures of the fault suite: payments' config on the local Route 53, adapters pointed at it, users.
import { Route53TrafficAdapter } from '../../../src/adapters/route53.ts';
import type { ServiceTraffic } from '../../../src/adapters/traffic.ts';
import type { Config } from '../../../src/config.ts';
import { createMetrics } from '../../../src/metrics.ts';
import type { TimelineEvent } from '../../../src/timeline.ts';
import { route53Client } from '../../support/aws.ts';
import { memoryLogger, testConfig } from '../../support/bot.ts';
import { DRILL_HEALTH_CHECK, DRILL_ZONE } from '../../../src/drill/route53.ts';

export const CHANNEL = 'C0PAYMENTS';

export const USERS = {
  alice: { id: 'U0ALICE', name: 'alice' },
  bob: { id: 'U0BOB', name: 'bob' },
  carol: { id: 'U0CAROL', name: 'carol' },
  dave: { id: 'U0DAVE', name: 'dave' },
  mallory: { id: 'U0MALLORY', name: 'mallory' },
} as const;

/** payments' traffic section as the drill config has it: the record pair in the local Route 53 zone. */
export const ROUTE53_SECTION = {
  hostedZoneId: DRILL_ZONE,
  recordName: 'api.payments.example.com',
  recordType: 'A',
  legacy: 'legacy',
  cloud: 'cloud',
  maxTtl: 60,
};

export function faultConfig(extra: Record<string, unknown> = {}): Config {
  return testConfig({
    services: { payments: { traffic: { route53: ROUTE53_SECTION } }, checkout: {} },
    ...extra,
  });
}

/**
 * The real Route 53 adapter on a real SDK client pointed at the local endpoint. Its backoff and GetChange polling
 * sleep `scale` of the real delays, so a storm of throttles takes milliseconds instead of minutes.
 */
export function localRoute53(config: Config, endpoint: string, scale = 0.01): Record<string, ServiceTraffic> {
  const section = config.services.payments?.traffic?.route53;
  if (!section) throw new Error('payments has no traffic.route53');
  const { log } = memoryLogger();
  const sleeps: number[] = [];
  const adapter = new Route53TrafficAdapter({
    client: route53Client(endpoint),
    config: section,
    metrics: createMetrics({ defaults: false }),
    log,
    sleep: (ms) => {
      sleeps.push(ms);
      return new Promise((resolve) => setTimeout(resolve, ms * scale));
    },
  });
  return { payments: { route53: adapter } };
}

export { DRILL_HEALTH_CHECK, DRILL_ZONE };

/** How many events of each kind, for assertions on "exactly once". */
export function countKinds(events: TimelineEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
  return counts;
}
