// Views of an incident: the pinned headline with the CLOUD-SAFETY checklist, and the status reply.
import type { Message } from '../../src/chat/chat.ts';
import type { Incident } from '../../src/incident.ts';
import type { Actor } from '../../src/timeline.ts';
import { STEPS, type StepState } from '../../src/runbook.ts';
import * as kit from '../../src/chat/blocks/kit.ts';

const STATE_ICON: Record<StepState, string> = {
  not_started: ':white_circle:',
  in_progress: ':large_blue_circle:',
  done: ':white_check_mark:',
  skipped: ':fast_forward:',
};

const STATE_WORD: Record<StepState, string> = {
  not_started: 'not started',
  in_progress: 'in progress',
  done: 'done',
  skipped: 'skipped',
};

export function incidentRef(incident: Pick<Incident, 'id'>): string {
  return incident.id;
}

function checklistLines(incident: Incident): string {
  return STEPS.map((step) => {
    const status = incident.checklist[step.id];
    const last = status.last
      ? ` — ${kit.escapeText(status.last.summary)} _(${kit.utc(status.last.at).slice(11)})_`
      : '';
    return `${STATE_ICON[status.state]} *${step.id}* ${step.title}: ${STATE_WORD[status.state]} · \`${step.commands.join('` `')}\`${last}`;
  }).join('\n');
}

/** The headline message: posted on declare, pinned, edited in place as things change. */
export function headlineMessage(
  incident: Incident,
  extra: { pagerdutyLine?: string; anchor?: string } = {},
): Message {
  const resolved = incident.status === 'resolved';
  const icon = resolved ? ':large_green_circle:' : ':rotating_light:';
  const blocks = [
    kit.header(
      `${resolved ? 'RESOLVED' : 'INCIDENT'} ${incident.id} · ${incident.service} · ${incident.severity}`,
    ),
    kit.section(`${icon} *${kit.escapeText(incident.title)}*`),
    kit.fields([
      ['Status', resolved ? `Resolved ${kit.utc(incident.resolvedAt ?? '')}` : 'Active'],
      ['Commander', kit.mention(incident.commander.id)],
      ['Declared', kit.utc(incident.declaredAt)],
      ['PagerDuty', extra.pagerdutyLine ?? (incident.pagerduty ? pagerdutyLink(incident) : 'not linked')],
      // Slack allows ten fields in a section; four are above, the rest go to the roles line.
      ['Last update', incident.lastUpdateAt ? kit.utc(incident.lastUpdateAt) : 'none yet'],
    ]),
    ...(rolesLine(incident) ? [kit.context(rolesLine(incident))] : []),
    kit.divider(),
    kit.section(`*CLOUD-SAFETY checklist*\n${checklistLines(incident)}`),
  ];
  if (resolved && incident.resolution)
    blocks.push(kit.section(`*Resolution:* ${kit.escapeText(incident.resolution)}`));
  blocks.push(
    kit.context(
      incident.lastEvent
        ? `Last: ${kit.escapeText(incident.lastEvent.summary)} (${kit.utc(incident.lastEvent.at)})`
        : 'Nothing recorded yet',
      '`/incident help` lists every command',
      ...(extra.anchor ? [`Timeline ${extra.anchor}`] : []),
    ),
  );
  return {
    text: `${incident.id} ${incident.service} ${incident.severity} (${resolved ? 'resolved' : 'active'}): ${incident.title}${extra.anchor ? ` · ${extra.anchor}` : ''}`,
    blocks,
  };
}

function pagerdutyLink(incident: Incident): string {
  const pd = incident.pagerduty;
  if (!pd) return 'not linked';
  const label = pd.number ? `#${pd.number}` : pd.id;
  return pd.url ? `<${pd.url}|${label}>` : label;
}

function rolesLine(incident: Incident): string {
  return Object.entries(incident.roles ?? {})
    .map(([role, person]) => `${role}: ${kit.mention(person.id)}`)
    .join(' · ');
}

/** A status update, as posted in the incident channel and to stakeholders. */
export function updateMessage(incident: Incident, text: string, author: Actor, at: string): Message {
  return {
    text: `${incident.id} ${incident.service} ${incident.severity} update: ${text}`,
    blocks: [
      kit.section(
        `:mega: *Update on ${incident.id}* · ${incident.service} · ${incident.severity} · ${kit.escapeText(incident.title)}`,
      ),
      kit.section(kit.escapeText(text)),
      kit.context(
        `Posted by ${kit.mention(author.id)} at ${kit.utc(at)} · commander ${kit.mention(incident.commander.id)}`,
      ),
    ],
  };
}

/** One line per open incident, for /incident list and the App Home. */
export function incidentLines(incidents: Incident[]): string[] {
  return incidents.map((i) => {
    const done = STEPS.filter((s) => i.checklist[s.id].state === 'done').map((s) => s.id);
    return `*${i.id}* · ${i.service} · ${i.severity} · commander ${kit.mention(i.commander.id)} · <#${i.channel}> · steps done: ${done.length > 0 ? done.join(' ') : 'none'}\n${kit.escapeText(i.title)}`;
  });
}

export function listMessage(incidents: Incident[]): Message {
  if (incidents.length === 0)
    return {
      text: 'No open incidents.',
      blocks: [kit.section('No open incidents. `/incident declare` opens one.')],
    };
  const sorted = [...incidents].sort(
    (a, b) => a.severity.localeCompare(b.severity) || a.declaredAt.localeCompare(b.declaredAt),
  );
  return {
    text: `${sorted.length} open incident(s): ${sorted.map((i) => `${i.id} ${i.service} ${i.severity}`).join(', ')}`,
    blocks: [
      kit.header(`Open incidents (${sorted.length})`),
      // Slack caps a message at 50 blocks; a list that long says how many it left out.
      ...sorted.slice(0, 45).map((line) => kit.section(incidentLines([line])[0] ?? '')),
      ...(sorted.length > 45 ? [kit.context(`…and ${sorted.length - 45} more`)] : []),
    ],
  };
}

/** The one line posted where an incident was declared and to stakeholders, pointing at its channel. */
export function declaredLink(incident: Incident): Message {
  return {
    text: `${incident.id} declared on ${incident.service} (${incident.severity}): ${incident.title}`,
    blocks: [
      kit.section(
        `:rotating_light: *${incident.id}* declared on *${incident.service}* (${incident.severity}): ${kit.escapeText(incident.title)} → <#${incident.channel}> · commander ${kit.mention(incident.commander.id)}`,
      ),
    ],
  };
}
