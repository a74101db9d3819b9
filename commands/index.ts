// Every slash command the app registers; manifest.yml must list exactly these (a test checks).
import type { CommandSpec } from './command.ts';
import { containCommand } from './contain.ts';
import { incidentCommand, setHelpRegistry } from './incident.ts';
import { ledgerCommand } from './ledger.ts';
import { postmortemCommand } from './postmortem.ts';
import { sandboxCommand } from './sandbox.ts';
import { telemetryCommand } from './telemetry.ts';
import { timelineCommand } from './timeline.ts';

export const COMMANDS: CommandSpec[] = [
  incidentCommand,
  containCommand,
  telemetryCommand,
  ledgerCommand,
  sandboxCommand,
  timelineCommand,
  postmortemCommand,
];

setHelpRegistry(() => COMMANDS);

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
