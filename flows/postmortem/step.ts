// Post-mortem: the document built from the timeline.
import type { Step } from '../../commands/step.ts';
import type { PostmortemCaps } from './caps.ts';
import { postmortemCommand } from './command.ts';

export const postmortemStep: Step<PostmortemCaps> = { name: 'post-mortem', commands: [postmortemCommand] };
