// Incident: declare (command or modal), follow and resolve; 📌 reactions pin a message to the timeline.
import type { Step } from '../../commands/step.ts';
import type { IncidentCaps } from './caps.ts';
import { incidentCommand } from './command.ts';
import { declareFormHandler } from './form.ts';
import { pinFromReaction } from './pin.ts';

export const incidentStep: Step<IncidentCaps> = {
  name: 'incident',
  commands: [incidentCommand],
  reactions: [pinFromReaction],
  forms: [declareFormHandler],
};
