// Route 53 health: reads a health check's observations as healthy, unhealthy or unknown, as Route 53 would.
import type { HealthCheckObservation } from '@aws-sdk/client-route-53';
import { HEALTHY_FRACTION } from './route53-records.ts';
import type { HealthReport } from './traffic.ts';

/** The legacy endpoint's health from health check `id`'s observations. */
export function healthOf(id: string, observations: HealthCheckObservation[]): HealthReport {
  if (observations.length === 0)
    return { status: 'unknown', detail: `health check ${id} has no observations yet` };
  const healthy = observations.filter((o) => o.StatusReport?.Status?.startsWith('Success'));
  const summary = `${healthy.length} of ${observations.length} Route 53 health checkers report the legacy endpoint healthy`;
  if (healthy.length / observations.length > HEALTHY_FRACTION) {
    return { status: 'healthy', detail: `health check ${id}: ${summary}` };
  }
  const failure = observations.find((o) => !o.StatusReport?.Status?.startsWith('Success'));
  const reason = failure?.StatusReport?.Status ?? 'no reason given';
  return {
    status: 'unhealthy',
    detail: `health check ${id}: ${summary} (${failure?.Region ?? 'a checker'}: ${reason})`,
  };
}
