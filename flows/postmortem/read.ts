// Tolerant readers of timeline events (pure): events written by other steps may miss fields or carry extra ones.
import type { TimelineEvent } from '../../src/timeline.ts';
import type { Happening, KeyTime, Person, PinnedMessage } from './types.ts';

// Tolerant readers: events written by other steps may miss fields or carry extra ones.
export function obj(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
export function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
export function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
export function bool(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null;
}

/** 2026-11-26 09:41:07Z: how every time reads in the document. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '?';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function ms(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) return null;
  const d = Date.parse(to) - Date.parse(from);
  return Number.isFinite(d) ? d : null;
}

export function person(actor: TimelineEvent['actor']): Person {
  return { id: actor.id, name: actor.name, type: actor.type };
}

export function who(actor: TimelineEvent['actor']): string {
  return actor.type === 'user' ? actor.name : `${actor.name} (${actor.type})`;
}

/** "legacy 100% / cloud 0%" from { legacy, cloud }, or null when the shape is not that. */
export function shareText(value: unknown): string | null {
  const o = obj(value);
  const legacy = num(o.legacy);
  const cloud = num(o.cloud);
  if (legacy === null && cloud === null) return null;
  return `legacy ${legacy ?? '?'}% / cloud ${cloud ?? '?'}%`;
}

export function compactJson(value: unknown, max = 300): string {
  if (value === undefined || value === null) return '(not recorded)';
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function happening(event: TimelineEvent): Happening {
  return { at: event.at, kind: event.kind, by: who(event.actor), summary: event.summary };
}

export function keyTime(label: string, event: TimelineEvent | undefined, declaredAt: string): KeyTime {
  return {
    label,
    at: event?.at ?? null,
    sinceDeclaredMs: event ? ms(declaredAt, event.at) : null,
    event: event?.hash ?? null,
  };
}

export function numbers(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(obj(value))) {
    const n = num(v);
    if (n !== null) out[key] = n;
  }
  return out;
}

export function pinnedOf(event: TimelineEvent): PinnedMessage {
  const d = obj(event.data);
  return {
    at: event.at,
    by: who(event.actor),
    text: str(d.text) ?? event.summary,
    author: str(d.author),
    originalAt: str(d.originalAt),
    permalink: str(d.permalink),
  };
}

export function first(
  events: TimelineEvent[],
  test: (e: TimelineEvent) => boolean,
): TimelineEvent | undefined {
  return events.find(test);
}
