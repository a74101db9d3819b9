// U — Uncover the root cause in an offline Terraform sandbox.
import type { Step } from '../../commands/step.ts';
import { sandboxCommand } from './command.ts';
import { registerSandboxJobs } from './sandbox.ts';

export const sandboxStep: Step = {
  name: 'U sandbox',
  commands: [sandboxCommand],
  register: (deps) => registerSandboxJobs(deps),
};
