// What the ledger (step O) may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
import type { Deps, StepCore } from '../../src/deps.ts';

export type LedgerCaps = StepCore & Pick<Deps, 'redactor' | 'throttle' | 'approvals' | 'instanceId'>;
