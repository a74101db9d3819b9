// Config of the traffic layers beyond weighted DNS and the ALB: ARC routing controls, Gateway API and Istio weights.
import { z } from 'zod';

const ArcArn = (what: string, path: string) =>
  z
    .string()
    .regex(
      new RegExp(`^arn:aws[a-z-]*:route53-recovery-control::\\d{12}:${path}$`),
      `an ARC ${what} ARN (arn:aws:route53-recovery-control::<account>:${path.replace(/\[[^\]]*\][+*]/g, '<id>')})`,
    );

const PANEL = 'controlpanel/[a-z0-9]+';

/** Step C, ARC layer: two routing controls of one control panel, flipped in one call on the cluster's data plane. */
export const ArcTraffic = z
  .strictObject({
    controlPanelArn: ArcArn('control panel', PANEL),
    /** On means traffic flows to legacy (through the health check the routing control drives). */
    legacyRoutingControlArn: ArcArn('routing control', `${PANEL}/routingcontrol/[a-z0-9]+`),
    cloudRoutingControlArn: ArcArn('routing control', `${PANEL}/routingcontrol/[a-z0-9]+`),
    /** The cluster's Regional endpoints (five in ARC; DescribeCluster lists them), tried in turn. */
    clusterEndpoints: z
      .array(
        z.strictObject({
          endpoint: z.url({ protocol: /^https?$/ }),
          region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region like us-west-2'),
        }),
      )
      .min(1, 'list the cluster endpoints (aws route53-recovery-control-config describe-cluster shows them)'),
    /**
     * Safety rules break-glass may override, with a name for people. A refusal by any other rule stands even under
     * break-glass: the team decides in advance which safeguards an emergency may skip.
     */
    safetyRules: z
      .array(
        z.strictObject({
          arn: ArcArn('safety rule', `${PANEL}/safetyrule/[a-z0-9]+`),
          name: z.string().min(1).max(64),
        }),
      )
      .default([]),
    /** TTL of the DNS records the routing controls' health checks gate: how long resolvers may keep the old answer. */
    recordTtl: z.number().int().min(0).max(86_400).default(60),
  })
  .refine((a) => a.legacyRoutingControlArn !== a.cloudRoutingControlArn, {
    message: 'legacyRoutingControlArn and cloudRoutingControlArn must be different routing controls',
  })
  .refine(
    (a) =>
      [a.legacyRoutingControlArn, a.cloudRoutingControlArn, ...a.safetyRules.map((r) => r.arn)].every((arn) =>
        arn.startsWith(`${a.controlPanelArn}/`),
      ),
    { message: 'the routing controls and safety rules must belong to controlPanelArn' },
  );
export type ArcTraffic = z.infer<typeof ArcTraffic>;

const KubeName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
    'a Kubernetes name: lower-case letters, digits, dots and dashes',
  );

/** Step C, Gateway API layer: the weights of two backendRefs (Services) in one rule of an HTTPRoute. */
export const GatewayTraffic = z
  .strictObject({
    /** kubeconfig context; the current one when left out. */
    context: z.string().min(1).optional(),
    namespace: KubeName,
    httpRoute: KubeName,
    /** The rule's `name` (Gateway API 1.2+) or its index; without it, the one rule that holds both backends. */
    rule: z.union([z.number().int().min(0), KubeName]).optional(),
    /** The legacy and cloud Services as the backendRefs name them (same namespace as the route unless given). */
    legacy: z.strictObject({ service: KubeName, namespace: KubeName.optional() }),
    cloud: z.strictObject({ service: KubeName, namespace: KubeName.optional() }),
  })
  .refine((g) => g.legacy.service !== g.cloud.service || g.legacy.namespace !== g.cloud.namespace, {
    message: 'legacy and cloud must be different Services',
  });
export type GatewayTraffic = z.infer<typeof GatewayTraffic>;

const IstioDestination = z.strictObject({
  /** destination.host as the VirtualService writes it: a short Service name or name.namespace.svc.cluster.local. */
  host: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a host like payments-legacy'),
  subset: KubeName.optional(),
});

/** Step C, Istio layer: the weights of two destinations in one HTTP route of a VirtualService. */
export const IstioTraffic = z
  .strictObject({
    context: z.string().min(1).optional(),
    namespace: KubeName,
    virtualService: KubeName,
    /** The http route's `name`; without it, the one route that holds both destinations. */
    route: z.string().min(1).optional(),
    legacy: IstioDestination,
    cloud: IstioDestination,
  })
  .refine((i) => i.legacy.host !== i.cloud.host || i.legacy.subset !== i.cloud.subset, {
    message: 'legacy and cloud must be different destinations (host or subset)',
  });
export type IstioTraffic = z.infer<typeof IstioTraffic>;
