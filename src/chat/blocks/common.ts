// Small shared views: errors with the right usage, notices, the help listing.
import type { Message } from '../chat.ts';
import { code, context, escapeText, header, section } from './kit.ts';

export function errorMessage(problem: string, usage?: string): Message {
  const blocks = [section(`:warning: ${escapeText(problem)}`)];
  if (usage) blocks.push(code(usage));
  return { text: usage ? `${problem}\n${usage}` : problem, blocks };
}

export function notice(markdown: string, note?: string): Message {
  const blocks = [section(markdown)];
  if (note) blocks.push(context(note));
  return { text: markdown, blocks };
}

export interface HelpEntry {
  name: string;
  summary: string;
  usage: string[];
  examples: string[];
}

export function helpMessage(entries: HelpEntry[]): Message {
  const blocks = [header('cloud-safety commands')];
  for (const entry of entries) {
    blocks.push(
      section(
        `*${entry.name}* — ${escapeText(entry.summary)}\n\`\`\`\n${entry.usage.join('\n')}\n\`\`\`\nExample: ${entry.examples
          .map((e) => `\`${escapeText(e)}\``)
          .join(', ')}`,
      ),
    );
  }
  blocks.push(context('Arguments are key=value; quote values with spaces: break-glass="reason here".'));
  return { text: entries.map((e) => `${e.name}: ${e.usage.join(' | ')}`).join('\n'), blocks };
}
