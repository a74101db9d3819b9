// Breaker queries for a CloudWatch source against the drill's metrics: Container Insights memory and the ALB's 5xx ratio.

const alb = (metricName: string) => ({
  namespace: 'AWS/ApplicationELB',
  metricName,
  dimensions: {
    LoadBalancer: 'app/payments-edge/50dc6c495c0c9188',
    TargetGroup: 'targetgroup/payments-cloud/2453ed029918f21f',
  },
  stat: 'Sum',
});

/** The worst cloud pod's working set over its limit, 0..1 (Container Insights reports percent). */
export const CW_MEMORY = {
  expression: 'm1 / 100',
  metrics: {
    m1: {
      namespace: 'ContainerInsights',
      metricName: 'pod_memory_utilization_over_pod_limit',
      dimensions: { ClusterName: 'drill', Namespace: 'payments', Service: 'payments-cloud' },
      stat: 'Maximum',
    },
  },
};

/** The cloud target group's 5xx over its requests, 0 under 300 requests a minute. */
export const CW_ERRORS = {
  expression: 'IF(m2 >= 300, m3 / m2, 0)',
  metrics: { m2: alb('RequestCount'), m3: alb('HTTPCode_Target_5XX_Count') },
};
