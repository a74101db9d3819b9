// Config section integrations: receivers, outbound webhooks, follow-ups and publishing.
import { z } from 'zod';
import { Duration, SecretRef } from './config-common.ts';

/** A URL that timeline events are POSTed to, signed with HMAC-SHA256 (flows/integrations/webhooks.ts). */
export const OutboundWebhook = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/, 'a short name like siem (lower-case letters, digits, dashes)'),
  url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }),
  secret: SecretRef,
  /** Event kinds to send: exact (`incident.declared`) or a prefix ending in `*` (`action.*`); default all. */
  kinds: z
    .array(z.string().regex(/^[a-z_.]*\*?$/, 'an event kind or a prefix ending in *'))
    .min(1)
    .default(['*']),
});
export type OutboundWebhook = z.infer<typeof OutboundWebhook>;

const HttpsUrl = z.url({ protocol: /^https?$/, error: 'an http(s) URL' });

/** Where `/postmortem` files its follow-ups (flows/integrations/postmortem-out.ts); every one configured gets them. */
export const FollowUps = z.strictObject({
  github: z
    .strictObject({
      repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name, like acme/payments'),
      token: SecretRef,
      labels: z.array(z.string().min(1)).default(['postmortem']),
      apiUrl: HttpsUrl.optional(),
    })
    .optional(),
  jira: z
    .strictObject({
      site: HttpsUrl,
      project: z.string().regex(/^[A-Z][A-Z0-9_]{0,9}$/, 'a Jira project key, like OPS'),
      issueType: z.string().min(1).default('Task'),
      email: SecretRef,
      token: SecretRef,
      labels: z.array(z.string().regex(/^\S+$/, 'a label without spaces')).default(['postmortem']),
    })
    .optional(),
  linear: z
    .strictObject({
      teamId: z.uuid({ error: "the team's UUID (Settings → Teams → copy ID), not its short key" }),
      apiKey: SecretRef,
      apiUrl: HttpsUrl.optional(),
    })
    .optional(),
});
export type FollowUps = z.infer<typeof FollowUps>;

/** Where `/postmortem` publishes the draft as a page, updated in place on re-run. */
export const Publish = z.strictObject({
  confluence: z
    .strictObject({
      site: HttpsUrl,
      spaceKey: z.string().min(1),
      parentId: z
        .string()
        .regex(/^[0-9]+$/, 'a page id (the number in the page URL)')
        .optional(),
      email: SecretRef,
      token: SecretRef,
    })
    .optional(),
  notion: z
    .strictObject({
      parentPageId: z
        .string()
        .regex(/^[0-9a-f-]{32,36}$/i, 'a Notion page id (32 hex digits, dashes allowed)'),
      token: SecretRef,
      apiUrl: HttpsUrl.optional(),
    })
    .optional(),
});
export type Publish = z.infer<typeof Publish>;

/** Integrations (docs/integrations.md): the HTTP receivers and API, outbound events, follow-ups and publishing. */
export const Integrations = z.strictObject({
  /** Bearer token for POST /hooks/* and the /api/v1 API (Authorization: Bearer <token>). */
  token: SecretRef.optional(),
  /** HMAC-SHA256 secret: a receiver also accepts a body signed with it (X-Cloud-Safety-Signature or Grafana's header). */
  hmacSecret: SecretRef.optional(),
  /** Grafana's HMAC headers, when changed from its defaults in the contact point. */
  grafanaSignatureHeader: z.string().default('X-Grafana-Alerting-Signature'),
  grafanaTimestampHeader: z.string().default('X-Grafana-Alerting-Timestamp'),
  webhooks: z
    .array(OutboundWebhook)
    .default([])
    .refine((hooks) => new Set(hooks.map((h) => h.name)).size === hooks.length, {
      message: 'two webhooks share a name; each needs its own (deliveries are tracked by name)',
    }),
  /** Outbound retries: the first after `retryBase`, doubling up to `retryMax`, at most `attempts` tries in all. */
  retryBase: Duration.default(5000),
  retryMax: Duration.default(15 * 60_000),
  attempts: z.number().int().min(1).max(50).default(12),
  followUps: FollowUps.optional(),
  publish: Publish.optional(),
  /** The bot's public URL, for links back to the incident from issues and pages when Slack has no permalink. */
  publicUrl: z.url().optional(),
});
export type Integrations = z.infer<typeof Integrations>;
