// /timeline: the incident's events in UTC and whether the hash chain still verifies.
import { timelineMessage } from '../../src/chat/blocks/timeline.ts';
import { UsageError } from '../../src/errors.ts';
import { parseArgs } from '../../commands/args.ts';
import type { CommandSpec } from '../../commands/command.ts';

const USAGE = ['/timeline'];

export const timelineCommand: CommandSpec = {
  name: '/timeline',
  summary: "Show this channel's incident timeline and verify its hash chain",
  usageHint: '(no arguments)',
  usage: USAGE,
  examples: ['/timeline'],
  readOnly: true,
  async run(ctx) {
    const args = parseArgs(ctx.inv.text, USAGE.join('\n'));
    if (args.words.length > 0 || args.options.size > 0) {
      throw new UsageError(
        '/timeline takes no arguments; it shows the timeline of the incident in this channel.',
        USAGE.join('\n'),
      );
    }
    const incident = ctx.incident ?? (await ctx.deps.incidents.latest(ctx.inv.channel));
    if (!incident) {
      throw new UsageError(
        'This channel has no incident yet. Declare one with `/incident declare <service> <title>`.',
        USAGE.join('\n'),
      );
    }
    const anchors = await ctx.deps.incidents.anchors(incident);
    const { events, verification } = await ctx.deps.timeline.verify(incident.id, anchors);
    await ctx.inv.respond(timelineMessage(incident.id, events, verification));
  },
};
