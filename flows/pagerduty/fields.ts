// PagerDuty mirror, fields: the PagerDuty incident's assignee follows a commander handover, its urgency and priority
// follow a severity change.
import { PAGERDUTY_ID, type IncidentFields } from '../../src/adapters/pagerduty.ts';
import type { Config } from '../../src/config.ts';
import { PAGERDUTY_UPDATED } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import {
  pdLabel,
  recordEvent,
  updateState,
  urgencyFor,
  type MirrorContext,
  type MirrorState,
} from './state.ts';

/** The PagerDuty user id of a Slack user, from `access.pagerdutyUsers` (entries keyed by PagerDuty id). */
export function pagerdutyUserOf(config: Config, slackId: string): string | undefined {
  return Object.entries(config.access.pagerdutyUsers).find(
    ([pd, slack]) => slack === slackId && PAGERDUTY_ID.test(pd),
  )?.[0];
}

/** Whether PagerDuty already reflects the incident's commander and severity (a resolved one needs nothing). */
export function fieldsInLine(incident: Incident, state: MirrorState): boolean {
  return (
    incident.status === 'resolved' ||
    (state.fields?.commander === incident.commander.id && state.fields.severity === incident.severity)
  );
}

/**
 * Brings the PagerDuty incident in line after a handover or a severity change, once per change. The first pass
 * after linking only notes what PagerDuty was paged with: the escalation policy chose the assignee then.
 */
export async function syncFields(
  c: MirrorContext,
  incident: Incident,
  pagerdutyId: string,
  state: MirrorState,
): Promise<void> {
  if (fieldsInLine(incident, state)) return;
  const now = { commander: incident.commander.id, severity: incident.severity };
  const save = () =>
    updateState(c, incident.id, (s) => (s.pagerdutyId === pagerdutyId ? { ...s, fields: now } : undefined));
  const before = state.fields;
  const rest = c.deps.rest;
  if (!before || !rest?.updateIncident) {
    await save();
    return;
  }
  const fields: IncidentFields = {};
  const said: string[] = [];
  if (before.commander !== now.commander) {
    const assignee = pagerdutyUserOf(c.deps.config, now.commander);
    if (assignee) {
      fields.assignee = assignee;
      said.push(`assigned to ${incident.commander.name} (${assignee}), the new commander`);
    } else {
      said.push(
        `not reassigned: ${incident.commander.name} has no PagerDuty user id in access.pagerdutyUsers (add "<PagerDuty user id>: ${now.commander}")`,
      );
    }
  }
  if (before.severity !== now.severity) {
    const pd = c.deps.config.services[incident.service]?.pagerduty;
    const urgency = urgencyFor(now.severity);
    // A fixed urgency in the config wins over the severity, as at create.
    if (!pd?.urgency && urgency !== urgencyFor(before.severity)) {
      fields.urgency = urgency;
      said.push(`urgency ${urgency}`);
    }
    const priority = pd?.priorities?.[now.severity];
    if (priority) {
      fields.priority = priority;
      said.push(`priority ${priority} (${now.severity})`);
    }
  }
  const sent = Object.keys(fields).length > 0;
  if (sent) {
    await c.pace();
    await rest.updateIncident(pagerdutyId, fields);
  }
  await save();
  if (said.length === 0) return;
  await recordEvent(c, incident, {
    kind: PAGERDUTY_UPDATED,
    summary: `PagerDuty ${pdLabel({ id: pagerdutyId, ...(incident.pagerduty?.number ? { number: incident.pagerduty.number } : {}) })}: ${said.join('; ')}`,
    data: { pagerduty: pagerdutyId, ...fields, sent },
  });
}
