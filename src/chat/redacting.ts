// Everything that leaves the process for chat passes here: secrets scrubbed, invisible controls stripped, the
// plain-text fallback escaped like blocks are.
import type { Redactor } from '../redact.ts';
import { wrapChat, type Chat, type Message } from './chat.ts';

/**
 * Bidi overrides and isolates (a "Trojan Source" line reads differently than it is) and zero-width characters
 * (a name that looks like another): no message of ours needs them, so none leaves the process.
 */
const INVISIBLE = /[\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;

export function stripInvisible(text: string): string {
  return text.replace(INVISIBLE, '');
}

/**
 * The top-level `text` is mrkdwn too (notifications, unfurls): user text in it could say `<!channel>` or draw a
 * link. Escapes it like escapeText does in blocks, keeping only the user and channel mentions we write ourselves,
 * a leading <!here> of our own, and entities that are already escaped.
 */
export function escapeFallback(text: string): string {
  // A leading <!here> is ours (the sandbox escalation pages the channel); user text never opens a message.
  const page = /^<!here> /.exec(text)?.[0] ?? '';
  return page + escapeRest(text.slice(page.length));
}

function escapeRest(text: string): string {
  return text.replace(/<(@[UW][A-Z0-9]+|#C[A-Z0-9]+)>|[<>]|&(?!amp;|lt;|gt;)/g, (match, own?: string) => {
    if (own) return match;
    return match === '<' ? '&lt;' : match === '>' ? '&gt;' : '&amp;';
  });
}

function stripAll(value: unknown): unknown {
  if (typeof value === 'string') return stripInvisible(value);
  if (Array.isArray(value)) return value.map(stripAll);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stripAll(v)]));
  }
  return value;
}

/** The message as it may leave the process: redacted, without invisible controls, with a safe fallback. */
export function outgoingMessage(redactor: Redactor, message: Message): Message {
  const clean = stripAll(redactor.value(message)) as Message;
  return { ...clean, text: escapeFallback(clean.text) };
}

export function redactingChat(chat: Chat, redactor: Redactor): Chat {
  const out = (message: Message) => outgoingMessage(redactor, message);
  return wrapChat(chat, {
    post: (channel, message, opts) => chat.post(channel, out(message), opts),
    update: (ref, message) => chat.update(ref, out(message)),
    postEphemeral: (channel, user, message) => chat.postEphemeral(channel, user, out(message)),
    upload: (channel, file, opts) =>
      chat.upload(
        channel,
        {
          ...file,
          ...(file.title ? { title: stripInvisible(redactor.text(file.title)) } : {}),
          ...(file.comment ? { comment: stripInvisible(redactor.text(file.comment)) } : {}),
        },
        opts,
      ),
  });
}
