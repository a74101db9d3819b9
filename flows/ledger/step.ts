// O — Orchestrate a clean-state rollback: audit, lock and reconcile the ledger.
import type { Step } from '../../commands/step.ts';
import { ledgerCommand } from './command.ts';
import { registerLedgerActions } from './ledger.ts';

export const ledgerStep: Step = {
  name: 'O ledger',
  commands: [ledgerCommand],
  register: (deps) => registerLedgerActions(deps),
};
