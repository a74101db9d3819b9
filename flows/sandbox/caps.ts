// What the sandbox (step U) may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
import type { Deps, StepCore } from '../../src/deps.ts';

export type SandboxCaps = StepCore &
  Pick<Deps, 'redactor' | 'tasks' | 'throttle' | 'scheduler' | 'timeline' | 'instanceId'>;
