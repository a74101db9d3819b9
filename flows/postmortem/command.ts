// /postmortem: drafts the post-mortem of this channel's incident (open or resolved) from its timeline.
import { postmortemMessage } from './blocks.ts';
import { generatePostmortem } from './postmortem.ts';
import type { CommandSpec } from '../../commands/command.ts';
import { channelIncidentOnly } from '../../commands/context.ts';

const USAGE = ['/postmortem'];

export const postmortemCommand: CommandSpec = {
  name: '/postmortem',
  summary: "Draft the post-mortem from this channel's incident timeline (Markdown + JSON)",
  usageHint: '(no arguments)',
  usage: USAGE,
  examples: ['/postmortem'],
  async run(ctx) {
    const incident = await channelIncidentOnly(
      ctx,
      postmortemCommand,
      'drafts the post-mortem of the incident in this channel (open or resolved)',
      ', so there is nothing to write up',
    );
    const result = await generatePostmortem(ctx.deps, incident, ctx.actor);
    await ctx.inv.respond(
      postmortemMessage({
        doc: result.doc,
        ...(result.markdown.path ? { markdownPath: result.markdown.path } : {}),
        ...(result.json.path ? { jsonPath: result.json.path } : {}),
        ...(result.markdown.upload?.permalink ? { permalink: result.markdown.upload.permalink } : {}),
        ...(result.notWritten ? { notWritten: result.notWritten } : {}),
        ...(result.uploadError ? { uploadError: result.uploadError } : {}),
      }),
    );
  },
};
