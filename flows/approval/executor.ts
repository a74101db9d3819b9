// Executing an approved action exactly once under its lease, and finishing those whose executor died.
import { bindingOf } from '../../src/approval-binding.ts';
import { isTerminal, type Action, type ActionResult, type ActionState } from '../../src/actions.ts';
import { crashPoint } from '../../src/crash.ts';
import { takeLease, type Lease } from '../../src/lease.ts';
import { SYSTEM } from '../../src/timeline.ts';
import { EXPIRY_QUEUE, type ActionRecords } from './records.ts';
import type { ApprovalDeps } from './types.ts';

const leaseKey = (id: string) => `action:${id}:lease`;
/** Every action approved and not yet finished (the key predates `approved` being tracked here too). */
export const IN_FLIGHT = 'actions:executing';
const LEASE_MS = 15_000;

export class Executor {
  #deps: ApprovalDeps;
  #records: ActionRecords;

  constructor(deps: ApprovalDeps, records: ActionRecords) {
    this.#deps = deps;
    this.#records = records;
  }

  /**
   * Finds actions whose executor is gone (its lease lapsed, or it never took one) and finishes them truthfully:
   * `approved` but never started -> executed now (its compare-and-swap write refuses a moved world), or failed
   * when the request has expired meanwhile; `executing` -> reality re-read and reported, never re-sent.
   * An action whose executor still holds its lease is left alone, however long it runs.
   */
  async recover(): Promise<void> {
    const { store, log } = this.#deps;
    for (const id of await store.members(IN_FLIGHT)) {
      const seen = await this.#records.get(id);
      if (!seen || isTerminal(seen.state)) {
        await store.removeFromSet(IN_FLIGHT, id);
        continue;
      }
      if (seen.state === 'requested') continue; // an approval click in progress, or one that never landed
      const lease = await this.#lease(id);
      if (!lease) continue; // its executor is alive
      try {
        const action = await this.#records.get(id);
        if (action?.state === 'approved') await this.#resume(action, lease);
        else if (action?.state === 'executing') await this.#takeOver(action, lease);
      } catch (err) {
        log.error({ err, action: id }, 'recovering an action failed; the next sweep tries again');
      } finally {
        await lease.release();
      }
    }
  }

  #lease(id: string): Promise<Lease | null> {
    const { store, instanceId, log } = this.#deps;
    const timing = this.#deps.lease ?? { ttlMs: LEASE_MS };
    return takeLease(store, leaseKey(id), {
      owner: instanceId,
      ttlMs: timing.ttlMs,
      ...(timing.renewMs ? { renewMs: timing.renewMs } : {}),
      onLost: (reason) => log.error({ action: id, reason }, 'lost the execution lease; stopping'),
    });
  }

  /** Approved, then its executor died before starting: run it now if the request is still fresh, else fail it. */
  async #resume(action: Action, lease: Lease): Promise<void> {
    const { now, incidents } = this.#deps;
    if (now().getTime() >= Date.parse(action.expiresAt)) {
      const approvedAt = action.history.find((h) => h.state === 'approved')?.at ?? '?';
      const result: ActionResult = {
        ok: false,
        summary: `Approved at ${approvedAt}, but the bot stopped before executing it and the request expired at ${action.expiresAt}; nothing was changed. Run the command again to act on the current state.`,
        data: { recovered: true, neverStarted: true },
      };
      await this.#finish(action, result, { from: 'approved' });
      return;
    }
    await incidents.record(action.incident, {
      step: action.step,
      kind: 'action.progress',
      actor: SYSTEM,
      summary: `Resuming after a restart: ${action.summary} was approved but had not started; executing it now (its write still refuses a changed world).`,
      data: { action: action.id, resumed: true },
    });
    await this.#run(action, lease);
  }

  /** Executing, and its executor's lease lapsed: fence it out, then re-read reality and report. */
  async #takeOver(action: Action, lease: Lease): Promise<void> {
    const fenced = await this.#records.save(action.id, (a) =>
      a.state === 'executing' ? { ...a, executor: { token: lease.token, owner: this.#deps.instanceId } } : a,
    );
    if (fenced?.state !== 'executing') return;
    let result: ActionResult;
    try {
      result = await this.#records.handler(action.kind).recheck(fenced);
    } catch (err) {
      this.#deps.log.error({ err, action: action.id }, 'recheck after restart failed');
      result = {
        ok: false,
        summary: `Interrupted by a restart; could not re-read the outcome: ${(err as Error).message}. Check by hand before retrying.`,
      };
    }
    lease.check();
    await this.#finish(
      fenced,
      { ...result, summary: `After a restart: ${result.summary}`, data: { ...result.data, recovered: true } },
      { token: lease.token },
    );
  }

  /** `binding`: the keyed change hash the approver's button carried; the executing copy must still match it. */
  async execute(approved: Action, binding?: string): Promise<void> {
    // The expiry timer is moot once approved (expire() leaves a non-requested action alone): dropped while the
    // lease is taken, in the same round trip.
    const [cancelled, leased] = await Promise.allSettled([
      this.#deps.scheduler.cancel(EXPIRY_QUEUE, approved.id),
      this.#lease(approved.id),
    ]);
    if (leased.status === 'rejected') throw leased.reason;
    const lease = leased.value;
    if (cancelled.status === 'rejected') {
      await lease?.release();
      throw cancelled.reason;
    }
    // Held: another executor (the recovery sweep of some replica) already runs it.
    if (!lease) return;
    try {
      await this.#run(approved, lease, binding);
    } finally {
      crashPoint('approval.finished');
      await lease.release();
    }
  }

  /** approved -> executing under `lease`, runs the handler, records the outcome if the lease is still ours. */
  async #run(approved: Action, lease: Lease, binding?: string): Promise<void> {
    const { instanceId, log, incidents } = this.#deps;
    const handler = this.#records.handler(approved.kind);
    crashPoint('approval.leased');
    const executing = await this.#records.transition(
      approved.id,
      'approved',
      'executing',
      SYSTEM,
      { executor: { token: lease.token, owner: instanceId } },
      undefined,
      approved,
    );
    if (!executing) return;
    crashPoint('approval.executing');
    let result: ActionResult;
    try {
      if (binding !== undefined && bindingOf(this.#deps.keys, executing) !== binding) {
        throw new Error(
          'Refused: the stored change was rewritten while it was being approved; nothing was written. Run the command again.',
        );
      }
      result = await handler.execute(executing, {
        approvers: executing.approvals
          .filter((a) => a.actor.id !== executing.requester.id)
          .map((a) => a.actor),
        signal: lease.signal,
        progress: async (text, data) => {
          lease.check();
          await incidents.record(executing.incident, {
            step: executing.step,
            kind: 'action.progress',
            actor: SYSTEM,
            summary: text,
            data: { action: executing.id, ...data },
          });
          await this.#records.annotate(executing.id, text, data);
        },
      });
    } catch (err) {
      log.error({ err, action: approved.id }, 'action failed');
      result = { ok: false, summary: (err as Error).message };
    }
    crashPoint('approval.executed');
    if (lease.signal.aborted) {
      // Whoever holds the lease now re-reads reality and reports; a second, stale verdict would only confuse.
      log.error(
        { action: approved.id, token: lease.token },
        'execution lease lost; leaving the outcome to the new holder',
      );
      return;
    }
    await this.#finish(executing, result, { token: lease.token });
  }

  /**
   * Records the outcome: only from `executing` held by fencing token `token` (a lapsed executor's late verdict is
   * refused), or from `approved` for an action that never started.
   */
  async #finish(
    action: Action,
    result: ActionResult,
    by: { token: number } | { from: 'approved' },
  ): Promise<void> {
    const from: ActionState = 'from' in by ? by.from : 'executing';
    const done = await this.#records.transition(
      action.id,
      from,
      result.ok ? 'succeeded' : 'failed',
      SYSTEM,
      { result },
      (current) => 'from' in by || current.executor?.token === by.token,
    );
    if (!done) return;
    await this.#deps.store.removeFromSet(IN_FLIGHT, action.id);
    const handler = this.#records.handlers.get(action.kind);
    await this.#deps.incidents.record(action.incident, {
      step: action.step,
      kind: result.ok ? 'action.succeeded' : 'action.failed',
      actor: SYSTEM,
      summary: `${result.ok ? 'Done' : 'FAILED'}: ${action.summary}. ${result.summary}`,
      data: { action: action.id, kind: action.kind, ...(result.data ?? {}) },
      ...(action.step && result.ok
        ? { stepState: result.stepState ?? handler?.stepOnSuccess ?? 'done' }
        : {}),
    });
  }
}
