// Preflight: check every configured service can be reached before the incident needs it.
import type { Step } from '../../commands/step.ts';
import type { PreflightCaps } from './caps.ts';
import { preflightCommand } from './command.ts';

export const preflightStep: Step<PreflightCaps> = { name: 'preflight', commands: [preflightCommand] };
