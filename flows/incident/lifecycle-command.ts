// /incident role, sev and update: parse and check every argument before anything is recorded.
import { updateStatuspage } from './statuspage.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import { mention } from '../../src/chat/blocks/kit.ts';
import { UsageError } from '../../src/errors.ts';
import { parseSeverity } from '../../src/incident.ts';
import { quoteInput } from '../../commands/args.ts';
import type { IncidentCaps } from './caps.ts';
import type { CommandContext } from '../../commands/command.ts';
import { requireIncident } from '../../commands/context.ts';

const MAX_REASON = 500;
const MAX_UPDATE = 2000;

export async function role(ctx: CommandContext<IncidentCaps>, words: string[], usage: string): Promise<void> {
  const incident = requireIncident(ctx, usage);
  const roles = ctx.deps.config.incident.roles;
  const [roleWord, who, ...extra] = words;
  if (!roleWord || !who || extra.length > 0)
    throw new UsageError(
      `Name a role and one person, e.g. \`/incident role commander @bob\`. Roles: ${roles.join(', ')}.`,
      usage,
    );
  const name = roleWord.toLowerCase();
  if (!roles.includes(name))
    throw new UsageError(
      `Unknown role ${quoteInput(roleWord)}. Roles here: ${roles.join(', ')} (incident.roles in cloud-safety.yml).`,
      usage,
    );
  const person = await ctx.deps.chat.findUser(who);
  if (!person)
    throw new UsageError(
      `${quoteInput(who)} is not a person in this workspace; mention them with @ and pick them from the list.`,
      usage,
    );
  const current = name === 'commander' ? incident.commander : incident.roles?.[name];
  if (current?.id === person.id)
    throw new UsageError(`${person.name} is already ${name} of ${incident.id}; nothing changed.`, usage);
  const { previous } = await ctx.deps.incidents.lifecycle.assignRole(
    incident,
    name,
    { type: 'user', id: person.id, name: person.name },
    ctx.actor,
  );
  const pd = incident.pagerduty ? ' PagerDuty gets a note.' : '';
  await ctx.inv.respond(
    notice(
      name === 'commander'
        ? `${mention(person.id)} is now commander of *${incident.id}* (was ${previous ? mention(previous.id) : 'nobody'}). The headline and the timeline show the handover.${incident.pagerduty ? ' PagerDuty gets a note and is assigned to them.' : ''}`
        : `${mention(person.id)} is now ${name} of *${incident.id}*${previous ? ` (was ${mention(previous.id)})` : ''}.${pd}`,
    ),
  );
}

export async function severity(
  ctx: CommandContext<IncidentCaps>,
  text: string,
  usage: string,
): Promise<void> {
  const incident = requireIncident(ctx, usage);
  const [levelWord, ...reasonWords] = text.split(/\s+/).filter(Boolean);
  if (!levelWord)
    throw new UsageError('Give the new severity and why, e.g. `/incident sev 1 checkout down too`.', usage);
  const level = parseSeverity(levelWord);
  if (!level)
    throw new UsageError(
      `${quoteInput(levelWord)} is not a severity; give 1 (worst) to 5, e.g. \`/incident sev 1 checkout down too\`.`,
      usage,
    );
  const reason = reasonWords.join(' ').trim();
  if (!reason)
    throw new UsageError(
      `Say why ${incident.id} becomes ${level}, e.g. \`/incident sev ${level.slice(3)} <reason>\`; the post-mortem shows it.`,
      usage,
    );
  if (reason.length > MAX_REASON)
    throw new UsageError(`Keep the reason under ${MAX_REASON} characters.`, usage);
  if (level === incident.severity)
    throw new UsageError(`${incident.id} is already ${level}; nothing changed.`, usage);
  const updated = await ctx.deps.incidents.lifecycle.changeSeverity(incident, level, reason, ctx.actor);
  const reminded = Number(updated.severity.slice(3)) <= 2;
  await ctx.inv.respond(
    notice(
      `*${incident.id}* is now ${level} (was ${incident.severity}).${reminded ? ' Status updates are due every ' + ctx.deps.config.incident.updateEvery / 60_000 + ' min; the commander is reminded when one is late.' : ''}${incident.pagerduty ? ' PagerDuty gets a note, and its urgency and priority follow.' : ''}`,
    ),
  );
}

export async function update(ctx: CommandContext<IncidentCaps>, text: string, usage: string): Promise<void> {
  const incident = requireIncident(ctx, usage);
  if (!text)
    throw new UsageError(
      'Write the update, e.g. `/incident update Traffic is on legacy, errors back to normal; next update in 30 min`.',
      usage,
    );
  if (text.length > MAX_UPDATE)
    throw new UsageError(`That update is ${text.length} characters; keep it under ${MAX_UPDATE}.`, usage);
  const result = await ctx.deps.incidents.lifecycle.postUpdate(incident, text, ctx.actor);
  const statuspage = await updateStatuspage(ctx.deps, result.incident, text);
  await ctx.inv.respond(
    notice(
      `Update posted in <#${incident.channel}>${result.stakeholders ? ` and to stakeholders in <#${result.stakeholders}>` : ' (no stakeholder channel: set services.' + incident.service + '.announce)'}, and recorded on the timeline.${statuspage}`,
    ),
  );
}
