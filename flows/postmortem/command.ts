// /postmortem: drafts the post-mortem of this channel's incident (open or resolved) from its timeline.
import { postmortemMessage } from './blocks.ts';
import { UsageError } from '../../src/errors.ts';
import { generatePostmortem } from './postmortem.ts';
import { parseArgs } from '../../commands/args.ts';
import type { CommandSpec } from '../../commands/command.ts';

const USAGE = ['/postmortem'];

export const postmortemCommand: CommandSpec = {
  name: '/postmortem',
  summary: "Draft the post-mortem from this channel's incident timeline (Markdown + JSON)",
  usageHint: '(no arguments)',
  usage: USAGE,
  examples: ['/postmortem'],
  async run(ctx) {
    const args = parseArgs(ctx.inv.text, USAGE.join('\n'));
    if (args.words.length > 0 || args.options.size > 0) {
      throw new UsageError(
        '/postmortem takes no arguments; it drafts the post-mortem of the incident in this channel (open or resolved).',
        USAGE.join('\n'),
      );
    }
    const incident = ctx.incident ?? (await ctx.deps.incidents.latest(ctx.inv.channel));
    if (!incident) {
      throw new UsageError(
        'This channel has no incident yet, so there is nothing to write up. Declare one with `/incident declare <service> <title>`.',
        USAGE.join('\n'),
      );
    }
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
