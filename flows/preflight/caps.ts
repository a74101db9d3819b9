// What preflight may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
import type { Deps } from '../../src/deps.ts';

export type PreflightCaps = Pick<
  Deps,
  'adapters' | 'config' | 'store' | 'log' | 'access' | 'incidents' | 'approvals' | 'now'
>;
