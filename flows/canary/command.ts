// /canary start|pause|resume|abort: ramp the cloud share back up in small approved steps the breaker guards.
import { abortCanary, pauseCanary, requestCanary, resumeCanary } from './canary.ts';
import { breakerConfig, getBreaker, preflightMessage } from '../breaker/index.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import { formatDuration, parseDuration } from '../../src/duration.ts';
import { UsageError } from '../../src/errors.ts';
import { allowOnly, parseArgs, quoteInput } from '../../commands/args.ts';
import type { CommandContext, CommandSpec } from '../../commands/command.ts';
import { atMostService, pickSubcommand } from '../../commands/subcommands.ts';
import { incidentService, namedOrIncidentService } from '../../commands/context.ts';

const USAGE = [
  '/canary start [service] [steps=1,5,25,50] [bake=10m]',
  '/canary pause [service]',
  '/canary resume [service]',
  '/canary abort [service]',
];
const usage = USAGE.join('\n');
const MAX_STEPS = 20;

/** steps=1,5,25,50: whole percentages of cloud traffic, increasing, 1-100; the last is where the canary ends. */
export function parseSteps(text: string): number[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) {
    throw new UsageError(
      `steps=${quoteInput(text)} has an empty step; write whole cloud percentages separated by commas, like steps=1,5,25,50.`,
      usage,
    );
  }
  if (items.length > MAX_STEPS) throw new UsageError(`steps= takes at most ${MAX_STEPS} steps.`, usage);
  const steps: number[] = [];
  for (const item of items) {
    const match = /^(\d{1,3})%?$/.exec(item);
    if (!match) {
      const hint = /^\d+[.,]\d+%?$/.test(item) ? ' Weights are whole percentages.' : '';
      throw new UsageError(
        `Step ${quoteInput(item)} is not a whole percentage.${hint} Write steps like steps=1,5,25,50 (cloud %).`,
        usage,
      );
    }
    const value = Number(match[1]);
    if (value < 1 || value > 100) {
      throw new UsageError(
        `Step ${value}% is outside 1-100; each step is the cloud share in percent.`,
        usage,
      );
    }
    const previous = steps.at(-1);
    if (previous !== undefined && value <= previous) {
      throw new UsageError(
        `Steps must increase: ${value}% comes after ${previous}%. The schedule ends where it says, e.g. steps=1,5,25,50 ends at cloud 50%.`,
        usage,
      );
    }
    steps.push(value);
  }
  return steps;
}

export function parseBake(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1000) {
    throw new UsageError(
      `bake=${quoteInput(text)} is not a duration; write it like bake=10m or bake=90s.`,
      usage,
    );
  }
  return ms;
}

async function start(ctx: CommandContext, serviceWord: string | undefined, options: Map<string, string>) {
  const stepsText = options.get('steps');
  const bakeText = options.get('bake');
  const steps = stepsText !== undefined ? parseSteps(stepsText) : undefined;
  const bake = bakeText !== undefined ? parseBake(bakeText) : undefined;
  if (!ctx.incident) {
    throw new UsageError(
      'A canary start is approved and recorded on an incident timeline. Run it in the incident channel, or declare a change first, e.g. `/incident declare payments sev=4 Re-migration of payments`.',
      usage,
    );
  }
  const { incident, service } = incidentService(ctx, serviceWord, usage);
  const cfg = breakerConfig(ctx.deps, service, usage);
  const defaults = ctx.deps.config.services[service]?.canary;
  const finalSteps = steps ?? defaults?.steps ?? [1, 5, 25, 50];
  const bakeMs = bake ?? defaults?.bake ?? 10 * 60_000;
  const armed = await getBreaker(ctx.deps, service);
  const intervalMs = armed?.status === 'armed' && armed.settings ? armed.settings.intervalMs : cfg.interval;
  if (bakeMs < 3 * intervalMs) {
    throw new UsageError(
      `bake=${formatDuration(bakeMs)} is shorter than three breaker intervals (3 × ${formatDuration(intervalMs)} = ${formatDuration(3 * intervalMs)}): the breaker could not judge a step. Use bake=${formatDuration(3 * intervalMs)} or more.`,
      usage,
    );
  }
  if (bakeMs > 24 * 3_600_000) throw new UsageError('bake= is at most 24h.', usage);
  const { action, report, refused } = await requestCanary(ctx.deps, {
    incident,
    service,
    steps: finalSteps,
    bakeMs,
    requester: ctx.actor,
    usage,
  });
  if (!action) return ctx.inv.respond(preflightMessage(report, refused));
  const warns = report.checks.filter((c) => c.status === 'warn').map((c) => c.title);
  await ctx.inv.respond(
    notice(
      `Approval card posted for *${action.summary}* (${action.id}). Ask an approver (${ctx.deps.access.describeApprovers()}) to press Approve; it expires at ${action.expiresAt.slice(11, 16)} UTC.`,
      warns.length > 0
        ? `Preflight passed with warnings: ${warns.join('; ')}. /preflight shows how to fix them.`
        : 'Preflight passed.',
    ),
  );
}

export const canaryCommand: CommandSpec = {
  name: '/canary',
  summary: 'Ramp the cloud share back up in approved steps, each held while the breaker watches',
  usageHint: 'start|pause|resume|abort [service] [steps=1,5,25,50] [bake=10m]',
  usage: USAGE,
  examples: ['/canary start steps=1,5,25,50 bake=10m', '/canary pause', '/canary abort payments'],
  async run(ctx) {
    const args = parseArgs(ctx.inv.text, usage);
    const { sub, rest } = pickSubcommand(args, ['start', 'pause', 'resume', 'abort'], usage);
    allowOnly(args, sub === 'start' ? ['steps', 'bake'] : [], usage);
    const then = sub === 'start' ? ', then steps= and bake=' : '';
    const serviceWord = atMostService('/canary', sub, rest, usage, then);
    if (sub === 'start') return start(ctx, serviceWord, args.options);
    const service = namedOrIncidentService(ctx, serviceWord, usage);
    const text =
      sub === 'pause'
        ? await pauseCanary(ctx.deps, service, ctx.actor, undefined, usage)
        : sub === 'resume'
          ? await resumeCanary(ctx.deps, service, ctx.actor, usage)
          : await abortCanary(ctx.deps, service, ctx.actor, usage);
    await ctx.inv.respond(notice(text));
  },
};
