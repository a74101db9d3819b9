// The two-person rule every risky step goes through: the Approve and Deny buttons on its cards.
import { approveButton, denyButton } from '../../commands/buttons.ts';
import type { Step } from '../../commands/step.ts';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/chat/blocks/approval.ts';

export const approvalStep: Step = {
  name: 'approval',
  buttons: { [APPROVE_ACTION]: approveButton, [DENY_ACTION]: denyButton },
};
