// Button presses: Approve and Deny on approval cards (the flow checks who may press them), and the telemetry card's
// "Debug container". The steps that draw these buttons declare them (flows/approval/step.ts, flows/telemetry/step.ts).
import type { ButtonPress } from '../src/chat/chat.ts';
import { errorMessage, notice } from '../src/chat/blocks/common.ts';
import type { Deps } from '../src/deps.ts';
import { debugContainerCapture } from '../flows/telemetry/telemetry.ts';
import type { Actor } from '../src/timeline.ts';

const ACTION_ID = /^act-[0-9a-f]{8}$/;

export async function approveButton(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
  if (!ACTION_ID.test(press.value))
    return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.approve(press.value, actor);
  if (refusal) await press.respond(errorMessage(refusal.message));
}

export async function denyButton(press: ButtonPress, actor: Actor, deps: Deps): Promise<void> {
  if (!ACTION_ID.test(press.value))
    return press.respond(errorMessage('That button does not carry a request id; it did nothing.'));
  const refusal = await deps.approvals.deny(press.value, actor);
  await press.respond(
    refusal ? errorMessage(refusal.message) : notice(`Request ${press.value} stopped; nothing was changed.`),
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
