// O — Orchestrate a clean-state rollback: audit, lock and reconcile the ledger.
import type { Step } from '../../commands/step.ts';
import type { LedgerCaps } from './caps.ts';
import { ledgerCommand } from './command.ts';
import { registerLedgerActions } from './ledger.ts';

export const ledgerStep: Step<LedgerCaps> = {
  name: 'O ledger',
  commands: [ledgerCommand],
  register: (deps) => registerLedgerActions(deps),
};
