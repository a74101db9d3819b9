// /incident: declare, status, resolve, link and help; the lifecycle every runbook step hangs on.
import { helpMessage, notice } from '../src/chat/blocks/common.ts';
import { headlineMessage } from '../src/chat/blocks/incident.ts';
import { UsageError } from '../src/errors.ts';
import { parseSeverity } from '../src/incident.ts';
import { allowOnly, parseArgs, quoteInput } from './args.ts';
import type { CommandContext, CommandSpec } from './command.ts';
import { knownService, requireIncident, serviceList } from './context.ts';

const USAGE = [
  '/incident declare <service> [sev=1-4] [title…]',
  '/incident status',
  '/incident resolve [summary…]',
  '/incident link <pagerduty-incident-id>',
  '/incident help',
];
const usage = USAGE.join('\n');

/** Filled in by the composition root so help lists every registered command. */
let registry: () => CommandSpec[] = () => [incidentCommand];
export function setHelpRegistry(list: () => CommandSpec[]): void {
  registry = list;
}

export const incidentCommand: CommandSpec = {
  name: '/incident',
  summary: 'Declare, follow and resolve an incident in this channel',
  usageHint: 'declare <service> [title…] | status | resolve [summary…] | link <pagerduty-id> | help',
  usage: USAGE,
  examples: [
    '/incident declare payments sev=1 Cloud pods OOM, payments failing',
    '/incident resolve traffic on legacy',
  ],
  async run(ctx) {
    const args = parseArgs(ctx.inv.text, usage);
    const [sub, ...rest] = args.words;
    switch (sub) {
      case 'declare':
        return declare(ctx, rest, args.options);
      case 'status':
        allowOnly(args, [], usage);
        return status(ctx);
      case 'resolve':
        allowOnly(args, [], usage);
        return resolve(ctx, rest.join(' '));
      case 'help':
      case undefined:
        return ctx.inv.respond(helpMessage(registry()));
      case 'link':
        throw new UsageError(
          'Linking to PagerDuty needs PagerDuty configured (PAGERDUTY_TOKEN); it is not set up here.',
          usage,
        );
      default:
        throw new UsageError(`Unknown subcommand ${quoteInput(sub)}.`, usage);
    }
  },
};

async function declare(ctx: CommandContext, words: string[], options: Map<string, string>): Promise<void> {
  const [serviceWord, ...titleWords] = words;
  for (const key of options.keys()) {
    if (key !== 'sev') throw new UsageError(`Unknown option ${key}=; declare takes sev=1-4.`, usage);
  }
  if (!serviceWord)
    throw new UsageError(`Name the service. Configured services: ${serviceList(ctx)}.`, usage);
  const service = knownService(ctx, serviceWord, usage);
  const sevText = options.get('sev');
  const severity = sevText === undefined ? 'SEV2' : parseSeverity(sevText);
  if (!severity)
    throw new UsageError(
      `sev=${quoteInput(sevText ?? '')} is not a severity; write sev=1 (worst) to sev=4.`,
      usage,
    );
  const title = titleWords.join(' ').trim() || `${service} degraded during cloud migration`;
  if (title.length > 200)
    throw new UsageError('The title is over 200 characters; keep it to one line.', usage);
  const incident = await ctx.deps.incidents.declare({
    service,
    title,
    severity,
    channel: ctx.inv.channel,
    actor: ctx.actor,
  });
  await ctx.inv.respond(
    notice(
      `Declared *${incident.id}* for *${service}*. The pinned headline tracks the CLOUD-SAFETY checklist. Next: \`/contain\` to move traffic back to legacy.`,
    ),
  );
}

async function status(ctx: CommandContext): Promise<void> {
  const incident = requireIncident(ctx, usage);
  await ctx.inv.respond(headlineMessage(incident));
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
  await ctx.inv.respond(
    notice(
      `Resolved *${incident.id}*.${cancelled > 0 ? ` ${cancelled} pending request(s) were cancelled.` : ''} \`/postmortem\` drafts the post-mortem from the timeline.`,
    ),
  );
}
