// /preflight: is the migration safe to (re)start? Records, TTL, health checks, CDC, breaker, a second approver.
import { runPreflight } from './preflight.ts';
import { preflightMessage } from '../breaker/index.ts';
import { UsageError } from '../../src/errors.ts';
import { allowOnly, parseArgs, quoteInput } from '../../commands/args.ts';
import type { CommandSpec } from '../../commands/command.ts';
import { namedOrIncidentService } from '../../commands/context.ts';

const USAGE = ['/preflight [service]'];
const usage = USAGE.join('\n');

export const preflightCommand: CommandSpec = {
  name: '/preflight',
  summary: 'Check the pre-migration list (records, TTL, health check, CDC, breaker armed, a second approver)',
  usageHint: '[service]',
  usage: USAGE,
  examples: ['/preflight', '/preflight payments'],
  async run(ctx) {
    const args = parseArgs(ctx.inv.text, usage);
    allowOnly(args, [], usage);
    if (args.words.length > 1) {
      throw new UsageError(
        `/preflight takes one service at most; got ${args.words.map(quoteInput).join(' ')}.`,
        usage,
      );
    }
    const service = namedOrIncidentService(ctx, args.words[0], usage);
    const report = await runPreflight(ctx.deps, {
      service,
      requester: ctx.actor,
      incident: ctx.incident,
      purpose: 'preflight',
    });
    await ctx.inv.respond(preflightMessage(report));
  },
};
