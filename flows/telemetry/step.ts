// L — Log telemetry: heap dumps, thread traces, quarantine.
import { debugContainerButton } from '../../commands/buttons.ts';
import type { Step } from '../../commands/step.ts';
import { DEBUG_CONTAINER_ACTION } from './blocks.ts';
import { telemetryCommand } from './command.ts';
import { registerTelemetry } from './telemetry.ts';

export const telemetryStep: Step = {
  name: 'L telemetry',
  commands: [telemetryCommand],
  buttons: { [DEBUG_CONTAINER_ACTION]: debugContainerButton },
  register: (deps) => registerTelemetry(deps),
};
