// Timeline: the tamper-evident record of the incident.
import type { Step } from '../../commands/step.ts';
import { timelineCommand } from './command.ts';

export const timelineStep: Step = { name: 'timeline', commands: [timelineCommand] };
