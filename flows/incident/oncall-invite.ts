// Who to invite to a new incident channel: the service's responders, with `oncall:` entries resolved through
// PagerDuty now and matched to Slack users (access.pagerdutyUsers, else by email with users.lookupByEmail).
import type { IncidentCaps } from './caps.ts';

export interface Invitees {
  /** Slack user ids. */
  ids: string[];
  /** What could not be resolved, for the declarer ("invite them by hand"). */
  missed: string[];
}

/** `services.<name>.responders` as Slack ids; never throws: a PagerDuty or Slack failure becomes a `missed` line. */
export async function incidentInvitees(deps: IncidentCaps, service: string): Promise<Invitees> {
  const ids = new Set<string>();
  const missed: string[] = [];
  for (const entry of deps.config.services[service]?.responders ?? []) {
    if (!entry.startsWith('oncall:')) {
      ids.add(entry);
      continue;
    }
    const schedule = entry.startsWith('oncall:schedule:');
    const target = schedule ? entry.slice(16) : entry.slice(7);
    const rest = deps.adapters.pagerduty;
    if (!rest?.oncallUsers) {
      missed.push(
        `${entry}: PagerDuty is not set up (PAGERDUTY_TOKEN), so the on-call could not be looked up`,
      );
      continue;
    }
    let users: { id: string; name: string; email?: string }[];
    try {
      users = await rest.oncallUsers(target, schedule ? 'schedule' : 'escalation_policy');
    } catch (err) {
      missed.push(`${entry}: ${(err as Error).message}`);
      continue;
    }
    for (const user of users) {
      const slack = await slackIdOf(deps, user);
      if (slack) ids.add(slack);
      else
        missed.push(
          `${user.name} (on call, ${user.email ?? user.id}) has no Slack account with that email; map ${user.id} to their Slack id in access.pagerdutyUsers`,
        );
    }
  }
  return { ids: [...ids], missed };
}

async function slackIdOf(
  deps: IncidentCaps,
  user: { id: string; email?: string },
): Promise<string | undefined> {
  const map = deps.config.access.pagerdutyUsers;
  const mapped = map[user.id] ?? (user.email ? map[user.email] : undefined);
  if (mapped) return mapped;
  if (!user.email || !deps.chat.findUserByEmail) return undefined;
  try {
    return (await deps.chat.findUserByEmail(user.email))?.id;
  } catch (err) {
    deps.log.warn({ err, pagerdutyUser: user.id }, 'could not look the on-call up in Slack by email');
    return undefined;
  }
}
