// /timeline: the incident's events in UTC and whether the hash chain still verifies.
import { timelineMessage } from '../../src/chat/blocks/timeline.ts';
import type { TimelineCaps } from './caps.ts';
import { command } from '../../commands/command.ts';
import { channelIncidentOnly } from '../../commands/context.ts';

const USAGE = ['/timeline'];

export const timelineCommand = command<TimelineCaps>('/timeline', USAGE, {
  summary: "Show this channel's incident timeline and verify its hash chain",
  usageHint: '(no arguments)',
  examples: ['/timeline'],
  readOnly: true,
  async run(ctx, args) {
    const incident = await channelIncidentOnly(
      ctx,
      args,
      timelineCommand,
      'shows the timeline of the incident in this channel',
    );
    const anchors = await ctx.deps.incidents.anchors(incident);
    const { events, verification } = await ctx.deps.timeline.verify(incident.id, anchors);
    await ctx.inv.respond(timelineMessage(incident.id, events, verification));
  },
});
