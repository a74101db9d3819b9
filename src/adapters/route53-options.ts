// Route 53 adapter options: the client, config and injectable clock/sleep, with the GetChange polling defaults.
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Route53Traffic } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Route53Account } from './route53-account.ts';

export interface Route53Options {
  client: Route53Client;
  config: Route53Traffic;
  metrics: Metrics;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => Date;
  /** Delay before each GetChange poll: 2 s, then one more second each poll up to 5 s. */
  pollIntervalMs?: (poll: number) => number;
  /** How long waitInSync polls before giving up (15 min). */
  syncTimeoutMs?: number;
  /**
   * Shared by every Route 53 adapter of the account (the composition root makes one per client): one request budget,
   * and one queue of changes per zone. Without it the adapter has neither (calls go out at once).
   */
  account?: Route53Account;
  /** How long a change waits for the zone's previous change to be INSYNC before it is sent anyway (3 min). */
  zoneWaitMs?: number;
}

export function defaultPollInterval(poll: number): number {
  return Math.min(5000, 2000 + 1000 * (poll - 1));
}
