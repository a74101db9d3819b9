// Timeline events and their hash chain (pure): each event commits to the previous one, so edits show.
import { createHash } from 'node:crypto';

export type Step = 'C' | 'L' | 'O' | 'U' | 'D';

export interface Actor {
  type: 'user' | 'system' | 'breaker';
  id: string;
  name: string;
}

export const SYSTEM: Actor = { type: 'system', id: 'cloud-safety', name: 'cloud-safety' };

export interface TimelineEvent {
  at: string;
  incident: string;
  step: Step | null;
  kind: string;
  actor: Actor;
  summary: string;
  data: Record<string, unknown>;
  prev: string | null;
  hash: string;
}

export type NewEvent = Omit<TimelineEvent, 'prev' | 'hash' | 'at' | 'data'> & {
  at?: string;
  data?: Record<string, unknown>;
};

/** JSON with object keys sorted at every level: the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) out[key] = sortKeys(item);
    }
    return out;
  }
  return value;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Hashes the canonical text of an event: keyed (HMAC with the out-of-Redis secret) in the bot, SHA-256 in pure uses. */
export type EventHasher = (text: string) => string;

/** The hash over the event with its `prev`, without its own `hash`. */
export function hashEvent(event: Omit<TimelineEvent, 'hash'>, hasher: EventHasher = sha256): string {
  const { at, incident, step, kind, actor, summary, data, prev } = event;
  return hasher(canonicalJson({ at, incident, step, kind, actor, summary, data, prev }));
}

export function sealEvent(
  input: NewEvent,
  prev: string | null,
  now: Date,
  hasher: EventHasher = sha256,
): TimelineEvent {
  // A JSON round trip drops undefined and turns Dates into strings, so what we hash is what we store.
  const data = JSON.parse(JSON.stringify(input.data ?? {})) as Record<string, unknown>;
  const unsealed = {
    at: input.at ?? now.toISOString(),
    incident: input.incident,
    step: input.step,
    kind: input.kind,
    actor: { type: input.actor.type, id: input.actor.id, name: input.actor.name },
    summary: input.summary,
    data,
    prev,
  };
  return { ...unsealed, hash: hashEvent(unsealed, hasher) };
}

export interface StoredEvent {
  /** The store's id for the entry (Redis stream id). */
  id: string;
  /** The raw stored text, or null when it does not parse. */
  event: TimelineEvent | null;
}

export type Verification =
  | { ok: true; count: number; head: string | null }
  | { ok: false; count: number; index: number; id: string; reason: string };

/** Walks the chain from the first event; names the first event whose content or link is wrong. */
export function verifyChain(
  events: StoredEvent[],
  storedHead: string | null,
  hasher: EventHasher = sha256,
): Verification {
  let prev: string | null = null;
  for (const [index, stored] of events.entries()) {
    const event = stored.event;
    if (!event)
      return {
        ok: false,
        count: events.length,
        index,
        id: stored.id,
        reason: 'the stored event is not valid JSON',
      };
    if (event.prev !== prev) {
      return {
        ok: false,
        count: events.length,
        index,
        id: stored.id,
        reason: 'its prev does not match the hash of the event before it (an event was removed or inserted)',
      };
    }
    if (hashEvent(event, hasher) !== event.hash) {
      return {
        ok: false,
        count: events.length,
        index,
        id: stored.id,
        reason: 'its content does not match its hash (it was edited)',
      };
    }
    prev = event.hash;
  }
  if (prev !== storedHead) {
    return {
      ok: false,
      count: events.length,
      index: events.length,
      id: '(end)',
      reason: 'the last event is not the recorded head of the chain (events were removed from the end)',
    };
  }
  return { ok: true, count: events.length, head: prev };
}
