// C — Contain: shift weighted traffic back to legacy.
import type { Step } from '../../commands/step.ts';
import type { ContainCaps } from './caps.ts';
import { containCommand } from './command.ts';
import { registerContain } from './contain.ts';

export const containStep: Step<ContainCaps> = {
  name: 'C contain',
  commands: [containCommand],
  register: (deps) => registerContain(deps),
};
