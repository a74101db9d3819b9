// What contain (step C) may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
import type { Deps, StepCore } from '../../src/deps.ts';

export type ContainCaps = StepCore & Pick<Deps, 'access' | 'scheduler' | 'approvals' | 'instanceId'>;
