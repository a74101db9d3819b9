// What the approval step's buttons may reach: the approvals service (the two-person rule has its own ApprovalDeps).
import type { Deps } from '../../src/deps.ts';

export type ApprovalCaps = Pick<Deps, 'approvals'>;
