// What the breaker (step D) may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
// It arms, disarms and halts canaries (which shift traffic), so it needs the canary's capabilities too.
import type { Deps } from '../../src/deps.ts';
import type { CanaryCaps } from '../canary/index.ts';

export type BreakerCaps = Pick<Deps, 'tasks' | 'pagerduty'> & CanaryCaps;
