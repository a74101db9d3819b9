// The timeline line for each state an action moves to.
import type { Action, ActionState } from '../../src/actions.ts';
import type { Actor } from '../../src/timeline.ts';

export function transitionSummary(
  action: Action,
  to: ActionState,
  actor: Actor,
  patch: { note?: string; decision?: { reason?: string } },
): string {
  switch (to) {
    case 'approved':
      return action.breakGlass
        ? `${actor.name} executed with BREAK-GLASS (no second approver): ${action.summary}. Reason: ${action.breakGlass.reason}`
        : `${actor.name} approved: ${action.summary}`;
    case 'executing':
      return `Executing: ${action.summary}`;
    case 'denied':
      return `${actor.name} denied: ${action.summary}${patch.decision?.reason ? ` (${patch.decision.reason})` : ''}`;
    case 'cancelled':
      return `${actor.name} cancelled: ${action.summary}${patch.decision?.reason ? ` (${patch.decision.reason})` : ''}`;
    case 'expired':
      return `Expired without approval: ${action.summary}`;
    default:
      return `${action.summary}: ${to}`;
  }
}
