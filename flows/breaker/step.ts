// D — Develop automated circuit breakers: arm, evaluate, trip back to legacy.
import type { Step } from '../../commands/step.ts';
import type { BreakerCaps } from './caps.ts';
import { breakerCommand } from './command.ts';
import { registerBreaker } from './evaluator.ts';

export const breakerStep: Step<BreakerCaps> = {
  name: 'D breaker',
  commands: [breakerCommand],
  register: (deps, options) => void registerBreaker(deps, options.breaker),
};
