// Config section services.*.traffic: Route 53 weighted records and ALB target groups (other layers: config-traffic-layers.ts).
import { z } from 'zod';
import { ArcTraffic, GatewayTraffic, IstioTraffic } from './config-traffic-layers.ts';

export * from './config-traffic-layers.ts';

/** A DNS name as Route 53 stores it: lower-case, with the trailing dot. */
function dnsName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** Step C, DNS layer: the weighted record pair /contain shifts (the SetIdentifiers of legacy and cloud). */
export const Route53Traffic = z
  .strictObject({
    hostedZoneId: z
      .string()
      .regex(/^(\/hostedzone\/)?[A-Z0-9]{1,32}$/, 'a hosted zone id like Z0123456789ABCDEFGHIJ')
      .transform((id) => id.replace(/^\/hostedzone\//, '')),
    recordName: z
      .string()
      .regex(/^(\*\.)?([a-zA-Z0-9_-]+\.)*[a-zA-Z0-9_-]+\.?$/, 'a DNS name like api.payments.example.com')
      .transform(dnsName),
    recordType: z
      .enum(['A', 'AAAA', 'CNAME', 'TXT', 'MX', 'SRV', 'CAA', 'NS', 'PTR', 'SPF', 'NAPTR', 'DS'])
      .default('A'),
    /** SetIdentifier of the stable legacy record. */
    legacy: z.string().min(1).max(128),
    /** SetIdentifier of the new cloud record. */
    cloud: z.string().min(1).max(128),
    /** Seconds; a higher TTL gets a warning on the card (clients keep resolving the old answer that long). */
    maxTtl: z.number().int().min(0).max(86_400).default(60),
  })
  .refine((r) => r.legacy !== r.cloud, { message: 'legacy and cloud must be different SetIdentifiers' });
export type Route53Traffic = z.infer<typeof Route53Traffic>;

const ElbArn = (kind: string) =>
  z
    .string()
    .regex(
      new RegExp(`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\\d{12}:${kind}/`),
      `an Elastic Load Balancing ${kind} ARN (arn:aws:elasticloadbalancing:<region>:<account>:${kind}/…)`,
    );

/** Step C, load-balancer layer: a weighted forward action between two target groups (effective at once). */
export const AlbTraffic = z
  .strictObject({
    listenerArn: ElbArn('listener'),
    /** The listener rule whose forward action is weighted; without it, the listener's default action. */
    ruleArn: ElbArn('listener-rule').optional(),
    legacyTargetGroupArn: ElbArn('targetgroup'),
    cloudTargetGroupArn: ElbArn('targetgroup'),
  })
  .refine((a) => a.legacyTargetGroupArn !== a.cloudTargetGroupArn, {
    message: 'legacyTargetGroupArn and cloudTargetGroupArn must be different target groups',
  });
export type AlbTraffic = z.infer<typeof AlbTraffic>;

export const Traffic = z
  .strictObject({
    arc: ArcTraffic.optional(),
    route53: Route53Traffic.optional(),
    alb: AlbTraffic.optional(),
    gateway: GatewayTraffic.optional(),
    istio: IstioTraffic.optional(),
  })
  .refine((t) => Object.values(t).some((layer) => layer !== undefined), {
    message:
      'configure at least one of traffic.route53, traffic.alb, traffic.arc, traffic.gateway, traffic.istio',
  });
export type Traffic = z.infer<typeof Traffic>;
