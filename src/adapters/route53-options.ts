// Route 53 adapter options: the client, config and injectable clock/sleep, with the GetChange polling defaults.
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { Route53Traffic } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';

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
}

export function defaultPollInterval(poll: number): number {
  return Math.min(5000, 2000 + 1000 * (poll - 1));
}
