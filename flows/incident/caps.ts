// What the incident may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
import type { Deps, StepCore } from '../../src/deps.ts';

export type IncidentCaps = StepCore &
  Pick<Deps, 'redactor' | 'throttle' | 'scheduler' | 'timeline' | 'approvals' | 'pagerduty' | 'instanceId'>;
