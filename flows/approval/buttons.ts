// The Approve and Deny buttons on every approval card: the flow checks who may press them.
import { parseButtonValue, type PressOrigin } from '../../src/approval-binding.ts';
import type { ButtonPress } from '../../src/chat/chat.ts';
import { errorMessage, notice } from '../../src/chat/blocks/common.ts';
import type { Actor } from '../../src/timeline.ts';
import type { ApprovalCaps } from './caps.ts';

function originOf(press: ButtonPress): PressOrigin {
  return {
    channel: press.message?.channel ?? press.channel,
    ...(press.message ? { ts: press.message.ts } : {}),
    value: press.value,
  };
}

export async function approveButton(press: ButtonPress, actor: Actor, deps: ApprovalCaps): Promise<void> {
  const parsed = parseButtonValue(press.value);
  if (!parsed) return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.approve(parsed.id, actor, originOf(press));
  if (refusal) await press.respond(errorMessage(refusal.message));
}

export async function denyButton(press: ButtonPress, actor: Actor, deps: ApprovalCaps): Promise<void> {
  const parsed = parseButtonValue(press.value);
  if (!parsed) return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.deny(parsed.id, actor, undefined, originOf(press));
  await press.respond(
    refusal ? errorMessage(refusal.message) : notice(`Request ${parsed.id} stopped; nothing was changed.`),
  );
}
