// What the canary (step D) may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
// It checks preflight and shifts traffic (contain, the retried shift), so it needs their capabilities too.
import type { Deps } from '../../src/deps.ts';
import type { ContainCaps } from '../contain/index.ts';
import type { PreflightCaps } from '../preflight/index.ts';
import type { ShiftCaps } from '../shift/index.ts';

export type CanaryCaps = Pick<Deps, 'throttle'> & ContainCaps & PreflightCaps & ShiftCaps;
