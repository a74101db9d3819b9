// What the retried shift may reach: what contain's shift needs, since it retries that shift.
import type { ContainCaps } from '../contain/index.ts';

export type ShiftCaps = ContainCaps;
