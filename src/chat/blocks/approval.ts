// The approval card: what will change, who asked, who may approve, and every state it goes through.
import type { Action, ActionState } from '../../actions.ts';
import type { Message } from '../chat.ts';
import { actions, context, divider, escapeText, fields, header, mention, section, utc } from './kit.ts';

/** What the kind-specific handler shows about its change (before -> after, record names...). */
export interface ChangeView {
  fields: [label: string, value: string][];
  lines?: string[];
  warnings?: string[];
}

const TITLE: Record<ActionState, string> = {
  requested: ':lock: Approval needed',
  approved: ':hourglass_flowing_sand: Approved, starting',
  executing: ':gear: Executing',
  succeeded: ':white_check_mark: Done',
  failed: ':x: Failed',
  denied: ':no_entry: Denied',
  expired: ':hourglass: Expired',
  cancelled: ':heavy_multiplication_x: Cancelled',
};

export const APPROVE_ACTION = 'approval.approve';
export const DENY_ACTION = 'approval.deny';

/** The approval policy that applies and how far the request got ("1 of 2 approvals: ✓ bob; waiting for…"). */
export interface PolicyView {
  policy: string;
  quorum: number;
  progress: string;
}

/** `approveValue` is what the Approve button carries: the request id and the keyed hash of this exact change. */
export function approvalCard(
  action: Action,
  view: ChangeView,
  approversText: string,
  approveValue: string,
  policy?: PolicyView,
): Message {
  const title = TITLE[action.state];
  const blocks = [header(`${title.replace(/:[a-z_]+: /, '')}: ${action.summary}`)];
  if (action.breakGlass) {
    blocks.push(
      section(
        `:rotating_light: *BREAK-GLASS* by ${mention(action.requester.id)}, no second approver. Reason: _${escapeText(action.breakGlass.reason)}_`,
      ),
    );
  }
  blocks.push(
    fields([
      ['State', `${title}`],
      ['Service', action.service],
      ['Requested by', `${mention(action.requester.id)} at ${utc(action.requestedAt)}`],
      [
        action.state === 'requested' ? 'Who may approve' : 'Approved by',
        action.state === 'requested'
          ? `${approversText} (not the requester)`
          : action.approvals.map((a) => `${mention(a.actor.id)} at ${utc(a.at)}`).join(', ') || '—',
      ],
      ...(policy && (policy.quorum > 1 || policy.policy !== 'default')
        ? [['Approvals', `${policy.progress} (policy: ${escapeText(policy.policy)})`] as [string, string]]
        : []),
      ['Expires', utc(action.expiresAt)],
      ['Incident', action.incident],
    ]),
  );
  blocks.push(divider());
  if (view.fields.length > 0) blocks.push(fields(view.fields));
  for (const line of view.lines ?? []) blocks.push(section(line));
  for (const warning of view.warnings ?? []) blocks.push(section(`:warning: ${warning}`));
  if (action.progress.length > 0) {
    blocks.push(
      section(action.progress.map((p) => `• ${utc(p.at).slice(11)} ${escapeText(p.text)}`).join('\n')),
    );
  }
  if (action.decision && (action.state === 'denied' || action.state === 'cancelled')) {
    const reason = action.decision.reason ? `: ${escapeText(action.decision.reason)}` : '';
    blocks.push(
      section(
        `${action.state === 'denied' ? 'Denied' : 'Cancelled'} by ${mention(action.decision.actor.id)}${reason}`,
      ),
    );
  }
  if (action.result) {
    blocks.push(
      section(`${action.result.ok ? ':white_check_mark:' : ':x:'} ${escapeText(action.result.summary)}`),
    );
  }
  if (action.state === 'requested') {
    blocks.push(
      actions(`approval:${action.id}`, [
        { text: 'Approve', actionId: APPROVE_ACTION, value: approveValue, style: 'primary' },
        { text: 'Deny', actionId: DENY_ACTION, value: action.id, style: 'danger' },
      ]),
    );
  }
  blocks.push(
    context(
      `Request ${action.id} · change ${action.changeHash.slice(0, 12)} · approval is bound to this exact change`,
    ),
  );
  return { text: `${title.replace(/:[a-z_]+: /, '')}: ${action.summary} (${action.id})`, blocks };
}
