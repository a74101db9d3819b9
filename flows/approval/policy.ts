// N-of-M approval: counting distinct approvers against the policy that applies, and saying why a press is refused.
import type { Access, Ineligible, OncallUnavailableError, Policy } from '../../src/access.ts';
import type { Action, Refusal } from '../../src/actions.ts';
import type { Actor } from '../../src/timeline.ts';

/** Distinct people who approved so far (the requester never counts). */
export function approverIds(action: Action): string[] {
  return [...new Set(action.approvals.map((a) => a.actor.id).filter((id) => id !== action.requester.id))];
}

/** "1 of 2 approvals: ✓ <@U0BOB>; waiting for 1 more of @sre-leads" as shown on the card and in refusals. */
export function progressText(action: Action, policy: Policy, approversText: string): string {
  const got = approverIds(action);
  const done = got.map((id) => `✓ <@${id}>`).join(', ');
  const missing = policy.quorum - got.length;
  const waiting =
    missing > 0 ? `waiting for ${missing} more of ${approversText} (not the requester)` : 'quorum met';
  return `${Math.min(got.length, policy.quorum)} of ${policy.quorum} approvals${done ? `: ${done}` : ''}; ${waiting}`;
}

/** Why `actor` may not add an approval under `policy`: ineligible for this kind, or already counted. */
export function policyRefusal(
  action: Action,
  actor: Actor,
  policy: Policy,
  ineligible: Ineligible | null,
  approversText: string,
  commanderId?: string,
): Refusal | null {
  if (ineligible?.reason === 'not-listed') {
    return {
      code: 'approval.not-approver',
      message:
        policy.name === 'default'
          ? `Only approvers (${approversText}) can approve this change. Ask one of them to press Approve.`
          : `Only ${approversText} can approve ${action.kind} on ${action.service} (policy "${policy.name}"). Ask one of them to press Approve.`,
    };
  }
  if (ineligible?.reason === 'requester-team') {
    return {
      code: 'approval.requester-team',
      message: `You are in ${ineligible.group} with the requester, and policy "${policy.name}" needs an approver from outside the requester's team for ${action.kind}. Ask someone else among ${approversText}.`,
    };
  }
  // With a quorum of 2 or more the approvers are distinct people, so the commander is never alone there.
  if (!policy.commanderMayApproveAlone && actor.id === commanderId && policy.quorum <= 1) {
    return {
      code: 'approval.commander-alone',
      message: `You are the incident commander, and policy "${policy.name}" needs someone besides the commander to approve ${action.kind}. Ask another of ${approversText} to press Approve.`,
    };
  }
  if (approverIds(action).includes(actor.id)) {
    return {
      code: 'approval.already-approved',
      message: `You already approved this; ${progressText(action, policy, approversText)}. A different person must approve too.`,
    };
  }
  return null;
}

/** PagerDuty could not say who is on call: nobody is let through on a guess; says what else can be done. */
export function oncallRefusal(err: OncallUnavailableError, policy: Policy, action: Action): Refusal {
  const fallback = policy.breakGlass
    ? `If this cannot wait, ${action.requester.name} can run the command again with break-glass="<reason>".`
    : `Break-glass is not allowed for ${action.kind} (policy "${policy.name}"); try again in a minute or fix the PagerDuty connection.`;
  return {
    code: 'approval.oncall-unavailable',
    message: `${err.message}, so this approval was not counted (on-call approval fails closed). ${fallback}`,
  };
}

/**
 * The policy of `action` with the text its card and refusals show: the one snapshotted when it was requested
 * (requests stored before snapshots existed read today's config).
 */
export function policyOf(access: Access, action: Action): { policy: Policy; text: string } {
  const policy = action.policy ?? access.policyFor(action.kind, action.service);
  return { policy, text: access.describeApprovers(policy) };
}
