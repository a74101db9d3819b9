// Renders Block Kit messages as terminal text, so the console shows exactly what Slack would.
import type { Block, Message } from '../chat.ts';

const EMOJI: Record<string, string> = {
  white_circle: '○',
  large_blue_circle: '◐',
  white_check_mark: '✔',
  fast_forward: '»',
  rotating_light: '🚨',
  large_green_circle: '●',
  warning: '⚠',
  lock: '🔒',
  x: '✖',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  gear: '⚙',
  no_entry: '⛔',
  heavy_multiplication_x: '✖',
  pushpin: '📌',
  chart_with_upwards_trend: '📈',
  package: '📦',
  red_circle: '●',
  large_yellow_circle: '◑',
};

/** Slack mrkdwn -> plain text: links, mentions, emoji codes, entities. */
export function plain(markdown: string): string {
  return (
    markdown
      .replace(/<(https?:[^|>]+)\|([^>]+)>/g, '$2 ($1)')
      .replace(/<(https?:[^>]+)>/g, '$1')
      .replace(/<@([A-Z0-9a-z._-]+)>/g, '@$1')
      .replace(/<#([A-Z0-9]+)\|?([^>]*)>/g, (_m, id: string, name: string) => `#${name || id}`)
      // Console channels are their names already (#inc-1-payments).
      .replace(/<#(#[a-z0-9_-]+)>/g, '$1')
      .replace(/:([a-z0-9_+-]+):/g, (match, name: string) => EMOJI[name] ?? match)
      .replace(/(^|[\s(])\*([^*\n]+)\*(?=[\s).,:;!?]|$)/gm, '$1$2')
      .replace(/(^|[\s(])_([^_\n]+)_(?=[\s).,:;!?]|$)/gm, '$1$2')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&')
  );
}

function textOf(value: unknown): string {
  if (value && typeof value === 'object' && 'text' in value && typeof value.text === 'string')
    return value.text;
  return '';
}

function indentCode(text: string): string {
  return text.replace(/```\n?([\s\S]*?)\n?```/g, (_m, body: string) =>
    body
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n'),
  );
}

/** One rendered message; `buttonNumber` assigns the number shown for each button (for /click). */
export function renderMessage(
  message: Message,
  buttonNumber: (actionId: string, value: string) => number,
): string {
  if (!message.blocks || message.blocks.length === 0) return plain(message.text);
  return message.blocks
    .map((block) => renderBlock(block, buttonNumber))
    .filter((s) => s.length > 0)
    .join('\n');
}

function renderBlock(block: Block, buttonNumber: (actionId: string, value: string) => number): string {
  switch (block.type) {
    case 'header':
      return `▌ ${plain(textOf(block.text)).toUpperCase()}`;
    case 'section': {
      const parts: string[] = [];
      const text = textOf(block.text);
      if (text) parts.push(plain(indentCode(text)));
      if (Array.isArray(block.fields)) {
        for (const field of block.fields) {
          const [label, ...rest] = plain(textOf(field)).split('\n');
          parts.push(`  ${(label ?? '').replace(/^\*(.*)\*$/, '$1')}: ${rest.join(' ')}`);
        }
      }
      return parts.join('\n');
    }
    case 'context':
      return Array.isArray(block.elements)
        ? `  · ${block.elements.map((e) => plain(textOf(e))).join(' · ')}`
        : '';
    case 'divider':
      return '  ────────────────────────────────';
    case 'actions':
      return Array.isArray(block.elements)
        ? `  ${block.elements
            .map(
              (e: { action_id?: string; value?: string; text?: unknown }) =>
                `[${buttonNumber(e.action_id ?? '', e.value ?? '')}] ${plain(textOf(e.text))}`,
            )
            .join('   ')}   (press with /click <n>)`
        : '';
    case 'image':
      return `  [image: ${String(block.alt_text ?? '')}]`;
    default:
      return '';
  }
}
