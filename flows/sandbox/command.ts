// /sandbox up|down|status: the incident's offline replica from the team's Terraform (runbook step U).
import { Sandboxes } from './sandbox.ts';
import { subcommandAndService } from '../../commands/subcommands.ts';
import type { SandboxCaps } from './caps.ts';
import { command } from '../../commands/command.ts';
import { incidentService } from '../../commands/context.ts';

const USAGE = ['/sandbox up [service]', '/sandbox down [service]', '/sandbox status [service]'];

export const sandboxCommand = command<SandboxCaps>('/sandbox', USAGE, {
  summary: "Stand up (or tear down) an offline replica of the failing environment from the team's Terraform",
  usageHint: 'up|down|status [service]',
  examples: ['/sandbox up', '/sandbox status', '/sandbox down payments'],
  async run(ctx, args, usage) {
    const { sub, serviceWord } = subcommandAndService('/sandbox', args, ['up', 'down', 'status'], usage);
    // A sandbox outlives its incident's resolution (its TTL still runs), so down and status also work then.
    const latest = sub !== 'up' && !ctx.incident ? await ctx.deps.incidents.latest(ctx.inv.channel) : null;
    const { incident, service } = incidentService(
      latest ? { ...ctx, incident: latest } : ctx,
      serviceWord,
      usage,
    );
    const sandboxes = new Sandboxes(ctx.deps);
    switch (sub) {
      case 'up':
        return ctx.inv.respond(await sandboxes.up({ incident, service, actor: ctx.actor, usage }));
      case 'down':
        return ctx.inv.respond(await sandboxes.down({ incident, actor: ctx.actor, usage }));
      case 'status':
        return ctx.inv.respond(await sandboxes.status(incident, usage));
    }
  },
});
