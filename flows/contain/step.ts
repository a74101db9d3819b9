// C — Contain: shift weighted traffic back to legacy.
import type { Step } from '../../commands/step.ts';
import { containCommand } from './command.ts';
import { registerContain } from './contain.ts';

export const containStep: Step = {
  name: 'C contain',
  commands: [containCommand],
  register: (deps) => registerContain(deps),
};
