// U — Uncover the root cause in an offline Terraform sandbox.
import type { Step } from '../../commands/step.ts';
import type { SandboxCaps } from './caps.ts';
import { sandboxCommand } from './command.ts';
import { registerSandboxJobs } from './sandbox.ts';

export const sandboxStep: Step<SandboxCaps> = {
  name: 'U sandbox',
  commands: [sandboxCommand],
  register: (deps) => registerSandboxJobs(deps),
};
