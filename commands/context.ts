// Shared checks for commands: the channel's incident and which service a command is about.
import { UsageError } from '../src/errors.ts';
import type { Incident } from '../src/incident.ts';
import type { Deps } from '../src/deps.ts';
import type { CommandContext } from './command.ts';
import { quoteInput, type ParsedArgs } from './args.ts';

/** What these checks read: the configured services. */
type Ctx = CommandContext<Pick<Deps, 'config'>>;

export function serviceList(ctx: Ctx): string {
  return Object.keys(ctx.deps.config.services).join(', ');
}

/** The named service, which must be configured. */
export function knownService(ctx: Ctx, name: string, usage: string): string {
  if (!Object.hasOwn(ctx.deps.config.services, name)) {
    throw new UsageError(
      `Unknown service ${quoteInput(name)}. Configured services: ${serviceList(ctx)}.`,
      usage,
    );
  }
  return name;
}

/** The active incident of this channel, or a usage error saying to declare one. */
export function requireIncident(ctx: Ctx, usage: string): Incident {
  if (!ctx.incident) {
    throw new UsageError(
      'This channel has no active incident. Declare one first with `/incident declare <service> <title>`, then run this here.',
      usage,
    );
  }
  return ctx.incident;
}

/**
 * For commands that act inside an incident: the service may be left out (the incident's is used);
 * naming another service than the incident's is refused, so nothing lands on the wrong timeline.
 */
export function incidentService(
  ctx: Ctx,
  word: string | undefined,
  usage: string,
): { incident: Incident; service: string } {
  const incident = requireIncident(ctx, usage);
  if (word === undefined) return { incident, service: incident.service };
  const service = knownService(ctx, word, usage);
  if (service !== incident.service) {
    throw new UsageError(
      `This channel's incident ${incident.id} is about ${incident.service}, not ${service}. Run it in ${service}'s incident channel, or leave the service out.`,
      usage,
    );
  }
  return { incident, service };
}

/**
 * For commands that also work outside an incident (status, preflight, canary control): the named service, else
 * the channel incident's service, else a usage error asking for it.
 */
export function namedOrIncidentService(ctx: Ctx, word: string | undefined, usage: string): string {
  if (word !== undefined) return knownService(ctx, word, usage);
  if (ctx.incident) return ctx.incident.service;
  throw new UsageError(
    `Name the service (this channel has no active incident to take it from). Configured services: ${serviceList(ctx)}.`,
    usage,
  );
}

/**
 * For commands that read an incident after the fact (timeline, post-mortem): they take no arguments, and read this
 * channel's incident, open or resolved. `does` says what the command does; `nothingYet` why it needs an incident.
 */
export async function channelIncidentOnly(
  ctx: CommandContext<Pick<Deps, 'incidents'>>,
  args: ParsedArgs,
  spec: { name: string; usage: readonly string[] },
  does: string,
  nothingYet = '',
): Promise<Incident> {
  const usage = spec.usage.join('\n');
  if (args.words.length > 0 || args.options.size > 0) {
    throw new UsageError(`${spec.name} takes no arguments; it ${does}.`, usage);
  }
  const incident = ctx.incident ?? (await ctx.deps.incidents.latest(ctx.inv.channel));
  if (!incident) {
    throw new UsageError(
      `This channel has no incident yet${nothingYet}. Declare one with \`/incident declare <service> <title>\`.`,
      usage,
    );
  }
  return incident;
}
