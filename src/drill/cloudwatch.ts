// The simulated CloudWatch GetMetricData API, and what it publishes in a drill: Container Insights memory and the
// ALB's request, 5xx and latency metrics of each stack, read from the story whenever a query asks.
import type { MetricRef } from './cloudwatch-server.ts';
import type { Story } from './story.ts';

export {
  REAL_GET_METRIC_DATA_TPS,
  startCloudWatchServer,
  type CloudWatchServer,
  type CloudWatchServerOptions,
  type MetricRef,
} from './cloudwatch-server.ts';

/** Requests per second the service takes in the drill, split between the stacks by the live weights. */
export const DRILL_RPS = 400;

/** Which stack a metric's dimensions name (payments-cloud, targetgroup/payments-legacy/…), if any. */
function stackOf(metric: MetricRef): 'cloud' | 'legacy' | undefined {
  const values = Object.values(metric.dimensions).join(' ');
  if (/-cloud\b/.test(values)) return 'cloud';
  if (/-legacy\b/.test(values)) return 'legacy';
  return undefined;
}

/**
 * The story as CloudWatch metrics. Memory in percent of the pod limit (Container Insights' unit), counts as sums
 * over the period, latency in seconds; anything else is not published (no datapoints, as for a misspelt metric).
 */
export function storyMetrics(
  story: Story,
  cloudShare: () => number,
  legacyErrors: number,
): (metric: MetricRef) => number | undefined {
  return (metric) => {
    const stack = stackOf(metric);
    if (!stack) return undefined;
    const share = stack === 'cloud' ? cloudShare() : 1 - cloudShare();
    const requests = DRILL_RPS * share * metric.periodSeconds;
    const errors = stack === 'cloud' ? story.cloudErrorRatio() : legacyErrors;
    const key = `${metric.namespace}/${metric.metricName}`;
    switch (key) {
      case 'ContainerInsights/pod_memory_utilization_over_pod_limit':
        return stack === 'cloud' ? story.worstFraction() * 100 : 45;
      case 'AWS/ApplicationELB/RequestCount':
        return requests;
      case 'AWS/ApplicationELB/HTTPCode_Target_5XX_Count':
        return requests * errors;
      case 'AWS/ApplicationELB/TargetResponseTime':
        // Latency climbs with memory pressure, as GC pauses lengthen (the same curve the Prometheus answers follow).
        return stack === 'cloud' ? 0.2 + 1.5 * Math.max(0, story.worstFraction() - 0.75) : 0.2;
      default:
        return undefined;
    }
  };
}
