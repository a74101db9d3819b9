// Two-person approval for every risky action: request, approve or deny, execute exactly once, recover after a restart.
import { randomUUID } from 'node:crypto';
import { OncallUnavailableError, type Ineligible } from '../../src/access.ts';
import {
  approvalRefusal,
  computeChangeHash,
  type Action,
  type ActionState,
  type Refusal,
} from '../../src/actions.ts';
import { bindingOf, pressRefusal, type PressOrigin } from '../../src/approval-binding.ts';
import { crashPoint } from '../../src/crash.ts';
import { AccessError, ExternalServiceError } from '../../src/errors.ts';
import type { MessageRef } from '../../src/incident.ts';
import { updateJson } from '../../src/store/store.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import { Executor, IN_FLIGHT } from './executor.ts';
import { approverIds, oncallRefusal, policyOf, policyRefusal, progressText } from './policy.ts';
import { ActionRecords, actionKey, EXPIRY_QUEUE } from './records.ts';
import type { ActionHandler, ActionRequest, ApprovalDeps } from './types.ts';

export type { ActionHandler, ActionRequest, ApprovalDeps, ExecutionContext } from './types.ts';

export class Approvals {
  #deps: ApprovalDeps;
  #records: ActionRecords;
  #executor: Executor;

  constructor(deps: ApprovalDeps) {
    this.#deps = deps;
    this.#records = new ActionRecords(deps);
    this.#executor = new Executor(deps, this.#records);
    deps.scheduler.handle(EXPIRY_QUEUE, (id) => this.expire(id));
    deps.scheduler.every('action-recovery', 10_000, () => this.recover());
  }

  register<Change>(handler: ActionHandler<Change>): void {
    this.#records.handlers.set(handler.kind, handler as ActionHandler<unknown>);
  }

  /** The action kinds registered so far (each step registers its own). */
  kinds(): string[] {
    return [...this.#records.handlers.keys()];
  }

  async get(id: string): Promise<Action | null> {
    return this.#records.get(id);
  }

  async listForIncident(incidentId: string): Promise<Action[]> {
    const ids = await this.#deps.store.members(`incident:${incidentId}:actions`);
    const actions = await Promise.all(ids.map((id) => this.get(id)));
    return actions
      .filter((a): a is Action => a !== null)
      .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  /** Records the request, posts the card, and (break-glass only) executes at once. */
  async request<Change>(req: ActionRequest<Change>): Promise<Action<Change>> {
    const { store, access, incidents, now } = this.#deps;
    const handler = this.#records.handler(req.kind);
    const policy = access.policyFor(req.kind, req.incident.service);
    if (req.breakGlass !== undefined && !policy.breakGlass) {
      throw new AccessError(
        'approval.break-glass-disabled',
        policy.name === 'default'
          ? 'Break-glass is disabled here (access.breakGlass is false), so this change needs a second approver. Run the command without break-glass.'
          : `Break-glass is disabled for ${req.kind} on ${req.incident.service} (policy "${policy.name}"), so this change needs ${policy.quorum} approver(s) from ${access.describeApprovers(policy)}. Run the command without break-glass.`,
      );
    }
    const at = now();
    const action: Action<Change> = {
      id: `act-${randomUUID().slice(0, 8)}`,
      kind: req.kind,
      incident: req.incident.id,
      service: req.incident.service,
      step: req.step,
      summary: req.summary,
      requester: req.requester,
      requestedAt: at.toISOString(),
      expiresAt: new Date(at.getTime() + access.approvalTtlMs).toISOString(),
      basis: req.basis,
      change: req.change,
      changeHash: computeChangeHash(req.kind, req.incident.service, req.basis, req.change),
      state: 'requested',
      approvals: [],
      ...(req.breakGlass !== undefined ? { breakGlass: { reason: req.breakGlass } } : {}),
      policy,
      progress: [],
      history: [{ state: 'requested', at: at.toISOString(), actor: req.requester }],
    };
    await store.set(actionKey(action.id), JSON.stringify(action));
    await store.addToSet(`incident:${req.incident.id}:actions`, action.id);
    await incidents.record(req.incident.id, {
      step: req.step,
      kind: 'action.requested',
      actor: req.requester,
      summary: `${req.requester.name} requested: ${req.summary}${req.breakGlass !== undefined ? ` (BREAK-GLASS: ${req.breakGlass})` : ''}`,
      data: {
        action: action.id,
        kind: action.kind,
        basis: action.basis as Record<string, unknown>,
        change: action.change as Record<string, unknown>,
        changeHash: action.changeHash,
        expiresAt: action.expiresAt,
        policy: policy.name,
        quorum: policy.quorum,
        approvers: access.describeApprovers(policy),
        ...(req.breakGlass !== undefined ? { breakGlass: req.breakGlass } : {}),
      },
      stepState: 'in_progress',
    });
    let card: MessageRef;
    try {
      card = await this.#deps.chat.post(
        req.incident.channel,
        this.#records.card(action, handler.describe(action)),
      );
    } catch (err) {
      // Nobody can approve a request whose card never showed up: cancel it, on the timeline, instead of leaving it open.
      const why = (err as Error).message;
      await this.#records.transition(action.id, 'requested', 'cancelled', SYSTEM, {
        decision: {
          actor: SYSTEM,
          at: now().toISOString(),
          reason: `the approval card could not be posted: ${why}`,
        },
      });
      throw new ExternalServiceError(
        'Slack',
        `the approval card could not be posted (${why}), so request ${action.id} was cancelled and nothing was changed. Run the command again in a minute.`,
        { retryable: true, cause: err },
      );
    }
    const stored = (await this.#records.save(action.id, (a) => ({ ...a, card }))) as Action<Change>;
    if (req.breakGlass !== undefined) {
      await store.addToSet(IN_FLIGHT, action.id);
      const approved = await this.#records.transition(action.id, 'requested', 'approved', req.requester, {
        note: `break-glass: ${req.breakGlass}`,
      });
      if (approved) await this.#executor.execute(approved);
    } else {
      await this.#deps.scheduler.at(EXPIRY_QUEUE, action.id, Date.parse(action.expiresAt));
    }
    return ((await this.get(action.id)) ?? stored) as Action<Change>;
  }

  /** Approves and executes, or says why not. Concurrent approvals: exactly one wins, the rest are told who did. */
  async approve(actionId: string, actor: Actor, origin: PressOrigin): Promise<Refusal | null> {
    const { access, now } = this.#deps;
    const action = await this.get(actionId);
    if (!action)
      return {
        code: 'approval.unknown',
        message: `There is no request ${actionId}; it may have been cleaned up. Run the command again.`,
      };
    // Only a press on the card itself, carrying the keyed hash of the change it showed, approves.
    const forged = pressRefusal(this.#deps.keys, action, origin, { needsBinding: true });
    if (forged) {
      if (forged.code === 'approval.tampered') await this.#recordTamper(action, actor);
      return forged;
    }
    const { policy, text } = policyOf(access, action);
    let ineligible: Ineligible | null;
    try {
      ineligible = await access.ineligible(actor.id, policy, action.requester.id);
    } catch (err) {
      if (err instanceof OncallUnavailableError) return oncallRefusal(err, policy, action);
      throw err;
    }
    // Read now, not at request time: a handover mid-request makes the new commander the one who may not act alone.
    const commanderId = policy.commanderMayApproveAlone
      ? undefined
      : (await this.#deps.incidents.get(action.incident))?.commander.id;
    const refusal =
      approvalRefusal(action, actor, { isApprover: true, now: now(), approversText: text }) ??
      policyRefusal(action, actor, policy, ineligible, text, commanderId);
    if (refusal) {
      if (refusal.code === 'approval.expired') await this.expire(actionId);
      return refusal;
    }
    // The approval is bound to the exact change: a stored change that no longer hashes the same is refused.
    if (computeChangeHash(action.kind, action.service, action.basis, action.change) !== action.changeHash) {
      return {
        code: 'approval.tampered',
        message:
          'The stored change does not match what was requested; nothing was done. Run the command again.',
      };
    }
    // Tracked before it is approved, so the recovery sweep finds it whatever point a crash stops us at. Only now,
    // after every check: a refused or malformed press writes nothing.
    await this.#deps.store.addToSet(IN_FLIGHT, actionId);
    crashPoint('approval.before-approve');
    // One atomic step counts this approval: short of the quorum it is only recorded; the one that meets it
    // moves the request to approved, so exactly one click (on any replica) goes on to execute.
    const quorumMet = (current: Action) =>
      !approverIds(current).includes(actor.id) && approverIds(current).length + 1 >= policy.quorum;
    const approved = await this.#records.transition(
      actionId,
      'requested',
      'approved',
      actor,
      {},
      quorumMet,
      action,
    );
    crashPoint('approval.approved');
    if (!approved) {
      const partial = await this.#addApproval(actionId, actor, policy.quorum);
      if (partial) return null;
      const current = await this.get(actionId);
      if (current?.state === 'requested' && !approverIds(current).includes(actor.id)) {
        return this.approve(actionId, actor, origin); // the count moved under us: decide again
      }
      return current
        ? (approvalRefusal(current, actor, { isApprover: true, now: now(), approversText: text }) ??
            policyRefusal(current, actor, policy, null, text, commanderId))
        : null;
    }
    await this.#executor.execute(approved, bindingOf(this.#deps.keys, action));
    return null;
  }

  /** Records one approval short of the quorum; null when the request moved on or the quorum is now met. */
  async #addApproval(actionId: string, actor: Actor, quorum: number): Promise<Action | null> {
    let added: Action | null = null;
    await updateJson<Action>(this.#deps.store, actionKey(actionId), (current) => {
      added = null;
      if (current?.state !== 'requested') return undefined;
      const ids = approverIds(current);
      if (ids.includes(actor.id) || ids.length + 1 >= quorum) return undefined;
      added = {
        ...current,
        approvals: [...current.approvals, { actor, at: this.#deps.now().toISOString() }],
      };
      return added;
    });
    const action = added as Action | null;
    if (!action) return null;
    const { policy, text } = policyOf(this.#deps.access, action);
    await this.#deps.incidents.record(action.incident, {
      step: action.step,
      kind: 'action.approval-recorded',
      actor,
      summary: `${actor.name} approved (${progressText(action, policy, text)}): ${action.summary}`,
      data: { action: action.id, kind: action.kind, policy: policy.name, quorum: policy.quorum },
    });
    this.#records.refreshCard(actionId);
    return action;
  }

  async #recordTamper(action: Action, actor: Actor): Promise<void> {
    await this.#deps.incidents.record(action.incident, {
      step: action.step,
      kind: 'action.tamper-refused',
      actor: SYSTEM,
      summary: `Refused ${actor.id}'s approval of ${action.id}: the stored change no longer matches what its card showed`,
      data: { action: action.id, kind: action.kind, by: actor.id },
    });
  }

  async deny(actionId: string, actor: Actor, reason?: string, origin?: PressOrigin): Promise<Refusal | null> {
    const { access, now } = this.#deps;
    const action = await this.get(actionId);
    if (!action) return { code: 'approval.unknown', message: `There is no request ${actionId}.` };
    const elsewhere = origin ? pressRefusal(this.#deps.keys, action, origin, { needsBinding: false }) : null;
    if (elsewhere) return elsewhere;
    const own = actor.id === action.requester.id;
    const { policy, text } = policyOf(access, action);
    let ineligible: Ineligible | null = null;
    try {
      if (!own) ineligible = await access.ineligible(actor.id, policy, action.requester.id);
    } catch (err) {
      if (err instanceof OncallUnavailableError) return oncallRefusal(err, policy, action);
      throw err;
    }
    if (ineligible) {
      return {
        code: 'approval.not-approver',
        message: `Only those who may approve this (${text}) or the requester can stop this request.`,
      };
    }
    if (action.state !== 'requested') {
      return approvalRefusal(action, actor, { isApprover: true, now: now(), approversText: text });
    }
    const to: ActionState = own ? 'cancelled' : 'denied';
    const done = await this.#records.transition(actionId, 'requested', to, actor, {
      decision: { actor, at: now().toISOString(), ...(reason ? { reason } : {}) },
    });
    if (!done) return this.deny(actionId, actor, reason, origin);
    await this.#deps.scheduler.cancel(EXPIRY_QUEUE, actionId);
    return null;
  }

  /** Cancels every open request of an incident (on resolve). */
  async cancelOpen(incidentId: string, actor: Actor, reason: string): Promise<number> {
    let count = 0;
    for (const action of await this.listForIncident(incidentId)) {
      if (action.state !== 'requested') continue;
      const done = await this.#records.transition(action.id, 'requested', 'cancelled', actor, {
        decision: { actor, at: this.#deps.now().toISOString(), reason },
      });
      if (done) count++;
    }
    return count;
  }

  async expire(actionId: string): Promise<void> {
    const action = await this.get(actionId);
    if (!action || action.state !== 'requested') return;
    if (Date.parse(action.expiresAt) > this.#deps.now().getTime()) {
      await this.#deps.scheduler.at(EXPIRY_QUEUE, actionId, Date.parse(action.expiresAt));
      return;
    }
    await this.#records.transition(actionId, 'requested', 'expired', SYSTEM);
  }

  /**
   * Adds a line to the card's progress (and `data` for the handler's view), in any state: milestones that come
   * after the action finished (clients converged) land here. Does not touch the timeline; record events yourself.
   */
  async annotate(actionId: string, text: string, data?: Record<string, unknown>): Promise<void> {
    await this.#records.annotate(actionId, text, data);
  }

  /**
   * Finds actions whose executor is gone (its lease lapsed, or it never took one) and finishes them truthfully:
   * `approved` but never started -> executed now (its compare-and-swap write refuses a moved world), or failed
   * when the request has expired meanwhile; `executing` -> reality re-read and reported, never re-sent.
   * An action whose executor still holds its lease is left alone, however long it runs.
   */
  async recover(): Promise<void> {
    await this.#executor.recover();
  }
}
