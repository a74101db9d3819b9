// The /timeline view: events in UTC with actor and step, and whether the hash chain verifies.
import type { Message } from '../chat.ts';
import type { TimelineEvent, Verification } from '../../timeline.ts';
import { code, context, header, section, truncate, utc } from './kit.ts';

const SHOWN = 40;

export function eventLine(event: TimelineEvent): string {
  const step = event.step ?? '-';
  // A person by their Slack user id: a display name is whatever its owner typed, so anyone can look like "bob".
  const who = event.actor.type === 'user' ? event.actor.id : `${event.actor.name} (${event.actor.type})`;
  return `${utc(event.at)}  ${step}  ${truncate(who, 22).padEnd(22)}  ${event.summary}`;
}

export function verificationText(v: Verification): string {
  return v.ok
    ? `:lock: Hash chain verified: ${v.count} events, head ${v.head ? v.head.slice(0, 12) : '(empty)'}`
    : `:x: Hash chain BROKEN at event ${v.index + 1} (${v.id}): ${v.reason}. Events from there on cannot be trusted.`;
}

export function timelineMessage(incidentId: string, events: TimelineEvent[], v: Verification): Message {
  const shown = events.slice(-SHOWN);
  const hidden = events.length - shown.length;
  const lines = shown.map(eventLine);
  const blocks = [header(`Timeline ${incidentId}`)];
  // Code blocks are split so no block exceeds Slack's 3000-character limit.
  let chunk: string[] = [];
  for (const line of lines) {
    if ([...chunk, line].join('\n').length > 2800) {
      blocks.push(code(chunk.join('\n')));
      chunk = [];
    }
    chunk.push(truncate(line, 300));
  }
  if (chunk.length > 0) blocks.push(code(chunk.join('\n')));
  if (events.length === 0) blocks.push(section('No events yet.'));
  blocks.push(section(verificationText(v)));
  if (hidden > 0)
    blocks.push(context(`${hidden} earlier events not shown; \`/postmortem\` exports the whole timeline.`));
  return {
    text: `Timeline ${incidentId}: ${events.length} events; ${v.ok ? 'chain verified' : 'chain BROKEN'}`,
    blocks: blocks.slice(0, 50),
  };
}
