// Pinning: a reaction on a message in the incident channel puts that message on the timeline, once.
import type { ReactionAdded } from '../../src/chat/chat.ts';
import type { IncidentCaps } from './caps.ts';
import type { Actor } from '../../src/timeline.ts';

/** Slack message ts "1700000000.000100" -> ISO time. */
export function tsToIso(ts: string): string | undefined {
  const seconds = Number(ts);
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000).toISOString() : undefined;
}

export async function pinFromReaction(
  deps: IncidentCaps,
  event: ReactionAdded,
  actor: Actor,
): Promise<'pinned' | 'ignored' | 'duplicate'> {
  if (event.reaction !== deps.config.timeline.pinReaction) return 'ignored';
  const incident = await deps.incidents.active(event.item.channel);
  if (!incident) return 'ignored';
  // A second reaction (or a retried delivery) on the same message adds nothing.
  const once = `pin:${incident.id}:${event.item.channel}:${event.item.ts}`;
  if (!(await deps.store.set(once, actor.id, { ifAbsent: true }))) return 'duplicate';
  try {
    const message = await deps.chat.fetchMessage(event.item);
    const permalink = await deps.chat.permalink(event.item);
    const originalAt = tsToIso(event.item.ts);
    // Redacted before it is stored: a pasted connection string or token must not live on in the timeline.
    const text = deps.redactor.text(message?.text ?? '(message not readable)');
    await deps.incidents.record(incident.id, {
      step: null,
      kind: 'timeline.pinned',
      actor,
      summary: `${actor.name} pinned: "${text.length > 200 ? `${text.slice(0, 197)}...` : text}"`,
      data: {
        text,
        author: message?.user,
        originalAt,
        permalink,
        channel: event.item.channel,
        ts: event.item.ts,
      },
    });
    return 'pinned';
  } catch (err) {
    // Let a later reaction try again rather than silently losing the pin.
    await deps.store.del(once);
    throw err;
  }
}
