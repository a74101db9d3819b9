// PagerDuty mirror, fields: the PagerDuty incident's assignee follows a commander handover, its urgency and priority
// follow a severity change.
import { PAGERDUTY_ID, type IncidentFields } from '../../src/adapters/pagerduty.ts';
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

/**
 * The PagerDuty user a Slack user is, from `access.pagerdutyUsers`: an entry keyed by PagerDuty id, else one keyed
 * by email, looked up in PagerDuty (GET /users); otherwise why not, in words that say how to map them.
 */
async function pagerdutyUserOf(
  c: MirrorContext,
  commander: Incident['commander'],
): Promise<{ id: string; via?: string } | { why: string }> {
  const entries = Object.entries(c.deps.config.access.pagerdutyUsers).filter(
    ([, slack]) => slack === commander.id,
  );
  const byId = entries.find(([pd]) => PAGERDUTY_ID.test(pd))?.[0];
  if (byId) return { id: byId };
  const add = `add "<PagerDuty user id>: ${commander.id}"`;
  const emails = entries.map(([key]) => key).filter((key) => key.includes('@'));
  const find = c.deps.rest?.findUserByEmail?.bind(c.deps.rest);
  if (emails.length === 0 || !find)
    return { why: `${commander.name} has no PagerDuty user id in access.pagerdutyUsers (${add})` };
  for (const email of emails) {
    await c.pace();
    const user = await find(email);
    if (user) return { id: user.id, via: email };
  }
  return {
    why: `no PagerDuty user has the login email ${emails.join(' or ')} that access.pagerdutyUsers gives ${commander.name} (correct it, or ${add})`,
  };
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
    const assignee = await pagerdutyUserOf(c, incident.commander);
    if ('id' in assignee) {
      fields.assignee = assignee.id;
      said.push(
        `assigned to ${incident.commander.name} (${assignee.id}${assignee.via ? `, found by ${assignee.via}` : ''}), the new commander`,
      );
    } else {
      said.push(`not reassigned: ${assignee.why}`);
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
