// Risky actions and their two-person approval (pure): states, legal transitions and who may approve.
import type { Policy } from './access.ts';
import type { MessageRef } from './incident.ts';
import type { StepState } from './runbook.ts';
import type { Actor, Step } from './timeline.ts';
import { canonicalJson, sha256 } from './timeline.ts';

export type ActionState =
  'requested' | 'approved' | 'executing' | 'succeeded' | 'failed' | 'denied' | 'expired' | 'cancelled';

export const TERMINAL: readonly ActionState[] = ['succeeded', 'failed', 'denied', 'expired', 'cancelled'];

const NEXT: Record<ActionState, readonly ActionState[]> = {
  requested: ['approved', 'denied', 'expired', 'cancelled'],
  // approved -> failed: the approval was recorded but its executor died before starting, too late to resume.
  approved: ['executing', 'cancelled', 'failed'],
  executing: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
  denied: [],
  expired: [],
  cancelled: [],
};

export interface ActionResult {
  ok: boolean;
  summary: string;
  data?: Record<string, unknown>;
  /** Checklist state of the step after success, when it depends on the outcome (wins over stepOnSuccess). */
  stepState?: StepState;
}

export interface Action<Change = unknown> {
  id: string;
  kind: string;
  incident: string;
  service: string;
  step: Step | null;
  /** One line: what will happen, e.g. "Shift payments to legacy 100%". */
  summary: string;
  requester: Actor;
  requestedAt: string;
  expiresAt: string;
  /** What the requester saw when asking (current weights, privileges...): execution refuses if reality moved. */
  basis: unknown;
  /** The exact change that will be executed. */
  change: Change;
  /** SHA-256 of kind + service + basis + change: the approval is bound to it. */
  changeHash: string;
  state: ActionState;
  approvals: { actor: Actor; at: string }[];
  decision?: { actor: Actor; at: string; reason?: string };
  breakGlass?: { reason: string };
  result?: ActionResult;
  /** What execution has reported so far (e.g. "DNS in sync"), shown on the card; `data` lets views show state. */
  progress: { at: string; text: string; data?: Record<string, unknown> }[];
  card?: MessageRef;
  history: { state: ActionState; at: string; actor: Actor; note?: string }[];
  /** The lease acquisition (fencing token) executing it: only that executor may record the outcome. */
  executor?: { token: number; owner: string };
  /** The approval rule as it stood when requested: a policy edited mid-approval does not change this request's rule. */
  policy?: Policy;
}

export function computeChangeHash(kind: string, service: string, basis: unknown, change: unknown): string {
  return sha256(canonicalJson({ kind, service, basis, change }));
}

export function isTerminal(state: ActionState): boolean {
  return TERMINAL.includes(state);
}

export function canTransition(from: ActionState, to: ActionState): boolean {
  return NEXT[from].includes(to);
}

/** The next version of the action; throws on an illegal move so a bug can never skip approval. */
export function transition(
  action: Action,
  to: ActionState,
  actor: Actor,
  at: Date,
  patch: Partial<Pick<Action, 'result' | 'decision' | 'card' | 'executor'>> & { note?: string } = {},
): Action {
  if (!canTransition(action.state, to)) {
    throw new Error(`action ${action.id}: cannot go from ${action.state} to ${to}`);
  }
  const { note, ...rest } = patch;
  return {
    ...action,
    ...rest,
    state: to,
    approvals: to === 'approved' ? [...action.approvals, { actor, at: at.toISOString() }] : action.approvals,
    history: [...action.history, { state: to, at: at.toISOString(), actor, ...(note ? { note } : {}) }],
  };
}

export interface Refusal {
  code: string;
  message: string;
}

const STATE_WORDS: Record<ActionState, string> = {
  requested: 'waiting for approval',
  approved: 'already approved',
  executing: 'already approved and running',
  succeeded: 'already executed',
  failed: 'already executed (it failed)',
  denied: 'denied',
  expired: 'expired',
  cancelled: 'cancelled',
};

/** Why `actor` may not approve `action` now, or null when they may. */
export function approvalRefusal(
  action: Action,
  actor: Actor,
  opts: { isApprover: boolean; now: Date; approversText: string },
): Refusal | null {
  if (action.state !== 'requested') {
    const by = action.decision?.actor.name ?? action.approvals[0]?.actor.name;
    return {
      code: 'approval.state',
      message: `This request is ${STATE_WORDS[action.state]}${by ? ` (by ${by})` : ''}; nothing more to do. Run the command again for a new request.`,
    };
  }
  if (opts.now.getTime() >= Date.parse(action.expiresAt)) {
    return {
      code: 'approval.expired',
      message: `This request expired at ${action.expiresAt}. Ask ${action.requester.name} to run the command again so the change is re-read.`,
    };
  }
  if (actor.id === action.requester.id) {
    return {
      code: 'approval.self',
      message: `You requested this change, so a second person must approve it (${opts.approversText}).`,
    };
  }
  if (!opts.isApprover) {
    return {
      code: 'approval.not-approver',
      message: `Only approvers (${opts.approversText}) can approve this change. Ask one of them to press Approve.`,
    };
  }
  return null;
}
