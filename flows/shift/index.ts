// The retried shift, shared by the breaker's trip and the canary's steps and controls.
export { shiftWithRetry } from './retry.ts';
export type { RetriedShiftOutcome, RetriedShiftRequest } from './retry.ts';
