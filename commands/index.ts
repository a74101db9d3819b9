// Every slash command the app registers; manifest.yml must list exactly these (a test checks).
import { breakerCommand } from './breaker.ts';
import { canaryCommand } from './canary.ts';
import type { CommandSpec } from './command.ts';
import { containCommand } from './contain.ts';
import { incidentCommand, setHelpRegistry } from './incident.ts';
import { ledgerCommand } from './ledger.ts';
import { postmortemCommand } from './postmortem.ts';
import { preflightCommand } from './preflight.ts';
import { sandboxCommand } from './sandbox.ts';
import { telemetryCommand } from './telemetry.ts';
import { timelineCommand } from './timeline.ts';

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
