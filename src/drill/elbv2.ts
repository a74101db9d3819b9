// The simulated ELBv2 (Application Load Balancer) API, and the drill's payments-edge load balancer: an HTTPS listener
// whose default action forwards by weight to the legacy and cloud target groups (the ARNs cloud-safety.example.yml names).
import type { ElbListener, ElbRule, ElbTargetGroup, Elbv2ServerOptions } from './elbv2-api.ts';

export {
  DEFAULT_CONSISTENCY_MS,
  ELB_FAIL_AFTER_COMMIT,
  ELB_THROTTLING,
  REAL_DESCRIBE_RATE,
  REAL_MODIFY_RATE,
  type ElbListener,
  type ElbRule,
  type ElbTarget,
  type ElbTargetGroup,
  type Elbv2Fault,
  type Elbv2Operation,
  type Elbv2Server,
  type Elbv2ServerOptions,
} from './elbv2-api.ts';
export { startElbv2Server } from './elbv2-server.ts';

const ELB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012';
export const DRILL_LOAD_BALANCER = `${ELB}:loadbalancer/app/payments-edge/50dc6c495c0c9188`;
export const DRILL_LISTENER = `${ELB}:listener/app/payments-edge/50dc6c495c0c9188/f2f7dc8efc522ab2`;
export const DRILL_RULE = `${ELB}:listener-rule/app/payments-edge/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee`;
export const DRILL_LEGACY_TG = `${ELB}:targetgroup/payments-legacy/73e2d6bc24d8a067`;
export const DRILL_CLOUD_TG = `${ELB}:targetgroup/payments-cloud/2453ed029918f21f`;

function forward(legacy: number, cloud: number) {
  return [
    {
      Type: 'forward',
      Order: '1',
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: DRILL_LEGACY_TG, Weight: String(legacy) },
          { TargetGroupArn: DRILL_CLOUD_TG, Weight: String(cloud) },
        ],
        TargetGroupStickinessConfig: { Enabled: 'false' },
      },
    },
  ];
}

/**
 * payments-edge: the listener (and an /api/* rule) forward legacy `legacy` / cloud `cloud`; each target group has three
 * registered targets, healthy. The drill starts at legacy 0 / cloud 100: the ALB sits behind the cloud record, so the
 * story's split is Route 53's until someone shifts the ALB too.
 */
export function drillLoadBalancer(
  legacy = 0,
  cloud = 100,
): Pick<Elbv2ServerOptions, 'loadBalancerArn' | 'listeners' | 'rules' | 'targetGroups'> {
  const listeners: ElbListener[] = [
    { arn: DRILL_LISTENER, port: 443, protocol: 'HTTPS', actions: forward(legacy, cloud) },
  ];
  const rules: ElbRule[] = [
    {
      arn: DRILL_RULE,
      listenerArn: DRILL_LISTENER,
      priority: '10',
      pathPattern: '/api/*',
      actions: forward(legacy, cloud),
    },
  ];
  const targets = (prefix: string) =>
    [11, 12, 13].map((n) => ({ id: `${prefix}.${n}`, port: 8080, state: 'healthy' as const }));
  const targetGroups: ElbTargetGroup[] = [
    { arn: DRILL_LEGACY_TG, port: 8080, targets: targets('10.20.1') },
    { arn: DRILL_CLOUD_TG, port: 8080, targets: targets('10.40.2') },
  ];
  return { loadBalancerArn: DRILL_LOAD_BALANCER, listeners, rules, targetGroups };
}
