// Step O: audit the ledger between legacy and cloud, and lock the cloud writers / reconcile only after approval.
import type { LedgerCaps } from './caps.ts';
import { registerLock, registerUnlock } from './lock.ts';
import { registerReconcile } from './reconcile.ts';

/** Registers lock, unlock and reconcile with the approval flow. */
export function registerLedgerActions(deps: LedgerCaps): void {
  registerLock(deps);
  registerUnlock(deps);
  registerReconcile(deps);
}

export { CSV_HEADER, runLedgerAudit, type AuditRun, type AuditRunInput } from './audit.ts';
export { requestLock, requestUnlock } from './lock.ts';
export { requestReconcile } from './reconcile.ts';
export {
  LEDGER_LOCK,
  LEDGER_RECONCILE,
  LEDGER_UNLOCK,
  ledgerFor,
  noLedger,
  type LockRecord,
} from './shared.ts';
