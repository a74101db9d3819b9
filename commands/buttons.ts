// Button presses: Approve and Deny on approval cards (the flow checks who may press them).
import type { ButtonPress } from '../src/chat/chat.ts';
import { errorMessage, notice } from '../src/chat/blocks/common.ts';
import { APPROVE_ACTION, DENY_ACTION } from '../src/chat/blocks/approval.ts';
import type { Deps } from '../src/deps.ts';
import type { Actor } from '../src/timeline.ts';

export type ButtonHandler = (press: ButtonPress, actor: Actor, deps: Deps) => Promise<void>;

const ACTION_ID = /^act-[0-9a-f]{8}$/;

async function approve(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
  if (!ACTION_ID.test(press.value))
    return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.approve(press.value, actor);
  if (refusal) await press.respond(errorMessage(refusal.message));
}

async function deny(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
  if (!ACTION_ID.test(press.value))
    return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.deny(press.value, actor);
  await press.respond(
    refusal ? errorMessage(refusal.message) : notice(`Request ${press.value} stopped; nothing was changed.`),
  );
}

export const BUTTONS = new Map<string, ButtonHandler>([
  [APPROVE_ACTION, approve],
  [DENY_ACTION, deny],
]);
