// What the drill may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
import type { Deps, StepCore } from '../../src/deps.ts';

export type DrillCaps = StepCore & Pick<Deps, 'metrics' | 'tasks' | 'timeline' | 'instanceId' | 'approvals'>;
