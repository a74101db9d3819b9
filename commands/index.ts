// Every slash command the app registers; manifest.yml must list exactly these (a test checks).
import { breakerCommand } from '../flows/breaker/command.ts';
import { canaryCommand } from '../flows/canary/command.ts';
import type { CommandSpec } from './command.ts';
import { containCommand } from '../flows/contain/command.ts';
import { incidentCommand, setHelpRegistry } from '../flows/incident/command.ts';
import { ledgerCommand } from '../flows/ledger/command.ts';
import { postmortemCommand } from '../flows/postmortem/command.ts';
import { preflightCommand } from '../flows/preflight/command.ts';
import { sandboxCommand } from '../flows/sandbox/command.ts';
import { telemetryCommand } from '../flows/telemetry/command.ts';
import { timelineCommand } from '../flows/timeline/command.ts';

export const COMMANDS: CommandSpec[] = [
  incidentCommand,
  containCommand,
  telemetryCommand,
  ledgerCommand,
  sandboxCommand,
  breakerCommand,
  canaryCommand,
  preflightCommand,
  timelineCommand,
  postmortemCommand,
];

setHelpRegistry(() => COMMANDS);

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
