// Post-mortem: the document built from the timeline.
import type { Step } from '../../commands/step.ts';
import { postmortemCommand } from './command.ts';

export const postmortemStep: Step = { name: 'post-mortem', commands: [postmortemCommand] };
