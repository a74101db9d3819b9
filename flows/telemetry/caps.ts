// What telemetry (step L) may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
import type { Deps, StepCore } from '../../src/deps.ts';

export type TelemetryCaps = StepCore &
  Pick<Deps, 'metrics' | 'tasks' | 'throttle' | 'scheduler' | 'approvals' | 'instanceId'>;
