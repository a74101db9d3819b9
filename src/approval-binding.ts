// Approve what you saw: the Approve button carries a keyed hash of the exact change, checked against the store.
import type { Action, Refusal } from './actions.ts';
import type { Keys } from './keys.ts';
import { canonicalJson } from './timeline.ts';

/** Where a press came from and what its button carried. */
export interface PressOrigin {
  channel: string;
  /** The message the button is on (absent when the transport could not say). */
  ts?: string;
  /** The button's value: `<action id>.<binding>` for Approve. */
  value: string;
}

const VALUE = /^(act-[0-9a-f]{8})(?:\.([0-9a-f]{32}))?$/;

/** The keyed hash of everything the card shows and execution uses; the Redis copy cannot forge it. */
export function bindingOf(keys: Keys, action: Action): string {
  const { id, kind, service, incident, basis, change } = action;
  return keys.mac('approve', canonicalJson({ id, kind, service, incident, basis, change })).slice(0, 32);
}

/** The Approve button's value for this action as it is now. */
export function approveValue(keys: Keys, action: Action): string {
  return `${action.id}.${bindingOf(keys, action)}`;
}

/** The action id and binding a button value carries, or null when it is not one of ours. */
export function parseButtonValue(value: string): { id: string; binding?: string } | null {
  const match = VALUE.exec(value);
  if (!match?.[1]) return null;
  return { id: match[1], ...(match[2] ? { binding: match[2] } : {}) };
}

function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Why a press on a button may not act on `action`: not on its own card, or (Approve) a changed change. */
export function pressRefusal(
  keys: Keys,
  action: Action,
  origin: PressOrigin,
  opts: { needsBinding: boolean },
): Refusal | null {
  const card = action.card;
  if (!card || card.channel !== origin.channel || origin.ts !== card.ts) {
    return {
      code: 'approval.origin',
      message: `That press did not come from the approval card of ${action.id}, so it did nothing. Press the buttons on the card itself${card ? ` in <#${card.channel}>` : ''}.`,
    };
  }
  if (!opts.needsBinding) return null;
  const parsed = parseButtonValue(origin.value);
  if (!parsed?.binding) {
    return {
      code: 'approval.unbound',
      message: `That Approve button does not carry the signed hash of the change, so it did nothing. Run the command again for a fresh card.`,
    };
  }
  if (!sameText(parsed.binding, bindingOf(keys, action))) {
    return {
      code: 'approval.tampered',
      message: `The stored change of ${action.id} no longer matches what its card showed (it was changed after the card was posted), so nothing was done. Run the command again and check the new card.`,
    };
  }
  return null;
}
