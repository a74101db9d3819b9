// The two-person rule every risky step goes through: the Approve and Deny buttons on its cards.
import type { Step } from '../../commands/step.ts';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/chat/blocks/approval.ts';
import { approveButton, denyButton } from './buttons.ts';
import type { ApprovalCaps } from './caps.ts';

export const approvalStep: Step<ApprovalCaps> = {
  name: 'approval',
  buttons: { [APPROVE_ACTION]: approveButton, [DENY_ACTION]: denyButton },
};
