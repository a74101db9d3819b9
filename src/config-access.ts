// Config sections for access and policies: approvers, evidence, timeline and PagerDuty.
import { z } from 'zod';
import { Duration, SecretRef } from './config-common.ts';

const SlackUserOrGroup = z
  .string()
  .regex(/^(@[a-z0-9._-]+|[A-Za-z0-9._-]+|\*)$/i, 'a Slack user id (U…), a user-group handle (@name) or "*"');

/**
 * Who may approve one kind of action on some services: the first policy whose `kinds` and `services` both match
 * applies; an action no policy matches falls back to `access.approvers`, one approval, `access.breakGlass`.
 */
export const ApprovalPolicy = z.strictObject({
  /** A name for cards and the timeline ("ledger writes"). */
  name: z.string().min(1).optional(),
  /** Action kinds it covers (traffic.shift, ledger.reconcile...); absent: every kind. */
  kinds: z.array(z.string().min(1)).min(1).optional(),
  /** Services it covers; absent: every service. */
  services: z.array(z.string().min(1)).min(1).optional(),
  /** Risk levels it covers (`access.risk` gives each kind one; unlisted kinds are medium); absent: every level. */
  risks: z
    .array(z.enum(['low', 'medium', 'high']))
    .min(1)
    .optional(),
  /**
   * Who may approve (also `oncall:<escalation policy id>` or `oncall:schedule:<schedule id>`: whoever PagerDuty
   * has on call there now); absent: `access.approvers`.
   */
  approvers: z
    .array(
      z.union([
        SlackUserOrGroup,
        z
          .string()
          .regex(
            /^oncall:(schedule:)?[A-Z0-9]{5,20}$/,
            'oncall:<PagerDuty escalation policy id> or oncall:schedule:<schedule id>, like oncall:PANZZEQ or oncall:schedule:PI7DH85',
          ),
      ]),
    )
    .min(1)
    .optional(),
  /** How many distinct approvers (never the requester) must approve before it runs: N of M. */
  quorum: z.number().int().min(1).max(10).default(1),
  /** Whether one person may act alone with break-glass for these actions; absent: `access.breakGlass`. */
  breakGlass: z.boolean().optional(),
  /** false: members of an approver group the requester is also in may not approve (someone from outside the team must). */
  requesterTeamMayApprove: z.boolean().default(true),
  /** false: the incident's commander may approve only alongside someone else (with quorum 1: someone else must). */
  commanderMayApproveAlone: z.boolean().default(true),
});
export type ApprovalPolicy = z.infer<typeof ApprovalPolicy>;

export const Access = z.strictObject({
  responders: z.array(SlackUserOrGroup).min(1),
  approvers: z.array(SlackUserOrGroup).min(1),
  approvalTtl: Duration.default(15 * 60_000),
  breakGlass: z.boolean().default(false),
  /** Local definitions of user groups; they win over Slack's (and are the only ones in console mode). */
  groups: z.record(z.string(), z.array(z.string())).default({}),
  /** Risk level per action kind (traffic.shift: high), for policies that select by `risks`; unlisted: medium. */
  risk: z.record(z.string().min(1), z.enum(['low', 'medium', 'high'])).default({}),
  /** Per kind and service approval rules, first match wins; none matching: the rule above (one of `approvers`). */
  policies: z.array(ApprovalPolicy).default([]),
  /** PagerDuty user id or email -> Slack user id, for `oncall:` approvers. */
  pagerdutyUsers: z
    .record(z.string().min(1), z.string().regex(/^[UW][A-Z0-9]+$/, 'a Slack user id (U…)'))
    .default({}),
});
export type Access = z.infer<typeof Access>;

export const Evidence = z.union([
  z.strictObject({ dir: z.string().min(1) }),
  z.strictObject({
    s3: z.strictObject({
      bucket: z.string().min(1),
      prefix: z.string().default(''),
      region: z.string().optional(),
    }),
  }),
]);
export type Evidence = z.infer<typeof Evidence>;

export const Timeline = z.strictObject({
  /** Reacting with this emoji to a message in the incident channel puts it on the timeline. */
  pinReaction: z
    .string()
    .regex(/^[a-z0-9_+-]+$/, 'an emoji name without colons, like pushpin')
    .default('pushpin'),
});

export const PagerDuty = z.strictObject({
  /** The PagerDuty service `/incident declare` opens incidents on (the id in its URL, like PWIXJZS). */
  serviceId: z
    .string()
    .regex(
      /^[A-Z0-9]{5,20}$/,
      'a PagerDuty service id, the part after /service-directory/ in its URL, like PWIXJZS',
    )
    .optional(),
  /** Integration Key of an Events API v2 integration on the service: the breaker pages with it. */
  routingKey: SecretRef.optional(),
  /** Overrides the urgency taken from the severity (SEV1-2 high, SEV3-4 low). */
  urgency: z.enum(['high', 'low']).optional(),
  /** PagerDuty priority id per severity (from GET /priorities, like P53ZZH5): set on the incident when the severity changes. */
  priorities: z
    .partialRecord(
      z.enum(['SEV1', 'SEV2', 'SEV3', 'SEV4', 'SEV5']),
      z.string().regex(/^[A-Z0-9]{5,20}$/, 'a PagerDuty priority id, like P53ZZH5'),
    )
    .optional(),
});
