// Config section incident: the roles, update cadence, reminders and channel per incident.
import { z } from 'zod';
import { Duration, SecretRef } from './config-common.ts';

const RoleName = z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, 'a role name in lower case, like comms');

/** The incident lifecycle: roles, update cadence, reminders and the channel per incident. */
export const IncidentSettings = z.strictObject({
  /** Roles `/incident role` assigns; commander is always one of them. */
  roles: z
    .array(RoleName)
    .min(1)
    .refine((r) => r.includes('commander'), 'the roles must include commander')
    .refine((r) => new Set(r).size === r.length, 'a role is listed twice')
    .default(['commander', 'comms', 'scribe']),
  /** SEV1-2 incidents without a status update for this long get a reminder to the commander and comms lead. */
  updateEvery: Duration.refine((ms) => ms >= 60_000, 'at least 1m').default(30 * 60_000),
  /** The role reminded with the commander, and who posts stakeholder updates. */
  commsRole: RoleName.default('comms'),
  /** After resolve, the commander is reminded to draft the post-mortem after this long. */
  postmortemAfter: Duration.default(60 * 60_000),
  /** A dedicated channel per incident (`<prefix>-<n>-<service>`); `channel=here` declares in the current one. */
  channels: z
    .strictObject({
      create: z.boolean().default(false),
      prefix: z
        .string()
        .regex(/^[a-z0-9][a-z0-9_-]{0,20}$/, 'lower-case letters, digits, - and _, like inc')
        .default('inc'),
      private: z.boolean().default(false),
    })
    .default({ create: false, prefix: 'inc', private: false }),
  /** `/incident update` also opens and updates an incident on a Statuspage page, with the service's component. */
  statuspage: z
    .strictObject({
      /** The page id (Statuspage: your page > API info). */
      pageId: z.string().regex(/^[a-z0-9]{6,20}$/, 'a Statuspage page id, like kctbh9vrtdwd'),
      apiKey: SecretRef,
      /** Service -> component id; a service not listed gets no Statuspage incident. */
      components: z.record(
        z.string(),
        z.string().regex(/^[a-z0-9]{6,20}$/, 'a component id, like 8kbf7d35c070'),
      ),
    })
    .optional(),
});
export type IncidentSettings = z.infer<typeof IncidentSettings>;
