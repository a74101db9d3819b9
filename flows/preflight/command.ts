// /preflight: is the migration safe to (re)start? Records, TTL, health checks, CDC, breaker, a second approver.
import { runPreflight } from './preflight.ts';
import { preflightMessage } from '../breaker/index.ts';
import { UsageError } from '../../src/errors.ts';
import { allowOnly, quoteInput } from '../../commands/args.ts';
import type { PreflightCaps } from './caps.ts';
import { command } from '../../commands/command.ts';
import { namedOrIncidentService } from '../../commands/context.ts';

const USAGE = ['/preflight [service]'];

export const preflightCommand = command<PreflightCaps>('/preflight', USAGE, {
  summary: 'Check the pre-migration list (records, TTL, health check, CDC, breaker armed, a second approver)',
  usageHint: '[service]',
  examples: ['/preflight', '/preflight payments'],
  async run(ctx, args, usage) {
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
});
