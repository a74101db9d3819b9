// /breaker arm|disarm|status: the circuit breaker that shifts traffic back to legacy with no human (runbook step D).
import { breakerStatus, disarm, requestArm } from './evaluator.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import { UsageError } from '../../src/errors.ts';
import { subcommandAndService } from '../../commands/subcommands.ts';
import type { BreakerCaps } from './caps.ts';
import { command } from '../../commands/command.ts';
import { incidentService, namedOrIncidentService } from '../../commands/context.ts';

const USAGE = ['/breaker arm [service]', '/breaker disarm [service]', '/breaker status [service]'];

export const breakerCommand = command<BreakerCaps>('/breaker', USAGE, {
  summary:
    'Arm (two-person approval), disarm or inspect the circuit breaker that shifts traffic back to legacy',
  usageHint: 'arm|disarm|status [service]',
  examples: ['/breaker arm', '/breaker status payments', '/breaker disarm'],
  async run(ctx, args, usage) {
    const { sub, serviceWord } = subcommandAndService('/breaker', args, ['arm', 'disarm', 'status'], usage);
    if (sub === 'status') {
      const service = namedOrIncidentService(ctx, serviceWord, usage);
      return ctx.inv.respond(await breakerStatus(ctx.deps, service, usage));
    }
    if (sub === 'disarm') {
      const service = namedOrIncidentService(ctx, serviceWord, usage);
      const text = await disarm(ctx.deps, { service, actor: ctx.actor, incident: ctx.incident, usage });
      return ctx.inv.respond(notice(text));
    }
    if (!ctx.incident) {
      throw new UsageError(
        'Arming is approved and recorded on an incident timeline. Run /breaker arm in the incident channel, or declare a change first, e.g. `/incident declare payments sev=4 Re-migration of payments`.',
        usage,
      );
    }
    const { incident, service } = incidentService(ctx, serviceWord, usage);
    const action = await requestArm(ctx.deps, { incident, service, requester: ctx.actor, usage });
    await ctx.inv.respond(
      notice(
        `Approval card posted for *${action.summary}* (${action.id}). Ask an approver (${ctx.deps.access.describeApprovers()}) to press Approve; it expires at ${action.expiresAt.slice(11, 16)} UTC.`,
      ),
    );
  },
});
