// What the approval flow needs from its callers: the handler of each action kind, a request, its dependencies.
import type { Access } from '../../src/access.ts';
import type { Action, ActionResult } from '../../src/actions.ts';
import type { ChangeView } from '../../src/chat/blocks/approval.ts';
import type { Chat } from '../../src/chat/chat.ts';
import type { Incident } from '../../src/incident.ts';
import type { Keys } from '../../src/keys.ts';
import type { Logger } from '../../src/log.ts';
import type { StepState } from '../../src/runbook.ts';
import type { Scheduler } from '../../src/scheduler.ts';
import type { Store } from '../../src/store/store.ts';
import type { Tasks, Throttle } from '../../src/tasks.ts';
import type { Actor, Step } from '../../src/timeline.ts';
import type { Incidents } from '../incident/index.ts';

export interface ExecutionContext {
  /** Reports progress: lands on the timeline and on the card. */
  progress(text: string, data?: Record<string, unknown>): Promise<void>;
  /** Who approved (empty for break-glass). */
  approvers: Actor[];
  /** Aborts when this executor lost its lease: another replica may be taking over, so stop writing. */
  signal: AbortSignal;
}

/** What a kind of risky action needs to plug into the approval flow. */
export interface ActionHandler<Change = unknown> {
  kind: string;
  /** The "before -> after" part of the card. */
  describe(action: Action<Change>): ChangeView;
  /** Performs the change. Must itself refuse when reality no longer matches `action.basis`. */
  execute(action: Action<Change>, ctx: ExecutionContext): Promise<ActionResult>;
  /** After a restart found the action `executing`: re-read reality and report; never re-send the change. */
  recheck(action: Action<Change>): Promise<ActionResult>;
  /** Checklist state for the step when the action succeeds (default done). */
  stepOnSuccess?: StepState;
}

export interface ActionRequest<Change> {
  kind: string;
  incident: Incident;
  step: Step | null;
  summary: string;
  basis: unknown;
  change: Change;
  requester: Actor;
  breakGlass?: string;
}

export interface ApprovalDeps {
  store: Store;
  chat: Chat;
  access: Access;
  incidents: Incidents;
  scheduler: Scheduler;
  tasks: Tasks;
  throttle: Throttle;
  log: Logger;
  now: () => Date;
  /** This replica's identity, for execution leases. */
  instanceId: string;
  /** Execution lease timing (default 15 s, renewed every 5 s): an executor is dead once its lease lapsed. */
  lease?: { ttlMs: number; renewMs?: number };
  /** The out-of-Redis secret the Approve button's change hash is keyed with. */
  keys: Keys;
}
