// D — Develop canaries: step traffic to the cloud stack and bake each step.
import type { Step } from '../../commands/step.ts';
import type { CanaryCaps } from './caps.ts';
import { registerCanary } from './canary.ts';
import { canaryCommand } from './command.ts';

export const canaryStep: Step<CanaryCaps> = {
  name: 'D canary',
  commands: [canaryCommand],
  register: (deps) => registerCanary(deps),
};
