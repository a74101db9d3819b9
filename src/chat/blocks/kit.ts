// Block Kit primitives: the only place that knows Slack's JSON shapes for blocks.
import type { Block } from '../chat.ts';

/** Slack limits: section text 3000 chars, 10 fields of 2000, 50 blocks per message. */
export const LIMITS = { sectionText: 3000, field: 2000, blocks: 50, buttonValue: 2000 } as const;

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Escapes &, < and > as Slack's mrkdwn requires for user-provided text. */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function header(text: string): Block {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, 150), emoji: true } };
}

export function section(markdown: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(markdown, LIMITS.sectionText) } };
}

export function fields(pairs: [label: string, value: string][]): Block {
  return {
    type: 'section',
    fields: pairs.slice(0, 10).map(([label, value]) => ({
      type: 'mrkdwn',
      text: truncate(`*${label}*\n${value}`, LIMITS.field),
    })),
  };
}

export function context(...markdown: string[]): Block {
  return {
    type: 'context',
    elements: markdown.slice(0, 10).map((text) => ({ type: 'mrkdwn', text: truncate(text, LIMITS.field) })),
  };
}

export function divider(): Block {
  return { type: 'divider' };
}

export interface ButtonSpec {
  text: string;
  actionId: string;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: { title: string; text: string; confirm: string; deny: string };
}

export function actions(blockId: string, buttons: ButtonSpec[]): Block {
  return {
    type: 'actions',
    block_id: blockId,
    elements: buttons.map((b) => ({
      type: 'button',
      text: { type: 'plain_text', text: b.text, emoji: true },
      action_id: b.actionId,
      value: truncate(b.value, LIMITS.buttonValue),
      ...(b.style ? { style: b.style } : {}),
      ...(b.confirm
        ? {
            confirm: {
              title: { type: 'plain_text', text: b.confirm.title },
              text: { type: 'mrkdwn', text: b.confirm.text },
              confirm: { type: 'plain_text', text: b.confirm.confirm },
              deny: { type: 'plain_text', text: b.confirm.deny },
            },
          }
        : {}),
    })),
  };
}

/** A preformatted block (tables, logs): monospace in Slack and verbatim in the console. */
export function code(text: string): Block {
  return section(`\`\`\`\n${truncate(text, LIMITS.sectionText - 8)}\n\`\`\``);
}

/** UTC time as responders read it on every card: 2026-11-26 09:41:07Z. */
export function utc(iso: string | Date): string {
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  return Number.isNaN(date.getTime()) ? String(iso) : `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function mention(userId: string): string {
  return /^[UW][A-Z0-9]{2,}$/.test(userId) ? `<@${userId}>` : userId;
}
