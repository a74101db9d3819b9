// Step O, lock and unlock: asks to lock the cloud writers out of the ledger table (or back in), and does it once approved.
import type { ActionResult } from '../../src/actions.ts';
import { lockView, unlockView, type LockChange } from './blocks.ts';
import type { LedgerCaps } from './caps.ts';
import { UsageError } from '../../src/errors.ts';
import { LEDGER_LOCKED, LEDGER_UNLOCKED, type LedgerLockEventData } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { type Ledger } from '../../src/ledger.ts';
import { getJson } from '../../src/store/store.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import type { LockRecord } from './shared.ts';
import { LEDGER_LOCK, LEDGER_UNLOCK, registerLedgerAction, lockKey } from './shared.ts';

/** Asks to lock the cloud writers out of the ledger table. */
export async function requestLock(
  deps: LedgerCaps,
  input: { incident: Incident; service: string; ledger: Ledger; actor: Actor; usage: string },
): Promise<string> {
  const { incident, service, ledger } = input;
  const writers = await ledger.writerState();
  if (!writers.canWrite) {
    return `The cloud writers (role ${writers.role}) already cannot write to ${writers.table}; nothing to lock.`;
  }
  if (writers.granted.length === 0 || writers.reasons.length > 0) {
    throw new UsageError(
      `Refused: revoking grants would not lock ${writers.role} out of ${writers.table}: ${writers.reasons.join('; ') || 'no direct grant to revoke'}. Remove that path by hand (see docs/ledger.md); nothing was changed.`,
      input.usage,
    );
  }
  const change: LockChange = {
    role: writers.role,
    table: writers.table,
    revoke: writers.granted,
    sessions: writers.sessions,
  };
  const action = await deps.approvals.request<LockChange>({
    kind: LEDGER_LOCK,
    incident,
    step: 'O',
    summary: `Lock cloud writers (${writers.role}) out of ${service}'s ledger: revoke ${writers.granted.map((g) => g.privilege).join(', ')}, end ${writers.sessions} session(s)`,
    basis: { role: writers.role, table: writers.table, granted: writers.granted },
    change,
    requester: input.actor,
  });
  return `Approval requested (${action.id}) to lock ${writers.role} out of ${writers.table}; a second person must approve it.`;
}

export async function requestUnlock(
  deps: LedgerCaps,
  input: { incident: Incident; service: string; ledger: Ledger; actor: Actor; usage: string },
): Promise<string> {
  const { incident, service } = input;
  const record = await getJson<LockRecord>(deps.store, lockKey(service));
  if (!record) {
    throw new UsageError(
      `cloud-safety has no lock on record for ${service}, so it does not know what to grant back. If the writers were locked by hand, restore their grants by hand.`,
      input.usage,
    );
  }
  const change: LockChange & { lockedAt: string } = {
    role: record.role,
    table: record.table,
    revoke: record.revoked,
    sessions: 0,
    lockedAt: record.lockedAt,
  };
  const action = await deps.approvals.request({
    kind: LEDGER_UNLOCK,
    incident,
    step: 'O',
    summary: `Unlock cloud writers (${record.role}) on ${service}'s ledger: grant back ${record.revoked.map((r) => r.privilege).join(', ')}`,
    basis: record,
    change,
    requester: input.actor,
  });
  return `Approval requested (${action.id}) to grant ${record.role} its privileges back; a second person must approve it.`;
}

/** The lock handler: revokes the cloud writers' privileges on the ledger table once approved. */
export function registerLock(deps: LedgerCaps): void {
  registerLedgerAction<LockChange>(deps, LEDGER_LOCK, lockView, {
    async execute(ledger, action, ctx): Promise<ActionResult> {
      // The adapter refuses inside its transaction when the grants moved since the request.
      const result = await ledger.lock(action.change.revoke);
      const record: LockRecord = {
        role: action.change.role,
        table: action.change.table,
        revoked: result.revoked,
        lockedAt: deps.now().toISOString(),
        action: action.id,
      };
      await deps.store.set(lockKey(action.service), JSON.stringify(record));
      const privileges = result.revoked.map((p) => p.privilege);
      const data: LedgerLockEventData = {
        action: action.id,
        role: record.role,
        table: record.table,
        privileges,
        terminated: result.terminated + result.terminatedAfterCommit,
      };
      const seen = result.observed ? { observed: result.observed } : {};
      await deps.incidents.record(action.incident, {
        step: 'O',
        kind: LEDGER_LOCKED,
        actor: SYSTEM,
        summary: `Locked ${record.role} out of ${record.table}: revoked ${privileges.join(', ')}, ended ${data.terminated} session(s)${result.observed ? `; seen by reading back: ${result.observed}` : ''}`,
        data: { ...data, ...seen },
      });
      await ctx.progress(`revoked ${privileges.join(', ')}; ended ${data.terminated} session(s)`);
      return {
        ok: true,
        summary: `Revoked ${privileges.join(', ')} from ${record.role} on ${record.table} and ended ${result.terminated} session(s)${result.terminatedAfterCommit > 0 ? ` (+${result.terminatedAfterCommit} that slipped in before the commit)` : ''}.${result.observed ? ` Seen by reading back: ${result.observed}.` : ''} \`/ledger unlock\` grants back exactly these.`,
        data: { ...data, ...seen },
      };
    },
    async recheck(ledger, action) {
      const writers = await ledger.writerState();
      return writers.canWrite
        ? {
            ok: false,
            summary: `${writers.role} can still write to ${writers.table}; the lock did not take. Run /ledger lock again.`,
          }
        : {
            ok: true,
            summary: `${writers.role} cannot write to ${writers.table}. Note: no lock record was saved; unlock by hand (${action.change.revoke.map((p) => p.privilege).join(', ')}).`,
          };
    },
  });
}

/** The unlock handler: grants back exactly what the lock revoked, once approved. */
export function registerUnlock(deps: LedgerCaps): void {
  registerLedgerAction<LockChange & { lockedAt: string }>(deps, LEDGER_UNLOCK, unlockView, {
    async execute(ledger, action, ctx): Promise<ActionResult> {
      const raw = await deps.store.get(lockKey(action.service));
      const basis = action.basis as LockRecord;
      if (raw === null || (JSON.parse(raw) as LockRecord).action !== basis.action) {
        return {
          ok: false,
          summary:
            'The lock record changed since the request (unlocked or locked again); nothing was granted.',
        };
      }
      await ledger.unlock(action.change.revoke);
      await deps.store.compareAndSet(lockKey(action.service), raw, null);
      const privileges = action.change.revoke.map((p) => p.privilege);
      const data: LedgerLockEventData = {
        action: action.id,
        role: action.change.role,
        table: action.change.table,
        privileges,
      };
      await deps.incidents.record(action.incident, {
        step: 'O',
        kind: LEDGER_UNLOCKED,
        actor: SYSTEM,
        summary: `Unlocked ${action.change.role} on ${action.change.table}: granted back ${privileges.join(', ')}`,
        data: { ...data },
      });
      await ctx.progress(`granted back ${privileges.join(', ')}`);
      return {
        ok: true,
        summary: `Granted ${privileges.join(', ')} back to ${action.change.role} on ${action.change.table}.`,
        data: { ...data },
      };
    },
    async recheck(ledger, action) {
      const writers = await ledger.writerState();
      const back = action.change.revoke.every((p) =>
        writers.granted.some((g) => g.privilege === p.privilege),
      );
      return back
        ? {
            ok: true,
            summary: `${writers.role} holds ${action.change.revoke.map((p) => p.privilege).join(', ')} again.`,
          }
        : {
            ok: false,
            summary: `${writers.role} does not hold its privileges back; run /ledger unlock again.`,
          };
    },
  });
}
