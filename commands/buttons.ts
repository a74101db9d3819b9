// Button presses: Approve and Deny on approval cards (the flow checks who may press them).
import { parseButtonValue, type PressOrigin } from '../src/approval-binding.ts';
import type { ButtonPress } from '../src/chat/chat.ts';
import { errorMessage, notice } from '../src/chat/blocks/common.ts';
import { APPROVE_ACTION, DENY_ACTION } from '../src/chat/blocks/approval.ts';
import type { Deps } from '../src/deps.ts';
import { DEBUG_CONTAINER_ACTION } from '../flows/telemetry/blocks.ts';
import { debugContainerCapture } from '../flows/telemetry/telemetry.ts';
import type { Actor } from '../src/timeline.ts';

export type ButtonHandler = (press: ButtonPress, actor: Actor, deps: Deps) => Promise<void>;

function originOf(press: ButtonPress): PressOrigin {
  return {
    channel: press.message?.channel ?? press.channel,
    ...(press.message ? { ts: press.message.ts } : {}),
    value: press.value,
  };
}

async function approve(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
  const parsed = parseButtonValue(press.value);
  if (!parsed) return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.approve(parsed.id, actor, originOf(press));
  if (refusal) await press.respond(errorMessage(refusal.message));
}

async function deny(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
  const parsed = parseButtonValue(press.value);
  if (!parsed) return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.deny(parsed.id, actor, undefined, originOf(press));
  await press.respond(
    refusal ? errorMessage(refusal.message) : notice(`Request ${parsed.id} stopped; nothing was changed.`),
  );
}

/** "Debug container" on the capture card: value is `<incident id>|<pod>`. */
async function debugContainer(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
  const match = /^(INC-[0-9]+)\|([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(press.value);
  if (!match?.[1] || !match[2])
    return press.respond(errorMessage('That button does not name an incident and a pod; it did nothing.'));
  const incident = await deps.incidents.active(press.channel);
  if (!incident || incident.id !== match[1]) {
    return press.respond(
      errorMessage(
        `That button belongs to ${match[1]}, which is not the active incident of this channel; nothing was done.`,
      ),
    );
  }
  await debugContainerCapture(deps, { incident, pod: match[2], actor, respond: (m) => press.respond(m) });
}

export const BUTTONS = new Map<string, ButtonHandler>([
  [APPROVE_ACTION, approve],
  [DENY_ACTION, deny],
  [DEBUG_CONTAINER_ACTION, debugContainer],
]);
