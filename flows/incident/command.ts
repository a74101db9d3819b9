// /incident: declare, status, resolve, link and help; the lifecycle every runbook step hangs on.
import { helpMessage, notice } from '../../src/chat/blocks/common.ts';
import { incidentInvitees } from './oncall-invite.ts';
import { headlineMessage, listMessage } from './blocks.ts';
import { role, severity, update } from './lifecycle-command.ts';
import { UsageError } from '../../src/errors.ts';
import { parseSeverity, type Severity } from '../../src/incident.ts';
import type { Message } from '../../src/chat/chat.ts';
import type { Deps } from '../../src/deps.ts';
import type { Actor } from '../../src/timeline.ts';
import { declareForm } from './form.ts';
import { parsePagerDutyId } from '../pagerduty/index.ts';
import { allowOnly, parseArgs, quoteInput } from '../../commands/args.ts';
import type { CommandContext, CommandSpec } from '../../commands/command.ts';
import { pickSubcommand } from '../../commands/subcommands.ts';
import { knownService, requireIncident, serviceList } from '../../commands/context.ts';
import { resolveStatuspage } from './statuspage.ts';

const USAGE = [
  '/incident declare <service> [sev=1-5] [channel=new|here] [private=yes|no] [pagerduty=<incident-id>] [title…]',
  '/incident declare   (no arguments: opens the declare form)',
  '/incident status',
  '/incident list',
  '/incident role <role> @person',
  '/incident sev <1-5> <reason…>',
  '/incident update <text…>',
  '/incident resolve [summary…]',
  '/incident link <pagerduty-incident-id>',
  '/incident help',
];
const usage = USAGE.join('\n');

const SUBCOMMANDS = [
  'declare',
  'status',
  'list',
  'role',
  'sev',
  'update',
  'resolve',
  'link',
  'help',
] as const;

export const incidentCommand: CommandSpec = {
  name: '/incident',
  summary: 'Declare, follow and resolve an incident in this channel',
  usageHint:
    'declare <service> [title…] | status | list | role <role> @person | sev <1-5> <reason> | update <text> | resolve [summary…] | link <pagerduty-id> | help',
  usage: USAGE,
  examples: [
    '/incident declare payments sev=1 Cloud pods OOM, payments failing',
    '/incident resolve traffic on legacy',
  ],
  async run(ctx) {
    const args = parseArgs(ctx.inv.text, usage);
    if (args.words.length === 0) {
      if (args.options.size > 0)
        throw new UsageError(
          'Say what to do first (declare, status, list, role, sev, update, resolve, link or help), then its options, e.g. `/incident declare payments sev=1`.',
          usage,
        );
      return ctx.inv.respond(helpMessage([...ctx.commands]));
    }
    const { sub, rest } = pickSubcommand(args, SUBCOMMANDS, usage, { severity: 'sev' });
    switch (sub) {
      case 'declare':
        return declare(ctx, rest, args.options);
      case 'status':
        allowOnly(args, [], usage);
        if (rest.length > 0)
          throw new UsageError(
            `/incident status takes nothing after it; got ${rest.map(quoteInput).join(' ')}.`,
            usage,
          );
        return status(ctx);
      case 'resolve':
        allowOnly(args, [], usage);
        return resolve(ctx, rest.join(' '));
      case 'help':
        return ctx.inv.respond(helpMessage([...ctx.commands]));
      case 'link':
        allowOnly(args, [], usage);
        return link(ctx, rest);
      case 'list':
        allowOnly(args, [], usage);
        if (rest.length > 0)
          throw new UsageError(
            `/incident list takes nothing after it; got ${rest.map(quoteInput).join(' ')}.`,
            usage,
          );
        return ctx.inv.respond(listMessage(await ctx.deps.incidents.listActive()));
      case 'role':
        allowOnly(args, [], usage);
        return role(ctx, rest, usage);
      // Reasons and updates are free text: a key=value inside them is part of the text, not an option.
      case 'sev':
        return severity(ctx, afterWord(ctx.inv.text), usage);
      case 'update':
        return update(ctx, afterWord(ctx.inv.text), usage);
    }
  },
};

/** The raw text after the subcommand. */
function afterWord(text: string): string {
  return text.trim().replace(/^\S+\s*/, '');
}

async function declare(ctx: CommandContext, words: string[], options: Map<string, string>): Promise<void> {
  const [serviceWord, ...titleWords] = words;
  for (const key of options.keys()) {
    if (!DECLARE_OPTIONS.includes(key))
      throw new UsageError(
        `Unknown option ${key}=; declare takes sev=1-5, channel=new|here, private=yes|no and pagerduty=<incident-id>.`,
        usage,
      );
  }
  const settings = ctx.deps.config.incident.channels;
  const channelText = options.get('channel') ?? (settings.create ? 'new' : 'here');
  if (channelText !== 'new' && channelText !== 'here')
    throw new UsageError(
      `channel=${quoteInput(channelText)} is not a choice; write channel=new (a channel of its own) or channel=here.`,
      usage,
    );
  const privateText = options.get('private');
  if (privateText !== undefined && !YES_NO.has(privateText))
    throw new UsageError(`private=${quoteInput(privateText)} is not yes or no.`, usage);
  if (privateText !== undefined && channelText === 'here')
    throw new UsageError('private= applies to a new channel; drop it or use channel=new.', usage);
  const isPrivate = privateText === undefined ? settings.private : YES_NO.get(privateText) === true;
  if (!serviceWord) {
    // With nothing after declare, Slack users get the declare form; the console asks for the arguments inline.
    if (options.size === 0 && ctx.inv.triggerId) {
      await ctx.deps.chat.openView(
        ctx.inv.triggerId,
        declareForm(ctx.deps.config, ctx.inv.channel, ctx.actor.id),
      );
      return;
    }
    throw new UsageError(`Name the service. Configured services: ${serviceList(ctx)}.`, usage);
  }
  const service = knownService(ctx, serviceWord, usage);
  const sevText = options.get('sev');
  const severity = sevText === undefined ? 'SEV2' : parseSeverity(sevText);
  if (!severity)
    throw new UsageError(
      `sev=${quoteInput(sevText ?? '')} is not a severity; write sev=1 (worst) to sev=5.`,
      usage,
    );
  const title = titleWords.join(' ').trim() || `${service} degraded during cloud migration`;
  if (title.length > 200)
    throw new UsageError('The title is over 200 characters; keep it to one line.', usage);
  const pdText = options.get('pagerduty');
  const pagerdutyId = pdText === undefined ? undefined : parsePagerDutyId(pdText);
  if (pdText !== undefined && !pagerdutyId) throw new UsageError(badPagerDutyId(pdText), usage);
  if (pagerdutyId && !ctx.deps.pagerduty.enabled) throw new UsageError(PAGERDUTY_OFF, usage);
  await runDeclare(ctx.deps, ctx.actor, ctx.inv.channel, ctx.inv.respond, {
    service,
    title,
    severity,
    ownChannel: channelText === 'new',
    isPrivate,
    ...(pagerdutyId ? { pagerdutyId } : {}),
  });
}

export interface DeclareRequest {
  service: string;
  title: string;
  severity: Severity;
  ownChannel: boolean;
  isPrivate: boolean;
  pagerdutyId?: string;
  commander?: Actor;
}

/** Declares a checked request (from the command or the declare form) and tells the declarer what happened. */
export async function runDeclare(
  deps: Deps,
  actor: Actor,
  origin: string,
  respond: (message: Message) => Promise<void>,
  request: DeclareRequest,
): Promise<void> {
  const { service, title, severity, pagerdutyId, isPrivate } = request;
  const mirror = deps.pagerduty;
  // Asked before declaring, so the mirror's first pass links this one instead of paging with a new incident.
  let linkChannel: string | undefined;
  let incident;
  const invitees = request.ownChannel ? await incidentInvitees(deps, service) : { ids: [], missed: [] };
  try {
    incident = await deps.incidents.declare({
      service,
      title,
      severity,
      channel: origin,
      actor,
      ...(request.commander ? { commander: request.commander } : {}),
      ...(request.ownChannel
        ? {
            ownChannel: {
              private: isPrivate,
              invite: invitees.ids,
            },
          }
        : {}),
      ...(pagerdutyId
        ? {
            onChannel: async (channel: string) => {
              linkChannel = channel;
              await mirror.requestLinkForChannel(channel, pagerdutyId);
            },
          }
        : {}),
    });
  } catch (err) {
    if (linkChannel) await mirror.cancelChannelRequest(linkChannel);
    throw err;
  }
  if (pagerdutyId) await mirror.requestLink(incident, pagerdutyId);
  const serviceId = deps.config.services[service]?.pagerduty?.serviceId;
  const pd = !mirror.enabled
    ? ''
    : pagerdutyId
      ? ` PagerDuty: linking ${pagerdutyId}; the headline links it once read.`
      : serviceId
        ? ` PagerDuty: opening an incident on service ${serviceId}; the headline links it once created.`
        : ` PagerDuty: ${service} has no pagerduty.serviceId, so nothing is paged; \`/incident link <id>\` attaches an existing incident.`;
  await respond(
    notice(
      `Declared *${incident.id}* for *${service}*${incident.channel !== origin ? ` in its own channel <#${incident.channel}>` : ''}. The pinned headline tracks the CLOUD-SAFETY checklist.${pd}${invitees.missed.length > 0 ? ` Not invited (invite them by hand): ${invitees.missed.join('; ')}.` : ''} Next: \`/contain\` ${incident.channel !== origin ? 'there ' : ''}to move traffic back to legacy.`,
    ),
  );
}

const DECLARE_OPTIONS = ['sev', 'pagerduty', 'channel', 'private'];
const YES_NO = new Map([
  ['yes', true],
  ['true', true],
  ['no', false],
  ['false', false],
]);

const PAGERDUTY_OFF =
  'PagerDuty is not set up here: set PAGERDUTY_TOKEN (a REST API key) and PAGERDUTY_FROM (the email the bot acts as), then restart.';

function badPagerDutyId(text: string): string {
  return `${quoteInput(text)} is not a PagerDuty incident id; give the id from the incident's URL (https://<you>.pagerduty.com/incidents/<id>, like PT4KHLK) or paste the URL.`;
}

async function link(ctx: CommandContext, words: string[]): Promise<void> {
  const incident = requireIncident(ctx, usage);
  const [idText, ...extra] = words;
  if (!idText || extra.length > 0)
    throw new UsageError('Give exactly one PagerDuty incident id (or its URL) to link.', usage);
  const pagerdutyId = parsePagerDutyId(idText);
  if (!pagerdutyId) throw new UsageError(badPagerDutyId(idText), usage);
  if (!ctx.deps.pagerduty.enabled) throw new UsageError(PAGERDUTY_OFF, usage);
  const previous = incident.pagerduty;
  const pd = await ctx.deps.pagerduty.link(incident, pagerdutyId, ctx.actor);
  const label = pd.number ? `#${pd.number}` : pd.id;
  await ctx.inv.respond(
    notice(
      `Linked *${incident.id}* to PagerDuty ${pd.url ? `<${pd.url}|${label}>` : label} "${pd.title}" (${pd.status}). The timeline so far is being copied there as notes; \`/incident resolve\` resolves it too.${previous ? ` It replaces ${previous.number ? `#${previous.number}` : previous.id}; if the bot had created that one, it is resolved there as a duplicate.` : ''}`,
    ),
  );
}

async function status(ctx: CommandContext): Promise<void> {
  // After resolve the channel has no active incident; status still shows the last one (and its PagerDuty side).
  const incident =
    ctx.incident ?? (await ctx.deps.incidents.latest(ctx.inv.channel)) ?? requireIncident(ctx, usage);
  await ctx.inv.respond(
    headlineMessage(incident, { pagerdutyLine: await ctx.deps.pagerduty.describe(incident) }),
  );
}

async function resolve(ctx: CommandContext, summary: string): Promise<void> {
  const incident = requireIncident(ctx, usage);
  if (summary.length > 500) throw new UsageError('Keep the resolution summary under 500 characters.', usage);
  const cancelled = await ctx.deps.approvals.cancelOpen(
    incident.id,
    ctx.actor,
    `incident ${incident.id} resolved`,
  );
  await ctx.deps.incidents.resolve(incident, ctx.actor, summary);
  const statuspage = await resolveStatuspage(ctx.deps, incident, summary);
  const pd = incident.pagerduty
    ? ` PagerDuty ${incident.pagerduty.number ? `#${incident.pagerduty.number}` : incident.pagerduty.id} gets the last notes and is resolved in the background (\`/incident status\` shows it).`
    : '';
  await ctx.inv.respond(
    notice(
      `Resolved *${incident.id}*.${cancelled > 0 ? ` ${cancelled} pending request(s) were cancelled.` : ''}${pd}${statuspage} \`/postmortem\` drafts the post-mortem from the timeline.`,
    ),
  );
}
