// /postmortem: drafts the post-mortem of this channel's incident (open or resolved) from its timeline.
import { postmortemMessage } from './blocks.ts';
import { generatePostmortem } from './postmortem.ts';
import type { PostmortemCaps } from './caps.ts';
import { command } from '../../commands/command.ts';
import { channelIncidentOnly } from '../../commands/context.ts';

const USAGE = ['/postmortem'];

export const postmortemCommand = command<PostmortemCaps>('/postmortem', USAGE, {
  summary: "Draft the post-mortem from this channel's incident timeline (Markdown + JSON)",
  usageHint: '(no arguments)',
  examples: ['/postmortem'],
  async run(ctx, args) {
    const incident = await channelIncidentOnly(
      ctx,
      args,
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
});
