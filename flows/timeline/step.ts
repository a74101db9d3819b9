// Timeline: the tamper-evident record of the incident.
import type { Step } from '../../commands/step.ts';
import type { TimelineCaps } from './caps.ts';
import { timelineCommand } from './command.ts';

export const timelineStep: Step<TimelineCaps> = { name: 'timeline', commands: [timelineCommand] };
