// Button presses: Approve and Deny on approval cards (the flow checks who may press them), and the telemetry card's
// "Debug container". The steps that draw these buttons declare them (flows/approval/step.ts, flows/telemetry/step.ts).
import { parseButtonValue, type PressOrigin } from '../src/approval-binding.ts';
import type { ButtonPress } from '../src/chat/chat.ts';
import { errorMessage, notice } from '../src/chat/blocks/common.ts';
import type { Deps } from '../src/deps.ts';
import { debugContainerCapture } from '../flows/telemetry/index.ts';
import type { Actor } from '../src/timeline.ts';

function originOf(press: ButtonPress): PressOrigin {
  return {
    channel: press.message?.channel ?? press.channel,
    ...(press.message ? { ts: press.message.ts } : {}),
    value: press.value,
  };
}

export async function approveButton(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
  const parsed = parseButtonValue(press.value);
  if (!parsed) return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.approve(parsed.id, actor, originOf(press));
  if (refusal) await press.respond(errorMessage(refusal.message));
}

export async function denyButton(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
  const parsed = parseButtonValue(press.value);
  if (!parsed) return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.deny(parsed.id, actor, undefined, originOf(press));
  await press.respond(
    refusal ? errorMessage(refusal.message) : notice(`Request ${parsed.id} stopped; nothing was changed.`),
  );
}

/** "Debug container" on the capture card: value is `<incident id>|<pod>`. */
export async function debugContainerButton(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
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
