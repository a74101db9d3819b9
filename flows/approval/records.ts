// The stored actions: read, change atomically, move between states on the timeline, and keep the card current.
import type { Action, ActionState } from '../../src/actions.ts';
import { isTerminal, transition } from '../../src/actions.ts';
import { approveValue } from '../../src/approval-binding.ts';
import { approvalCard, type ChangeView } from '../../src/chat/blocks/approval.ts';
import type { Message } from '../../src/chat/chat.ts';
import { getJson, updateJson } from '../../src/store/store.ts';
import type { Actor } from '../../src/timeline.ts';
import { updateSeen } from '../../src/update-seen.ts';
import { policyOf, progressText } from './policy.ts';
import { transitionSummary } from './summary.ts';
import type { ActionHandler, ApprovalDeps } from './types.ts';

export const actionKey = (id: string) => `action:${id}`;
export const EXPIRY_QUEUE = 'action-expiry';

export class ActionRecords {
  #deps: ApprovalDeps;
  readonly handlers = new Map<string, ActionHandler<unknown>>();

  constructor(deps: ApprovalDeps) {
    this.#deps = deps;
  }

  async get(id: string): Promise<Action | null> {
    return getJson<Action>(this.#deps.store, actionKey(id));
  }

  handler(kind: string): ActionHandler<unknown> {
    const handler = this.handlers.get(kind);
    if (!handler) throw new Error(`no handler registered for action kind ${kind}`);
    return handler;
  }

  /**
   * Adds a line to the card's progress (and `data` for the handler's view), in any state: milestones that come
   * after the action finished (clients converged) land here. Does not touch the timeline; record events yourself.
   */
  async annotate(actionId: string, text: string, data?: Record<string, unknown>): Promise<void> {
    const saved = await this.save(actionId, (a) => ({
      ...a,
      progress: [...a.progress, { at: this.#deps.now().toISOString(), text, ...(data ? { data } : {}) }],
    }));
    if (saved) this.refreshCard(actionId);
  }

  /**
   * Atomic state move; null when another replica or click moved it first. Records it and refreshes the card.
   * `seen`: the action as this process last read or wrote it, tried as the compare-and-set's expected value first
   * (no read before the write when nothing moved it since).
   */
  async transition(
    id: string,
    from: ActionState,
    to: ActionState,
    actor: Actor,
    patch: Parameters<typeof transition>[4] = {},
    allowed: (current: Action) => boolean = () => true,
    seen?: Action,
  ): Promise<Action | null> {
    let moved: Action | null = null;
    await updateSeen<Action>(this.#deps.store, actionKey(id), seen && JSON.stringify(seen), (current) => {
      moved = null;
      if (!current || current.state !== from || !allowed(current)) return undefined;
      moved = transition(current, to, actor, this.#deps.now(), patch);
      return moved;
    });
    const action = moved as Action | null;
    if (!action) return null;
    if (to !== 'succeeded' && to !== 'failed') {
      // Terminal results are recorded by #finish with their outcome; the rest are recorded here.
      await this.#deps.incidents.record(action.incident, {
        step: action.step,
        kind: `action.${to}`,
        actor,
        summary: transitionSummary(action, to, actor, patch),
        data: { action: action.id, kind: action.kind, changeHash: action.changeHash },
      });
    }
    this.refreshCard(id);
    if (isTerminal(to)) await this.#deps.scheduler.cancel(EXPIRY_QUEUE, id);
    return action;
  }

  card(action: Action, view: ChangeView): Message {
    const { policy, text } = policyOf(this.#deps.access, action);
    return approvalCard(action, view, text, approveValue(this.#deps.keys, action), {
      policy: policy.name,
      quorum: policy.quorum,
      progress: progressText(action, policy, text),
    });
  }

  async save(id: string, change: (a: Action) => Action): Promise<Action | null> {
    return updateJson<Action>(this.#deps.store, actionKey(id), (current) =>
      current ? change(current) : undefined,
    );
  }

  refreshCard(id: string): void {
    this.#deps.throttle.schedule(
      `card:${id}`,
      async () => {
        const action = await this.get(id);
        if (!action?.card) return;
        const handler = this.handlers.get(action.kind);
        const view = handler ? handler.describe(action) : { fields: [] };
        try {
          await this.#deps.chat.update(action.card, this.card(action, view));
        } catch (err) {
          this.#deps.log.warn({ err, action: id }, 'could not update the approval card');
        }
        // An approval card's state is what people act on: it is not a progress edit.
      },
      { progress: false },
    );
  }
}
