// What the timeline command may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
import type { Deps } from '../../src/deps.ts';

export type TimelineCaps = Pick<Deps, 'timeline' | 'incidents'>;
