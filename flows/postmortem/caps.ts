// What the post-mortem may reach: the part of Deps it declares (src/main.ts hands the whole Deps).
import type { Deps } from '../../src/deps.ts';

export type PostmortemCaps = Pick<
  Deps,
  'config' | 'chat' | 'log' | 'redactor' | 'timeline' | 'incidents' | 'now'
>;
