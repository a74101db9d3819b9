// Step O, shared: the approval kinds, the lock record, and the service's ledger and incident for an action.
import type { Action, ActionResult } from '../../src/actions.ts';
import type { ChangeView } from '../../src/chat/blocks/approval.ts';
import type { ExecutionContext } from '../approval/index.ts';
import type { LedgerCaps } from './caps.ts';
import { UsageError } from '../../src/errors.ts';
import type { Incident } from '../../src/incident.ts';
import { type Ledger, type TablePrivilege } from '../../src/ledger.ts';

export const LEDGER_LOCK = 'ledger.lock';
export const LEDGER_UNLOCK = 'ledger.unlock';
export const LEDGER_RECONCILE = 'ledger.reconcile';

/** CDC can't have carried a row written more recently than this, whatever its reported lag. */
export const MIN_IN_FLIGHT_MS = 60_000;
export const AUDIT_LEASE_MS = 60_000;

export const lockKey = (service: string) => `ledger:${service}:lock`;
export const auditLeaseKey = (service: string) => `ledger:${service}:audit`;

/** What the bot remembers of a lock, so unlock grants back exactly what was revoked. */
export interface LockRecord {
  role: string;
  table: string;
  revoked: TablePrivilege[];
  lockedAt: string;
  action: string;
}

/** The service's ledger, or a usage error that says how to configure one. Never touches a database. */
export function noLedger(service: string, usage: string): UsageError {
  return new UsageError(
    `${service} has no ledger configured. Add services.${service}.ledger (legacy, cloud, table, key, columns, updatedAt) to cloud-safety.yml; docs/ledger.md has an example.`,
    usage,
  );
}

export function ledgerFor(deps: LedgerCaps, service: string, usage: string): Ledger {
  const ledger = deps.adapters.ledger?.get(service);
  if (!ledger) throw noLedger(service, usage);
  return ledger;
}

export function ledgerOf(deps: LedgerCaps, action: Action): Ledger {
  const ledger = deps.adapters.ledger?.get(action.service);
  if (!ledger) throw new Error(`${action.service} has no ledger configured any more`);
  return ledger;
}

/** What a ledger action does once approved, and how a restarted bot rechecks it; both get the service's ledger. */
export interface LedgerActionHandler<Change> {
  execute(ledger: Ledger, action: Action<Change>, ctx: ExecutionContext): Promise<ActionResult>;
  recheck(ledger: Ledger, action: Action<Change>): Promise<ActionResult>;
}

/** Registers a ledger approval kind: its card shows `view(change)`, and its success leaves step O in progress. */
export function registerLedgerAction<Change>(
  deps: LedgerCaps,
  kind: string,
  view: (change: Change) => ChangeView,
  handler: LedgerActionHandler<Change>,
): void {
  deps.approvals.register<Change>({
    kind,
    stepOnSuccess: 'in_progress',
    describe: (action) => view(action.change),
    execute: (action, ctx) => handler.execute(ledgerOf(deps, action), action, ctx),
    recheck: (action) => handler.recheck(ledgerOf(deps, action), action),
  });
}

export async function incidentOf(deps: LedgerCaps, action: Action): Promise<Incident> {
  const incident = await deps.incidents.get(action.incident);
  if (!incident) throw new Error(`incident ${action.incident} is gone`);
  return incident;
}
