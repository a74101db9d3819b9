// L — Log telemetry: heap dumps, thread traces, quarantine.
import type { Step } from '../../commands/step.ts';
import type { TelemetryCaps } from './caps.ts';
import { DEBUG_CONTAINER_ACTION } from './blocks.ts';
import { debugContainerButton } from './debug.ts';
import { telemetryCommand } from './command.ts';
import { registerTelemetry } from './telemetry.ts';

export const telemetryStep: Step<TelemetryCaps> = {
  name: 'L telemetry',
  commands: [telemetryCommand],
  buttons: { [DEBUG_CONTAINER_ACTION]: debugContainerButton },
  register: (deps) => registerTelemetry(deps),
};
