// The reply to /postmortem: the numbers that matter, where the files are, what is left for people.
import { formatDuration } from '../../src/duration.ts';
import type { Postmortem } from './model.ts';
import { scoreLines } from '../drill/index.ts';
import type { Message } from '../../src/chat/chat.ts';
import { context, escapeText, fields, header, section } from '../../src/chat/blocks/kit.ts';

export interface PostmortemView {
  doc: Postmortem;
  markdownPath?: string;
  jsonPath?: string;
  permalink?: string;
  notWritten?: string;
  uploadError?: string;
}

export function postmortemMessage(v: PostmortemView): Message {
  const { doc } = v;
  const d = doc.durations;
  const notDone = doc.steps.filter((s) => !s.done).map((s) => s.id);
  const blocks = [
    header(`Post-mortem ${doc.draft ? 'draft (open incident)' : 'draft'} ${doc.incident.id}`),
    fields([
      [
        'Time to contain',
        d.timeToContainMs !== null
          ? `${formatDuration(d.timeToContainMs)} (to ${d.containedAt})`
          : 'not contained',
      ],
      ['Time to approve', d.timeToApproveMs !== null ? formatDuration(d.timeToApproveMs) : 'no approval'],
      [
        'Timeline',
        `${doc.verification.events} events, ${doc.verification.ok ? ':lock: chain verified' : ':x: chain BROKEN'}`,
      ],
      ['Steps not done', notDone.length > 0 ? notDone.join(' ') : 'none'],
      ['Risky actions', String(doc.actions.length)],
      ['Evidence', `${doc.evidence.captured.length} artifact(s)`],
    ]),
  ];
  if (doc.drill)
    blocks.push(
      section(
        `*Drill score*\n${scoreLines(doc.drill)
          .map((l) => `• ${l}`)
          .join('\n')}`,
      ),
    );
  if (doc.followUps.length > 0) {
    blocks.push(
      section(
        `*Follow-ups (${doc.followUps.length})*\n${doc.followUps
          .slice(0, 8)
          .map((f) => `• ${escapeText(f.title)}`)
          .join(
            '\n',
          )}${doc.followUps.length > 8 ? `\n…and ${doc.followUps.length - 8} more in the document` : ''}`,
      ),
    );
  }
  const where: string[] = [];
  if (v.markdownPath) where.push(`Written to \`${v.markdownPath}\` and \`${v.jsonPath ?? ''}\``);
  if (v.notWritten) where.push(`Not written to disk: ${v.notWritten}`);
  if (v.permalink) where.push(`<${v.permalink}|Uploaded to the channel>`);
  if (v.uploadError) where.push(`:warning: Upload to the channel failed: ${escapeText(v.uploadError)}`);
  blocks.push(section(where.join('\n') || 'Generated.'));
  blocks.push(
    context(
      `Sections marked ✍️ (${doc.humanSections.map((h) => h.title.toLowerCase()).join(', ')}) are for people. Run \`/postmortem\` again to regenerate.`,
    ),
  );
  return {
    text: `Post-mortem draft for ${doc.incident.id}${v.markdownPath ? `: ${v.markdownPath}` : ''}`,
    blocks,
  };
}
