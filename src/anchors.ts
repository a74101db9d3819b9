// Anchors: the timeline's head (event count + hash) written outside Redis, so a cut or rewritten chain shows.
import type { StoredEvent, Verification } from './timeline.ts';

/** One recorded head: after `count` events the chain's last hash started with `head`. */
export interface Anchor {
  count: number;
  head: string;
  /** Where it was read from, for the report ("the pinned headline"). */
  where: string;
}

/** Hex characters of the head kept in an anchor: 64 bits, enough to pin the chain, short enough to show. */
const SHOWN = 16;

/** The line the pinned headline carries (its fallback text too, which is what Slack hands back when it is read). */
export function anchorText(chain: { count: number; head: string | null }): string {
  return `chain ${chain.count} events, head ${chain.head ? chain.head.slice(0, SHOWN) : 'none'}`;
}

/** The anchor in a message's text, if it carries one. */
export function parseAnchor(text: string, where: string): Anchor | null {
  const match = /chain (\d+) events, head ([0-9a-f]{16})/.exec(text);
  if (!match?.[1] || !match[2]) return null;
  return { count: Number(match[1]), head: match[2], where };
}

/**
 * Where the evidence store keeps an incident's anchor: per declaration, since ids start again at INC-1 with a new
 * store (a console session, a drill) and an old incident's anchor must never judge a new one.
 */
export function anchorKey(incident: { id: string; declaredAt: string }): string {
  return `${incident.id}/timeline-anchor-${incident.declaredAt.replace(/[^0-9TZ]/g, '')}.json`;
}

/** The anchor as the evidence store keeps it: the whole head, the count, and when. */
export function anchorRecord(chain: { count: number; head: string | null }, at: Date): string {
  return `${JSON.stringify({ count: chain.count, head: chain.head ?? '', at: at.toISOString() })}\n`;
}

/** The anchor in an evidence record; a record that cannot be read is reported, never taken as "no anchor". */
export function parseAnchorRecord(text: string, where: string): Anchor {
  let parsed: { count?: unknown; head?: unknown };
  try {
    parsed = JSON.parse(text) as { count?: unknown; head?: unknown };
  } catch {
    throw new Error(`${where} is not an anchor record (it was overwritten or damaged)`);
  }
  if (
    typeof parsed.count !== 'number' ||
    typeof parsed.head !== 'string' ||
    !/^[0-9a-f]*$/.test(parsed.head)
  ) {
    throw new Error(`${where} is not an anchor record (it was overwritten or damaged)`);
  }
  return { count: parsed.count, head: parsed.head, where };
}

/** A verified chain checked against every anchor: fewer events than anchored is a cut, another hash a rewrite. */
export function checkAnchors(events: StoredEvent[], anchors: Anchor[], chain: Verification): Verification {
  for (const anchor of anchors) {
    if (anchor.count > events.length) {
      return {
        ok: false,
        count: events.length,
        index: events.length,
        id: '(end)',
        reason: `the chain was cut: ${anchor.where} recorded ${anchor.count} events, only ${events.length} are stored`,
      };
    }
    if (anchor.count === 0) continue;
    const at = events[anchor.count - 1];
    if (!at?.event?.hash.startsWith(anchor.head)) {
      return {
        ok: false,
        count: events.length,
        index: anchor.count - 1,
        id: at?.id ?? '(missing)',
        reason: `it does not match the head ${anchor.where} recorded after ${anchor.count} events (the chain was rewritten)`,
      };
    }
  }
  return chain;
}
