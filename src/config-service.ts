// Config section services.*: service names, and one service with its alerts and every per-service section.
import { z } from 'zod';
import { PagerDuty } from './config-access.ts';
import { Sandbox } from './config-sandbox.ts';
import { Traffic } from './config-traffic.ts';
import { KubernetesSection } from './config-kubernetes.ts';
import { LedgerConfig } from './config-ledger.ts';
import { Breaker, Canary } from './config-breaker.ts';

/** Label values an alert must carry to belong to a service: a value, or any of a list. */
const LabelMatchers = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a Prometheus label name'),
    z.union([z.string(), z.array(z.string()).min(1)]),
  )
  .refine((m) => Object.keys(m).length > 0, {
    message: 'name at least one label, e.g. { service: payments }',
  });

/** Alerts in (flows/integrations/alerts.ts): which alerts belong to this service and what they may do. */
export const ServiceAlerts = z.strictObject({
  /** Every label listed must match (a list means any of its values). */
  match: LabelMatchers,
  severity: z.enum(['SEV1', 'SEV2', 'SEV3', 'SEV4']).default('SEV2'),
  /** A firing alert also asks for `/contain` (legacy 100%); it still needs the usual two-person approval. */
  requestContain: z.boolean().default(false),
});
export type ServiceAlerts = z.infer<typeof ServiceAlerts>;

export const Service = z
  .strictObject({
    /** Channel where automation (a breaker trip) declares an incident when none is open. */
    channel: z.string().optional(),
    /** Where stakeholders follow the incident: declare links and status updates are posted there. */
    announce: z.string().optional(),
    /** Slack user ids invited to the incident's own channel. */
    responders: z.array(z.string().min(1)).optional(),
    pagerduty: PagerDuty.optional(),
    sandbox: Sandbox.optional(),
    traffic: Traffic.optional(),
    kubernetes: KubernetesSection.optional(),
    ledger: LedgerConfig.optional(),
    breaker: Breaker.optional(),
    canary: Canary.optional(),
    alerts: ServiceAlerts.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.alerts && !s.channel) {
      ctx.addIssue({
        code: 'custom',
        path: ['channel'],
        message:
          'alerts declare incidents in the service channel: set channel (a Slack channel id like C0123ABCD)',
      });
    }
    if (s.breaker && s.canary && s.canary.bake < 3 * s.breaker.interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['canary', 'bake'],
        message: `a step must bake at least three breaker intervals (${(3 * s.breaker.interval) / 1000}s) so the breaker can judge it`,
      });
    }
  });
export type Service = z.infer<typeof Service>;

export const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'service names are lower-case letters, digits and dashes, like payments');
